"""Developer scripts: the demo, and the child processes it and the tests start."""

"""``make bench``: the service's tasks against a no-op ceiling and the 2013 post's pattern.

Not part of the installed package: run from the project root with
``python -m benchmarks.run`` (see ``run.py``).
"""

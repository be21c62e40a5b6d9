"""The template's benchmark: a baked service against a no-op ceiling and the 2013 post.

``make bench`` (``scripts/bench.py``) bakes the default project (package
``my_service``), installs it, and runs ``python -m bench.run`` with that
project's interpreter, from that project's root, with this repository on
``PYTHONPATH``: the baked service, its ``scripts.processes`` (which starts
the worker as its demo and tests do) and this package are all importable
there, and the benchmark's worker loads ``bench.tasks`` and
``bench.post_2013`` the same way. The project's ``tests/`` is not imported:
nothing outside it imports test code.
"""

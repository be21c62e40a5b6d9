"""The database plumbing behind ``db.py``; docs/design.md explains each part."""

"""The connection budget: the most connections the deployed fleet holds, against the server's limit.

``make capacity`` (``python -m {{ cookiecutter.package_name }}.capacity``) reads the settings and
deploy/kubernetes/, counts each kind of process, and fails, naming what to change,
when the fleet at its maxima would exceed what the server accepts. What it
counts, and why, is written once: docs/deploy.md, "Connection budget".
"""

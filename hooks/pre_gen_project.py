"""Validate the answers before cookiecutter writes anything that matters.

Each rule stops generation with one line naming the field and the rule, and exit
status 1; cookiecutter then deletes the half-made project folder.
"""

import keyword
import re
import sys

# A package with one of these names would shadow a module the project installs
# (``import celery`` inside the project would find itself): the top-level
# modules of every distribution a baked project installs, in any variant (web
# frameworks included), with its dev tools, sentry-sdk and Flower. tests/test_hooks.py
# installs them and fails, naming what is missing here, when a dependency
# brings a new one.
INSTALLED_MODULES = {
    "alembic",
    "amqp",
    "annotated_doc",
    "annotated_types",
    "anyio",
    "ast_serialize",
    "billiard",
    "blinker",
    "celery",
    "certifi",
    "cffi",
    "cfgv",
    "charset_normalizer",
    "click",
    "click_didyoumean",
    "click_plugins",
    "click_repl",
    "cryptography",
    "dateutil",
    "distlib",
    "dns",
    "dotenv",
    "email_validator",
    "fastapi",
    "filelock",
    "flask",
    "flower",
    "google",
    "graphql",
    "greenlet",
    "grimp",
    "gunicorn",
    "h11",
    "harfile",
    "httpcore",
    "httpx",
    "humanize",
    "hypothesis",
    "hypothesis_graphql",
    "identify",
    "idna",
    "importlinter",
    "iniconfig",
    "itsdangerous",
    "jinja2",
    "jsonschema_rs",
    "kombu",
    "librt",
    "mako",
    "markdown_it",
    "markupsafe",
    "mdurl",
    "mypy",
    "mypy_extensions",
    "mypyc",
    "nodeenv",
    "opentelemetry",
    "packaging",
    "pathspec",
    "platformdirs",
    "pluggy",
    "pre_commit",
    "prometheus_client",
    "prompt_toolkit",
    "psutil",
    "psycopg",
    "psycopg_binary",
    "py",
    "pycparser",
    "pydantic",
    "pydantic_core",
    "pydantic_settings",
    "pygments",
    "pymysql",
    "pyrate_limiter",
    "pytest",
    "pytest_timeout",
    "python_discovery",
    "pythonjsonlogger",
    "pytz",
    "redis",
    "requests",
    "rich",
    "ruff",
    "schemathesis",
    "sentry_sdk",
    "six",
    "sortedcontainers",
    "sqlalchemy",
    "sqlalchemy_utils",
    "starlette",
    "tenacity",
    "tornado",
    "typing_extensions",
    "typing_inspection",
    "tzlocal",
    "urllib3",
    "uvicorn",
    "vine",
    "virtualenv",
    "wcwidth",
    "werkzeug",
    "wrapt",
    "yaml",
}
# The project's own top-level folders, and the name pytest reserves.
PROJECT_FOLDERS = {"docs", "migrations", "scripts", "src", "test", "tests"}
SHADOWED_NAMES = INSTALLED_MODULES | PROJECT_FOLDERS | set(sys.stdlib_module_names)

SLUG_RULE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
PACKAGE_RULE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
EMAIL_RULE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")


def check_slug(slug: str) -> str | None:
    if not SLUG_RULE.match(slug):
        return (
            f"project_slug {slug!r} must be lowercase letters and digits separated by"
            " single hyphens, starting with a letter (e.g. 'my-service')"
        )
    return None


def check_package(name: str) -> str | None:
    if not PACKAGE_RULE.match(name):
        return (
            f"package_name {name!r} must be lowercase letters and digits separated by"
            " single underscores, starting with a letter (e.g. 'my_service')"
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"package_name {name!r} is a Python keyword; choose another name"
    if name in SHADOWED_NAMES:
        return (
            f"package_name {name!r} would shadow the module or folder {name!r} that the"
            " project has; choose another name"
        )
    return None


def check_email(email: str) -> str | None:
    if not EMAIL_RULE.match(email):
        return f"author_email {email!r} is not a valid email address (name@example.com)"
    return None


def main() -> int:
    problems = [
        check_slug({{ cookiecutter.project_slug | tojson }}),
        check_package({{ cookiecutter.package_name | tojson }}),
        check_email({{ cookiecutter.author_email | tojson }}),
    ]
    for problem in problems:
        if problem:
            print(f"ERROR: {problem}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

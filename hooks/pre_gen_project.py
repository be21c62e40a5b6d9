"""Validate the answers before cookiecutter writes anything that matters.

Each rule stops generation with one line naming the field and the rule, and exit
status 1; cookiecutter then deletes the half-made project folder.
"""

import keyword
import re
import sys

# Names the generated project imports or runs: a package with one of these names
# would shadow it (``import celery`` inside the project would find itself).
SHADOWED_NAMES = {
    "alembic",
    "amqp",
    "billiard",
    "celery",
    "flower",
    "kombu",
    "mypy",
    "psycopg",
    "pydantic",
    "pydantic_settings",
    "pymysql",
    "pytest",
    "redis",
    "ruff",
    "sqlalchemy",
    "tenacity",
    "test",
    "tests",
    "vine",
} | set(sys.stdlib_module_names)

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
            f"package_name {name!r} would shadow the module {name!r} that the project"
            " imports; choose another name"
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

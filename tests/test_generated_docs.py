"""The baked README and docs read as if written by hand, and name only what exists.

Every option value renders them differently; each rendering is checked for
the seams Jinja leaves (a heading glued to a paragraph, doubled blank lines, a
line broken off short or run long), and for file names that are not there.
"""

import ast
import io
import re
import tokenize
from pathlib import Path
from typing import Any

import pytest

from .conftest import Bake, variants

SHORTEST_WRAPPED_LINE = 45
LONGEST_PROSE_LINE = 100
LIST_ITEM = re.compile(r"\s*([-*]|\d+\.) ")


def seams(text: str) -> list[str]:
    """Where ``text`` shows it was assembled: each problem with its line number."""
    problems: list[str] = []
    lines = text.splitlines()
    paragraph: list[tuple[int, str]] = []

    def end_paragraph() -> None:
        for number, line in paragraph[:-1]:
            if len(line) < SHORTEST_WRAPPED_LINE:
                problems.append(f"{number}: a line broken off short: {line!r}")
        for number, line in paragraph:
            if len(line) > LONGEST_PROSE_LINE and "http" not in line:
                problems.append(f"{number}: a prose line of {len(line)} characters")
        paragraph.clear()

    in_code = False
    for number, line in enumerate(lines, 1):
        before = lines[number - 2] if number > 1 else ""
        if line.startswith("```"):
            in_code = not in_code
            end_paragraph()
        elif in_code:
            continue
        elif line == "" and before == "" and number > 1:
            problems.append(f"{number}: two blank lines")
        elif line.startswith("#"):
            after = lines[number] if number < len(lines) else ""
            if before or after:
                problems.append(f"{number}: heading {line!r} glued to the text beside it")
            end_paragraph()
        elif not line.strip() or line.startswith("|"):
            end_paragraph()
        else:
            if LIST_ITEM.match(line):
                end_paragraph()
            paragraph.append((number, line))
    end_paragraph()
    return problems


def documents(project: Path) -> list[Path]:
    return [project / "README.md", *sorted((project / "docs").glob("*.md"))]


@pytest.mark.parametrize("answers", variants())
def test_readme_and_docs_have_no_seams(bake: Bake, answers: dict[str, Any]) -> None:
    project = bake(**answers)

    found = {
        str(path.relative_to(project)): problems
        for path in documents(project)
        if (problems := seams(path.read_text()))
    }

    assert found == {}


def test_the_seam_finder_finds_seams() -> None:
    glued = "# Title\n\nSome text that runs on for a while, as prose does.\n## Web API\n\ntext\n"
    ragged = "A paragraph whose first line is long enough, and then\n(PostgreSQL with\nthe rest.\n"
    doubled = "One.\n\n\nTwo.\n"

    assert seams(glued) == ["4: heading '## Web API' glued to the text beside it"]
    assert seams(ragged) == ["2: a line broken off short: '(PostgreSQL with'"]
    assert seams(doubled) == ["3: two blank lines"]


# `tests/test_celery.py`, `database/connection_checks.py`, `db.py`.
NAMED_FILE = re.compile(r"`([\w./-]+\.py)`")


@pytest.mark.parametrize("answers", variants())
def test_every_file_the_docs_name_exists(bake: Bake, answers: dict[str, Any]) -> None:
    project = bake(**answers)
    files = [str(path.relative_to(project)) for path in project.rglob("*.py")]

    missing = {
        f"{document.name}: {name}"
        for document in documents(project)
        for name in NAMED_FILE.findall(document.read_text())
        if not any(file == name or file.endswith(f"/{name}") for file in files)
    }

    assert missing == set()


MOST_COMMENT_SHARE = 0.25


def comment_lines(source: str) -> tuple[int, int]:
    """(lines that are comments or docstrings, non-blank lines) in one module."""
    lines = source.splitlines()
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                docstrings |= set(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    comments = {
        token.start[0]
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT and lines[token.start[0] - 1].lstrip().startswith("#")
    }
    non_blank = {number for number, line in enumerate(lines, 1) if line.strip()}
    return len((docstrings | comments) & non_blank), len(non_blank)


@pytest.mark.parametrize("answers", [{}, {"web": "flask"}, {"web": "none"}])
def test_comments_say_why_without_outweighing_the_code(bake: Bake, answers: dict[str, Any]) -> None:
    project = bake(**answers)
    counts = [comment_lines(path.read_text()) for path in (project / "src").rglob("*.py")]

    comments, non_blank = map(sum, zip(*counts, strict=True))

    print(f"{answers}: {comments} of {non_blank} non-blank lines are comments or docstrings")
    assert comments / non_blank <= MOST_COMMENT_SHARE


def test_the_comment_count_sees_comments_and_docstrings() -> None:
    source = (
        '"""Module."""\n\n# why\nx = 1  # not a line of its own\n\n\n'
        'def f() -> None:\n    """Doc\n    string."""\n'
    )

    assert comment_lines(source) == (4, 6)


# `db.end_session()`, `forget_inherited_pool`, `TASK_MAX_RETRIES`, `outbox.commands`.
NAMED_CODE = re.compile(r"`([A-Za-z_][\w.]*)(?:\([^`]*\))?`")
# Names of settings: each must be a field of config.Settings in that bake.
SETTING = re.compile(
    r"^(DATABASE|DB|CELERY|TASK|LOG|METRICS|HEARTBEAT|OUTBOX|COUNT|MIGRATION|IDEMPOTENCY)_[A-Z_]+$"
)


def defined_names(module: Path) -> set[str]:
    """Top-level functions, classes and assignments of one module."""
    names: set[str] = set()
    for node in ast.parse(module.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {target.id for target in targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
    return names


def settings_fields(package: Path) -> set[str]:
    """The fields of config.py's Settings and of the broker's mixin it inherits."""
    fields = set()
    for module, name in (("config.py", "Settings"), ("broker_settings.py", "BrokerSettings")):
        tree = ast.parse((package / module).read_text())
        settings = next(
            node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == name
        )
        fields |= {
            node.target.id.upper()
            for node in settings.body
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
        }
    return fields


# What the docs name of Celery, SQLAlchemy, RabbitMQ and OpenTelemetry: their
# settings and errors, which the service's code need not spell out.
OTHER_PROJECTS_NAMES = {
    "DetachedInstanceError",
    "broker_connection_retry",
    "consumer_timeout",
    "parentbased_traceidratio",
    "rabbitmq.conf",
    "task_always_eager",
}
FILE_SUFFIX = re.compile(r"\.(py|ya?ml|toml|ini|json|cfg|conf|txt|mako)$")
# `def ship_order(` in a document's own example, or the table of its model
# (`__tablename__ = "orders"`): a name the reader writes.
EXAMPLE_DEFINITION = re.compile(
    r'^\s*__tablename__\s*=\s*"(\w+)"|^\s*(?:def|class)\s+(\w+)|^\s*(\w+)\s*=', re.MULTILINE
)


def missing_code_names(project: Path, package: Path, text: str) -> set[str]:
    """Names in backquotes that the bake does not have.

    A dotted name whose first part is a module of the package (``db.end_session``)
    must be defined there; a setting's name must be a field of ``Settings``; a
    file name must be a file of the bake; any other name must appear as a word
    in a file of the bake that is not a document, or be defined in the
    document's own examples, or be another project's (``OTHER_PROJECTS_NAMES``).
    """
    files = [path for path in project.rglob("*") if path.is_file() and ".venv" not in path.parts]
    corpus = "\n".join(path.read_text(errors="ignore") for path in files if path.suffix != ".md")
    words = set(re.findall(r"\w+", corpus))
    words |= {name for match in EXAMPLE_DEFINITION.findall(text) for name in match if name}
    words |= OTHER_PROJECTS_NAMES
    file_names = {path.name for path in files}
    fields = settings_fields(package)
    missing = set()
    for name in set(NAMED_CODE.findall(text)):
        if name.endswith("_") or name in OTHER_PROJECTS_NAMES:
            continue  # a prefix (`KEDA_`, `OTEL_`), or another project's name
        if FILE_SUFFIX.search(name):
            if not name.endswith(".py") and name.split("/")[-1] not in file_names:
                missing.add(name)
            continue  # .py files: test_every_file_the_docs_name_exists
        first, *rest = name.split(".")
        module = package / f"{first}.py"
        if not module.exists():
            module = package / first / "__init__.py"
        if rest and module.exists() and first != package.name:
            attribute = rest[0]
            submodule = package / first / f"{attribute}.py"
            if attribute not in defined_names(module) and not submodule.exists():
                missing.add(name)
        elif SETTING.match(name):
            if name not in fields:
                missing.add(name)
        elif first not in words:
            missing.add(name)
    return missing


@pytest.mark.parametrize("answers", variants())
def test_every_module_function_and_setting_the_docs_name_exists(
    bake: Bake, answers: dict[str, Any]
) -> None:
    project = bake(**answers)
    package = project / "src" / "my_service"

    missing = {
        f"{document.name}: {name}"
        for document in documents(project)
        for name in missing_code_names(project, package, document.read_text())
    }

    assert missing == set()


def test_the_name_check_finds_names_that_are_gone(bake: Bake) -> None:
    project = bake()
    package = project / "src" / "my_service"
    text = (
        "`db.discard_interrupted_connections`, `db.end_session()`, `TASK_MAX_RETRIES`,"
        " `TASK_NO_SUCH_SETTING`, `no_such_function`, `forget_inherited_pool`"
    )

    assert missing_code_names(project, package, text) == {
        "db.discard_interrupted_connections",
        "TASK_NO_SUCH_SETTING",
        "no_such_function",
    }

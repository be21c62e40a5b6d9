"""``python -m {{ cookiecutter.package_name }}.capacity`` (``make capacity``): print the connection budget.

Exit status 1, naming what to change, when the fleet at its maxima would hold
more connections than the server accepts (docs/deploy.md, "Connection budget").
"""

import argparse
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from ..config import settings
from .fleet import Holding, direct_total, holdings
from .manifests import ManifestError, Manifests
{%- if cookiecutter.database == 'postgresql' %}
from .pgbouncer import behind_pgbouncer, pooler
{%- endif %}
from .server import server_limits

PROG = "python -m {{ cookiecutter.package_name }}.capacity"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    parser.add_argument(
        "--manifests",
        type=Path,
        default=Path("deploy") / "kubernetes",
        help="the kustomization's folder (default: deploy/kubernetes)",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        help="the server's max_connections; without it, read from the server",
    )
    parser.add_argument(
        "--reserved", type=int, help="with --max-connections: how many of them are reserved"
    )
    options = parser.parse_args(argv)
    if (options.max_connections is None) != (options.reserved is None):
        parser.error("give --max-connections and --reserved together, or neither")
    try:
        manifests = Manifests.load(options.manifests)
        found = holdings(manifests)
{%- if cookiecutter.database == 'postgresql' %}
        pgbouncer = pooler(manifests)
{%- endif %}
    except ManifestError as error:
        parser.exit(2, f"{PROG}: {error}\n")
    if options.max_connections is None:
        try:
            maximum, reserved = server_limits(direct_url())
        except SQLAlchemyError as error:
            reason = getattr(error, "orig", None) or error
            parser.exit(
                2,
                f"{PROG}: cannot read max_connections from the server ({reason});"
                " give --max-connections and --reserved instead\n",
            )
    else:
        maximum, reserved = options.max_connections, options.reserved
    usable = maximum - reserved
    print(table(found))
    print(f"\nThe server accepts {usable}: max_connections {maximum} - {reserved} reserved.")
{%- if cookiecutter.database == 'postgresql' %}
    if pgbouncer is not None:
        alone = direct_total(found)
        verdict = "within" if alone <= usable else "over"
        print(f"Without PgBouncer the server would see {alone}: {verdict} budget.")
        problems = behind_pgbouncer(found, pgbouncer, usable)
    else:
        problems = direct(found, usable)
{%- else %}
    problems = direct(found, usable)
{%- endif %}
    for problem in problems:
        print(f"\nOVER BUDGET: {problem}")
    if not problems:
        print("\nWithin budget.")
    return 1 if problems else 0


def direct_url() -> str:
    """Where the server itself answers, past any pooler (``direct_database_url``)."""
    return settings.direct_database_url


# Laid out by hand: a few fixed columns need no table library.
COLUMNS = ("kind", "per pod", "made of", "pods", "in a rollout", "connections", "pods set by")


def table(found: list[Holding]) -> str:
    rows = [COLUMNS] + [
        (
            holding.kind,
            str(holding.per_pod),
            holding.how,
            str(holding.scale.pods),
            str(holding.rollout_pods),
            str(holding.connections),
            holding.scale.set_by,
        )
        for holding in found
    ]
    rows.append(("total", "", "", "", "", str(direct_total(found)), ""))
    widths = [max(len(row[column]) for row in rows) for column in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def direct(found: list[Holding], usable: int) -> list[str]:
    total = direct_total(found)
    print(f"Every process connects to the server: {total} at most.")
    if total <= usable:
        return []
    largest = sorted(found, key=lambda holding: holding.connections, reverse=True)
    lower = ", ".join(
        f"{holding.scale.set_by} ({holding.kind}: {holding.connections})"
        for holding in largest
        if holding.connections > 1
    )
    return [
        f"the fleet may hold {total} connections, {total - usable} more than the server"
        f" accepts. Lower {lower}; or DB_POOL_SIZE and DB_MAX_OVERFLOW in config.yaml;"
        " or raise the server's max_connections."
    ]


if __name__ == "__main__":
    raise SystemExit(main())

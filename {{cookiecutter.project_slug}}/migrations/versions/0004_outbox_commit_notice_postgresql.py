"""PostgreSQL: announce committed outbox messages, so the relay wakes at once (outbox/wakeup.py).

A statement-level trigger: one NOTIFY per INSERT statement, however many rows,
and PostgreSQL folds identical notices of one transaction into one, sent at
commit. SQLite (embedded mode) has no such notice; there this revision does
nothing.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION notify_outbox_messages() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('outbox_messages', '');
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER outbox_messages_notify AFTER INSERT ON outbox_messages"
        " FOR EACH STATEMENT EXECUTE FUNCTION notify_outbox_messages()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER outbox_messages_notify ON outbox_messages")
    op.execute("DROP FUNCTION notify_outbox_messages()")

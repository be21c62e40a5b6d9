"""Outbox attempts, last error and dead letters; the relay's index covers them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_index("ix_outbox_messages_unsent")
        batch_op.create_index("ix_outbox_messages_unsent", ["sent_at", "dead_at", "id"])


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch_op:
        batch_op.drop_index("ix_outbox_messages_unsent")
        batch_op.create_index("ix_outbox_messages_unsent", ["sent_at", "id"])
        batch_op.drop_column("dead_at")
        batch_op.drop_column("last_error")
        batch_op.drop_column("attempts")

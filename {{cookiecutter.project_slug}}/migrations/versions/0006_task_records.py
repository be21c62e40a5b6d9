"""Create task_records: one row per message a once=True task committed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task_records",
        sa.Column("task_id", sa.String(length=255), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_task_records")),
    )
    op.create_index(op.f("ix_task_records_created_at"), "task_records", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_task_records_created_at"), table_name="task_records")
    op.drop_table("task_records")

"""web form rate-limit counters

Revision ID: 0007
Revises: 0001
Create Date: 2026-12-03 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_rate_counter",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("period", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "period", name=op.f("pk_web_rate_counter")),
    )


def downgrade() -> None:
    op.drop_table("web_rate_counter")

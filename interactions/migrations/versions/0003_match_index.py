"""match index: partner birth date, match records and lookup keys

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-03 19:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("partner") as batch:
        batch.add_column(sa.Column("birth_date", sa.Date(), nullable=True))
    op.create_table(
        "match_record",
        sa.Column("partner_id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partner.id"],
            name=op.f("fk_match_record_partner_id_partner"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("partner_id", name=op.f("pk_match_record")),
    )
    op.create_table(
        "match_key",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("partner_id", BIG_ID, autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partner.id"],
            name=op.f("fk_match_key_partner_id_partner"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", "partner_id", name=op.f("pk_match_key")),
    )
    op.create_index("ix_match_key_partner_id", "match_key", ["partner_id"])


def downgrade() -> None:
    op.drop_index("ix_match_key_partner_id", table_name="match_key")
    op.drop_table("match_key")
    op.drop_table("match_record")
    with op.batch_alter_table("partner") as batch:
        batch.drop_column("birth_date")

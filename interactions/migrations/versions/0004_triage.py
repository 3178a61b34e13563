"""triage: category code list, urgency rules, triage reviews, vulnerable-customer flag

Revision ID: 0004
Revises: 0001
Create Date: 2026-12-03 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import interactions.types
from interactions.triage.defaults import CATEGORIES, RULES

revision: str = "0004"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    category = op.create_table(
        "triage_category",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_sl", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("ticket_kind", sa.String(length=20), nullable=False),
        sa.Column("queue_code", sa.String(length=40), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("opens_ticket", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_triage_category")),
    )
    rule = op.create_table(
        "triage_rule",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("phrases", JSON, nullable=False),
        sa.Column("categories", JSON, nullable=False),
        sa.Column("within_days", sa.Integer(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_triage_rule")),
    )
    op.create_table(
        "triage_review",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("external_id", sa.String(length=400), nullable=False),
        sa.Column("predicted_category", sa.String(length=40), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("model_version", sa.String(length=40), nullable=True),
        sa.Column("created_at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("decided_category", sa.String(length=40), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", interactions.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("details", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_review")),
        sa.UniqueConstraint(
            "channel", "external_id", name=op.f("uq_triage_review_channel_external_id")
        ),
    )
    op.create_index("ix_triage_review_decided_at", "triage_review", ["decided_at"])
    with op.batch_alter_table("partner", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("vulnerable", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    # The shipped code list and rules; from here on they are the administrators' data.
    op.bulk_insert(category, CATEGORIES)
    op.bulk_insert(rule, [{**r, "active": True} for r in RULES])


def downgrade() -> None:
    with op.batch_alter_table("partner", schema=None) as batch_op:
        batch_op.drop_column("vulnerable")
    op.drop_index("ix_triage_review_decided_at", table_name="triage_review")
    op.drop_table("triage_review")
    op.drop_table("triage_rule")
    op.drop_table("triage_category")

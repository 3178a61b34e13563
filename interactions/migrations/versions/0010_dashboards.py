"""dashboards: one row of counted figures per inbound contact; tickets by entity and time

Revision ID: 0010
Revises: 0005
Create Date: 2026-12-04 04:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import interactions.types

revision: str = "0010"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dash_contact",
        sa.Column("activity_id", BIG_ID, nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("legal_entity", sa.String(length=16), nullable=True),
        sa.Column("queue_id", sa.Integer(), nullable=True),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("employee_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("occurred_at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("repeat_until", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("repeated", sa.Boolean(), nullable=False),
        sa.Column("local_day", sa.Date(), nullable=False),
        sa.Column("local_hour", sa.SmallInteger(), nullable=False),
        sa.Column("local_slot", sa.SmallInteger(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("queued", sa.Boolean(), nullable=False),
        sa.Column("answered_at", interactions.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", interactions.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("wait_seconds", sa.Float(), nullable=True),
        sa.Column("talk_seconds", sa.Float(), nullable=True),
        sa.Column("wrap_up_seconds", sa.Float(), nullable=True),
        sa.Column("updated_at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activity.id"],
            name=op.f("fk_dash_contact_activity_id_activity"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("activity_id", name=op.f("pk_dash_contact")),
    )
    with op.batch_alter_table("dash_contact", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dash_contact_entity_day", ["legal_entity", "local_day", "channel"], unique=False
        )
        batch_op.create_index("ix_dash_contact_queue_day", ["queue_id", "local_day"], unique=False)
        batch_op.create_index(
            "ix_dash_contact_employee_day", ["employee_id", "local_day"], unique=False
        )
        batch_op.create_index(
            "ix_dash_contact_partner_occurred", ["partner_id", "occurred_at"], unique=False
        )
        batch_op.create_index(
            "ix_dash_contact_outcome_occurred", ["outcome", "occurred_at"], unique=False
        )
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ticket_entity_created_queue",
            ["legal_entity", "created_at", "queue_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_ticket_status_entity_queue",
            ["status", "legal_entity", "queue_id", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_status_entity_queue")
        batch_op.drop_index("ix_ticket_entity_created_queue")
    with op.batch_alter_table("dash_contact", schema=None) as batch_op:
        batch_op.drop_index("ix_dash_contact_outcome_occurred")
        batch_op.drop_index("ix_dash_contact_partner_occurred")
        batch_op.drop_index("ix_dash_contact_employee_day")
        batch_op.drop_index("ix_dash_contact_queue_day")
        batch_op.drop_index("ix_dash_contact_entity_day")
    op.drop_table("dash_contact")

"""email channel tables: mailbox positions, outgoing mail, auto-reply log, failing addresses

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-03 19:08:09.984791
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import interactions.types

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "email_auto_reply",
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("last_sent_at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_email_auto_reply")),
    )
    op.create_table(
        "email_mailbox_state",
        sa.Column("mailbox", sa.String(length=100), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("mailbox", name=op.f("pk_email_mailbox_state")),
    )
    op.create_table(
        "email_failing_address",
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("failed_at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("bounce_count", sa.Integer(), nullable=False),
        sa.Column(
            "activity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activity.id"],
            name=op.f("fk_email_failing_address_activity_id_activity"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_email_failing_address")),
    )
    op.create_table(
        "email_outgoing",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("message_id", sa.String(length=400), nullable=False),
        sa.Column(
            "activity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column(
            "recipients",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", interactions.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activity.id"],
            name=op.f("fk_email_outgoing_activity_id_activity"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["raw_sha256"], ["blob.sha256"], name=op.f("fk_email_outgoing_raw_sha256_blob")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_email_outgoing_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_outgoing")),
        sa.UniqueConstraint("message_id", name=op.f("uq_email_outgoing_message_id")),
    )
    with op.batch_alter_table("email_outgoing", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_email_outgoing_activity_id"), ["activity_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_email_outgoing_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_email_outgoing_ticket_id"), ["ticket_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("email_outgoing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_outgoing_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_email_outgoing_status"))
        batch_op.drop_index(batch_op.f("ix_email_outgoing_activity_id"))

    op.drop_table("email_outgoing")
    op.drop_table("email_failing_address")
    op.drop_table("email_mailbox_state")
    op.drop_table("email_auto_reply")

"""agent workspace: sessions, presence, pushed events, ticket history, reply templates

Revision ID: 0008
Revises: 0001
Create Date: 2026-12-03 19:15:05.340845
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import interactions.types

revision: str = "0008"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failure",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failure")),
    )
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.create_index("ix_login_failure_address_at", ["address", "at"], unique=False)
        batch_op.create_index("ix_login_failure_login_at", ["login", "at"], unique=False)

    op.create_table(
        "reply_template",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("legal_entity", sa.String(length=16), nullable=True),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["legal_entity"],
            ["legal_entity.code"],
            name=op.f("fk_reply_template_legal_entity_legal_entity"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply_template")),
    )
    with op.batch_alter_table("reply_template", schema=None) as batch_op:
        batch_op.create_index("ix_reply_template_code_language", ["code", "language"], unique=False)

    op.create_table(
        "agent_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "employee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employee.id"],
            name=op.f("fk_agent_event_employee_id_employee"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_event")),
    )
    with op.batch_alter_table("agent_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_event_at"), ["at"], unique=False)
        batch_op.create_index("ix_agent_event_employee_id_id", ["employee_id", "id"], unique=False)

    op.create_table(
        "agent_preference",
        sa.Column(
            "employee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("ui_language", sa.String(length=5), nullable=False),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employee.id"],
            name=op.f("fk_agent_preference_employee_id_employee"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("employee_id", name=op.f("pk_agent_preference")),
    )
    op.create_table(
        "agent_presence",
        sa.Column(
            "employee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("since", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employee.id"],
            name=op.f("fk_agent_presence_employee_id_employee"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("employee_id", name=op.f("pk_agent_presence")),
    )
    op.create_table(
        "web_session",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "employee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employee.id"],
            name=op.f("fk_web_session_employee_id_employee"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_web_session")),
    )
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_session_employee_id"), ["employee_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_web_session_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "ticket_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "employee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=True),
        sa.Column("old_value", sa.String(length=200), nullable=True),
        sa.Column("new_value", sa.String(length=200), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["employee.id"], name=op.f("fk_ticket_event_employee_id_employee")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_ticket_event_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_event")),
    )
    with op.batch_alter_table("ticket_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_event_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "match_correction",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "employee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "activity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "old_partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "new_partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "old_metering_point_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column(
            "new_metering_point_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("match_outcome", sa.String(length=12), nullable=True),
        sa.Column("match_score", sa.Double(), nullable=True),
        sa.Column(
            "match_reasons",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activity.id"],
            name=op.f("fk_match_correction_activity_id_activity"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["employee.id"], name=op.f("fk_match_correction_employee_id_employee")
        ),
        sa.ForeignKeyConstraint(
            ["new_metering_point_id"],
            ["metering_point.id"],
            name=op.f("fk_match_correction_new_metering_point_id_metering_point"),
        ),
        sa.ForeignKeyConstraint(
            ["new_partner_id"],
            ["partner.id"],
            name=op.f("fk_match_correction_new_partner_id_partner"),
        ),
        sa.ForeignKeyConstraint(
            ["old_metering_point_id"],
            ["metering_point.id"],
            name=op.f("fk_match_correction_old_metering_point_id_metering_point"),
        ),
        sa.ForeignKeyConstraint(
            ["old_partner_id"],
            ["partner.id"],
            name=op.f("fk_match_correction_old_partner_id_partner"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_match_correction_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_correction")),
    )
    with op.batch_alter_table("match_correction", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_match_correction_activity_id"), ["activity_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_match_correction_ticket_id"), ["ticket_id"], unique=False
        )

    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.create_index(
            "ix_activity_partner_id_occurred_at", ["partner_id", "occurred_at"], unique=False
        )

    templates = sa.table(
        "reply_template",
        sa.column("code", sa.String),
        sa.column("language", sa.String),
        sa.column("name", sa.String),
        sa.column("subject", sa.String),
        sa.column("body", sa.String),
    )
    # Starting texts for both legal entities; administrators edit and add their own.
    op.bulk_insert(templates, TEMPLATES)


TEMPLATES = [
    {
        "code": "acknowledge",
        "language": "sl",
        "name": "Potrditev prejema",
        "subject": "Re: {subject} [#{ticket_number}]",
        "body": (
            "Spoštovani {customer_name},\n\n"
            "vaše sporočilo smo prejeli in ga vodimo pod številko {ticket_number}. "
            "Odgovorili vam bomo v najkrajšem možnem času.\n\n"
            "Lep pozdrav,\n{agent_name}"
        ),
    },
    {
        "code": "acknowledge",
        "language": "en",
        "name": "Acknowledgement",
        "subject": "Re: {subject} [#{ticket_number}]",
        "body": (
            "Dear {customer_name},\n\n"
            "we have received your message and filed it under number {ticket_number}. "
            "We will answer as soon as we can.\n\n"
            "Kind regards,\n{agent_name}"
        ),
    },
    {
        "code": "meter_reading",
        "language": "sl",
        "name": "Stanje števca prejeto",
        "subject": "Re: {subject} [#{ticket_number}]",
        "body": (
            "Spoštovani {customer_name},\n\n"
            "stanje števca za merilno mesto {metering_point} smo prejeli in ga bomo "
            "upoštevali pri naslednjem obračunu.\n\n"
            "Lep pozdrav,\n{agent_name}"
        ),
    },
    {
        "code": "meter_reading",
        "language": "en",
        "name": "Meter reading received",
        "subject": "Re: {subject} [#{ticket_number}]",
        "body": (
            "Dear {customer_name},\n\n"
            "we have received the meter reading for metering point {metering_point} and "
            "will use it for the next bill.\n\n"
            "Kind regards,\n{agent_name}"
        ),
    },
]


def downgrade() -> None:
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_partner_id_occurred_at")

    with op.batch_alter_table("match_correction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_correction_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_match_correction_activity_id"))

    op.drop_table("match_correction")
    with op.batch_alter_table("ticket_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_event_ticket_id"))

    op.drop_table("ticket_event")
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_session_expires_at"))
        batch_op.drop_index(batch_op.f("ix_web_session_employee_id"))

    op.drop_table("web_session")
    op.drop_table("agent_presence")
    op.drop_table("agent_preference")
    with op.batch_alter_table("agent_event", schema=None) as batch_op:
        batch_op.drop_index("ix_agent_event_employee_id_id")
        batch_op.drop_index(batch_op.f("ix_agent_event_at"))

    op.drop_table("agent_event")
    with op.batch_alter_table("reply_template", schema=None) as batch_op:
        batch_op.drop_index("ix_reply_template_code_language")

    op.drop_table("reply_template")
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.drop_index("ix_login_failure_login_at")
        batch_op.drop_index("ix_login_failure_address_at")

    op.drop_table("login_failure")

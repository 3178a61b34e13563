"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-12-03 18:58:38.693182
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import interactions.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "blob",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_blob")),
    )
    op.create_table(
        "calendar",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("holiday_country", sa.String(length=2), nullable=True),
        sa.Column(
            "hours",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar")),
        sa.UniqueConstraint("code", name=op.f("uq_calendar_code")),
    )
    op.create_table(
        "legal_entity",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("brand", sa.String(length=100), nullable=False),
        sa.Column("sender_address", sa.String(length=320), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_legal_entity")),
    )
    op.create_table(
        "metering_point",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("eimm", sa.String(length=10), nullable=False),
        sa.Column("gsrn", sa.String(length=18), nullable=True),
        sa.Column("street", sa.String(length=200), nullable=True),
        sa.Column("house_number", sa.String(length=20), nullable=True),
        sa.Column("postcode", sa.String(length=4), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("dso_area", sa.String(length=40), nullable=True),
        sa.Column("connection_power_kw", sa.Numeric(precision=9, scale=2), nullable=True),
        sa.Column("tariff_model", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metering_point")),
        sa.UniqueConstraint("eimm", name=op.f("uq_metering_point_eimm")),
        sa.UniqueConstraint("gsrn", name=op.f("uq_metering_point_gsrn")),
    )
    op.create_table(
        "partner",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("external_id", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("organisation_name", sa.String(length=300), nullable=True),
        sa.Column("tax_number", sa.String(length=8), nullable=True),
        sa.Column("registration_number", sa.String(length=10), nullable=True),
        sa.Column("emso", sa.String(length=13), nullable=True),
        sa.Column("segment", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column(
            "merged_into_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "first_name IS NOT NULL OR last_name IS NOT NULL OR organisation_name IS NOT NULL OR external_id IS NOT NULL",
            name=op.f("ck_partner_named"),
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"], ["partner.id"], name=op.f("fk_partner_merged_into_id_partner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner")),
        sa.UniqueConstraint("external_id", name=op.f("uq_partner_external_id")),
        sa.UniqueConstraint("tax_number", name=op.f("uq_partner_tax_number")),
    )
    op.create_table(
        "sla_policy",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("ticket_kind", sa.String(length=20), nullable=True),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("segment", sa.String(length=16), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=True),
        sa.Column("first_response_minutes", sa.Integer(), nullable=True),
        sa.Column("next_response_minutes", sa.Integer(), nullable=True),
        sa.Column("resolution_minutes", sa.Integer(), nullable=True),
        sa.Column("business_hours", sa.Boolean(), nullable=False),
        sa.Column("answer_target_seconds", sa.Integer(), nullable=True),
        sa.Column("answer_target_share", sa.Numeric(precision=4, scale=3), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policy")),
        sa.UniqueConstraint("code", name=op.f("uq_sla_policy_code")),
    )
    op.create_table(
        "ticket_sequence",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_ticket_sequence")),
    )
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.String(length=40), nullable=False),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("legal_entity", sa.String(length=16), nullable=True),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_audit_entry_partner_id_partner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_entry_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_entry_partner_id"), ["partner_id"], unique=False)

    op.create_table(
        "contact_point",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=400), nullable=False),
        sa.Column("display", sa.String(length=400), nullable=True),
        sa.Column("street", sa.String(length=200), nullable=True),
        sa.Column("house_number", sa.String(length=20), nullable=True),
        sa.Column("postcode", sa.String(length=4), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partner.id"],
            name=op.f("fk_contact_point_partner_id_partner"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_point")),
        sa.UniqueConstraint(
            "partner_id", "kind", "value", name=op.f("uq_contact_point_partner_id_kind_value")
        ),
    )
    with op.batch_alter_table("contact_point", schema=None) as batch_op:
        batch_op.create_index("ix_contact_point_kind_value", ["kind", "value"], unique=False)

    op.create_table(
        "contract",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("legal_entity", sa.String(length=16), nullable=False),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("product", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["legal_entity"],
            ["legal_entity.code"],
            name=op.f("fk_contract_legal_entity_legal_entity"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_contract_partner_id_partner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract")),
        sa.UniqueConstraint("number", name=op.f("uq_contract_number")),
    )
    with op.batch_alter_table("contract", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contract_partner_id"), ["partner_id"], unique=False)

    op.create_table(
        "employee",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("org_unit", sa.String(length=16), nullable=False),
        sa.Column("legal_entity", sa.String(length=16), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column(
            "skills",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "languages",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "capacity",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["legal_entity"],
            ["legal_entity.code"],
            name=op.f("fk_employee_legal_entity_legal_entity"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employee")),
        sa.UniqueConstraint("login", name=op.f("uq_employee_login")),
    )
    op.create_table(
        "meter_device",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "metering_point_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=60), nullable=True),
        sa.Column(
            "registers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("installed_on", sa.Date(), nullable=True),
        sa.Column("removed_on", sa.Date(), nullable=True),
        sa.Column(
            "last_reading",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("last_reading_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["metering_point_id"],
            ["metering_point.id"],
            name=op.f("fk_meter_device_metering_point_id_metering_point"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_device")),
    )
    with op.batch_alter_table("meter_device", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_meter_device_metering_point_id"), ["metering_point_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_meter_device_serial"), ["serial"], unique=False)

    op.create_table(
        "offer",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("legal_entity", sa.String(length=16), nullable=False),
        sa.Column("product", sa.String(length=100), nullable=False),
        sa.Column("price_eur_kwh", sa.Numeric(precision=10, scale=5), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["legal_entity"], ["legal_entity.code"], name=op.f("fk_offer_legal_entity_legal_entity")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_offer_partner_id_partner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer")),
    )
    with op.batch_alter_table("offer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_offer_partner_id"), ["partner_id"], unique=False)

    op.create_table(
        "queue",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("legal_entity", sa.String(length=16), nullable=False),
        sa.Column("org_unit", sa.String(length=16), nullable=False),
        sa.Column(
            "channels",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "skills",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "calendar_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "sla_policy_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "rules",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["calendar_id"], ["calendar.id"], name=op.f("fk_queue_calendar_id_calendar")
        ),
        sa.ForeignKeyConstraint(
            ["legal_entity"], ["legal_entity.code"], name=op.f("fk_queue_legal_entity_legal_entity")
        ),
        sa.ForeignKeyConstraint(
            ["sla_policy_id"], ["sla_policy.id"], name=op.f("fk_queue_sla_policy_id_sla_policy")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue")),
        sa.UniqueConstraint("code", name=op.f("uq_queue_code")),
    )
    op.create_table(
        "contract_metering_point",
        sa.Column(
            "contract_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "metering_point_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contract.id"],
            name=op.f("fk_contract_metering_point_contract_id_contract"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["metering_point_id"],
            ["metering_point.id"],
            name=op.f("fk_contract_metering_point_metering_point_id_metering_point"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "contract_id", "metering_point_id", name=op.f("pk_contract_metering_point")
        ),
    )
    op.create_table(
        "opportunity",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("legal_entity", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("expected_value_eur", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["legal_entity"],
            ["legal_entity.code"],
            name=op.f("fk_opportunity_legal_entity_legal_entity"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["employee.id"], name=op.f("fk_opportunity_owner_id_employee")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_opportunity_partner_id_partner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunity")),
    )
    with op.batch_alter_table("opportunity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opportunity_partner_id"), ["partner_id"], unique=False)

    op.create_table(
        "partner_role",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column(
            "metering_point_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "contract_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "for_partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "metering_point_id IS NOT NULL OR contract_id IS NOT NULL OR for_partner_id IS NOT NULL",
            name=op.f("ck_partner_role_has_object"),
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from",
            name=op.f("ck_partner_role_period"),
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contract.id"],
            name=op.f("fk_partner_role_contract_id_contract"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["for_partner_id"], ["partner.id"], name=op.f("fk_partner_role_for_partner_id_partner")
        ),
        sa.ForeignKeyConstraint(
            ["metering_point_id"],
            ["metering_point.id"],
            name=op.f("fk_partner_role_metering_point_id_metering_point"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partner.id"],
            name=op.f("fk_partner_role_partner_id_partner"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_role")),
    )
    with op.batch_alter_table("partner_role", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_partner_role_contract_id"), ["contract_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_partner_role_for_partner_id"), ["for_partner_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_partner_role_metering_point_id"), ["metering_point_id"], unique=False
        )
        batch_op.create_index("ix_partner_role_partner_id", ["partner_id"], unique=False)

    op.create_table(
        "ticket",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.String(length=11), nullable=False),
        sa.Column("legal_entity", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column("queue_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "assignee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "metering_point_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "first_response_due", interactions.types.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("resolution_due", interactions.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column(
            "first_responded_at", interactions.types.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("resolved_at", interactions.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", interactions.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column(
            "breaches",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["employee.id"], name=op.f("fk_ticket_assignee_id_employee")
        ),
        sa.ForeignKeyConstraint(
            ["legal_entity"],
            ["legal_entity.code"],
            name=op.f("fk_ticket_legal_entity_legal_entity"),
        ),
        sa.ForeignKeyConstraint(
            ["metering_point_id"],
            ["metering_point.id"],
            name=op.f("fk_ticket_metering_point_id_metering_point"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_ticket_partner_id_partner")
        ),
        sa.ForeignKeyConstraint(["queue_id"], ["queue.id"], name=op.f("fk_ticket_queue_id_queue")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket")),
        sa.UniqueConstraint("number", name=op.f("uq_ticket_number")),
    )
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_assignee_id"), ["assignee_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ticket_partner_id"), ["partner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ticket_queue_id"), ["queue_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ticket_status"), ["status"], unique=False)

    op.create_table(
        "activity",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("external_id", sa.String(length=400), nullable=False),
        sa.Column("occurred_at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("received_at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("legal_entity", sa.String(length=16), nullable=True),
        sa.Column("sender_address", sa.String(length=400), nullable=True),
        sa.Column("sender_name", sa.String(length=300), nullable=True),
        sa.Column("recipient", sa.String(length=400), nullable=True),
        sa.Column("subject", sa.String(length=1000), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("raw_sha256", sa.String(length=64), nullable=True),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "metering_point_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("match_outcome", sa.String(length=12), nullable=True),
        sa.Column("match_score", sa.Double(), nullable=True),
        sa.Column(
            "match_reasons",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "match_candidates",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("language", sa.String(length=5), nullable=True),
        sa.Column("ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "employee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column(
            "meta",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["employee.id"], name=op.f("fk_activity_employee_id_employee")
        ),
        sa.ForeignKeyConstraint(
            ["legal_entity"],
            ["legal_entity.code"],
            name=op.f("fk_activity_legal_entity_legal_entity"),
        ),
        sa.ForeignKeyConstraint(
            ["metering_point_id"],
            ["metering_point.id"],
            name=op.f("fk_activity_metering_point_id_metering_point"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_activity_partner_id_partner")
        ),
        sa.ForeignKeyConstraint(
            ["raw_sha256"], ["blob.sha256"], name=op.f("fk_activity_raw_sha256_blob")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_activity_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity")),
        sa.UniqueConstraint("channel", "external_id", name=op.f("uq_activity_channel_external_id")),
    )
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activity_occurred_at"), ["occurred_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_activity_partner_id"), ["partner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_activity_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_activity_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "document",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=400), nullable=True),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("extracted_text", sa.Text(), nullable=True),
        sa.Column(
            "activity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activity.id"],
            name=op.f("fk_document_activity_id_activity"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["sha256"], ["blob.sha256"], name=op.f("fk_document_sha256_blob")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document")),
    )
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_activity_id"), ["activity_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_document_sha256"), ["sha256"], unique=False)

    legal_entity = sa.table(
        "legal_entity",
        sa.column("code", sa.String),
        sa.column("name", sa.String),
        sa.column("kind", sa.String),
        sa.column("brand", sa.String),
    )
    # The two companies an installation starts with; administrators rename them.
    op.bulk_insert(
        legal_entity,
        [
            {"code": "dso", "name": "Distribution system operator", "kind": "dso", "brand": "DSO"},
            {
                "code": "supplier",
                "name": "Electricity supplier",
                "kind": "supplier",
                "brand": "Supplier",
            },
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_sha256"))
        batch_op.drop_index(batch_op.f("ix_document_activity_id"))

    op.drop_table("document")
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_activity_state"))
        batch_op.drop_index(batch_op.f("ix_activity_partner_id"))
        batch_op.drop_index(batch_op.f("ix_activity_occurred_at"))

    op.drop_table("activity")
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_status"))
        batch_op.drop_index(batch_op.f("ix_ticket_queue_id"))
        batch_op.drop_index(batch_op.f("ix_ticket_partner_id"))
        batch_op.drop_index(batch_op.f("ix_ticket_assignee_id"))

    op.drop_table("ticket")
    with op.batch_alter_table("partner_role", schema=None) as batch_op:
        batch_op.drop_index("ix_partner_role_partner_id")
        batch_op.drop_index(batch_op.f("ix_partner_role_metering_point_id"))
        batch_op.drop_index(batch_op.f("ix_partner_role_for_partner_id"))
        batch_op.drop_index(batch_op.f("ix_partner_role_contract_id"))

    op.drop_table("partner_role")
    with op.batch_alter_table("opportunity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opportunity_partner_id"))

    op.drop_table("opportunity")
    op.drop_table("contract_metering_point")
    op.drop_table("queue")
    with op.batch_alter_table("offer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offer_partner_id"))

    op.drop_table("offer")
    with op.batch_alter_table("meter_device", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meter_device_serial"))
        batch_op.drop_index(batch_op.f("ix_meter_device_metering_point_id"))

    op.drop_table("meter_device")
    op.drop_table("employee")
    with op.batch_alter_table("contract", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contract_partner_id"))

    op.drop_table("contract")
    with op.batch_alter_table("contact_point", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_point_kind_value")

    op.drop_table("contact_point")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entry_partner_id"))
        batch_op.drop_index(batch_op.f("ix_audit_entry_at"))

    op.drop_table("audit_entry")
    op.drop_table("ticket_sequence")
    op.drop_table("sla_policy")
    op.drop_table("partner")
    op.drop_table("metering_point")
    op.drop_table("legal_entity")
    op.drop_table("calendar")
    op.drop_table("blob")

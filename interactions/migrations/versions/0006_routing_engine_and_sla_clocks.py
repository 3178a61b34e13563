"""routing engine and SLA clocks: agents, tasks, clocks; default calendars and policies

Revision ID: 0006
Revises: 0001
Create Date: 2026-12-03 19:08:44.304647
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import interactions.types

revision: str = "0006"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The shipped defaults as this revision wrote them (DESIGN.md, "Service levels shipped
# as defaults"); routing.sla keeps the same values for code that needs them.
CALENDARS: list[dict[str, Any]] = [
    {
        "code": "office",
        "name": "Office hours Mon-Fri 08:00-16:00, Slovenian public holidays",
        "hours": {
            "0": [["08:00", "16:00"]],
            "1": [["08:00", "16:00"]],
            "2": [["08:00", "16:00"]],
            "3": [["08:00", "16:00"]],
            "4": [["08:00", "16:00"]],
        },
    },
    {
        "code": "info-line",
        "name": "Info line Mon-Fri 06:00-18:00, Slovenian public holidays",
        "hours": {
            "0": [["06:00", "18:00"]],
            "1": [["06:00", "18:00"]],
            "2": [["06:00", "18:00"]],
            "3": [["06:00", "18:00"]],
            "4": [["06:00", "18:00"]],
        },
    },
    {
        "code": "always",
        "name": "Faults line, every hour of every day",
        "hours": {
            "0": [["00:00", "24:00"]],
            "1": [["00:00", "24:00"]],
            "2": [["00:00", "24:00"]],
            "3": [["00:00", "24:00"]],
            "4": [["00:00", "24:00"]],
            "5": [["00:00", "24:00"]],
            "6": [["00:00", "24:00"]],
        },
        "holiday_country": None,
    },
]

POLICIES: list[dict[str, Any]] = [
    {
        "code": "calls-20s",
        "name": "Calls: 80% answered within 20 s (call centre)",
        "channel": "phone",
        "answer_target_seconds": 20,
        "answer_target_share": "0.800",
    },
    {
        "code": "calls-60s",
        "name": "Calls: 80% answered within 60 s (utilities' common target)",
        "answer_target_seconds": 60,
        "answer_target_share": "0.800",
    },
    {
        "code": "written",
        "name": "Written contacts: first response in 1 business day, answer in 8",
        "first_response_minutes": 1440,
        "next_response_minutes": 1440,
        "resolution_minutes": 11520,
        "whole_days": True,
    },
    {
        "code": "complaint",
        "name": "Complaints: first response in 1 business day, answer in 8",
        "ticket_kind": "complaint",
        "first_response_minutes": 1440,
        "next_response_minutes": 1440,
        "resolution_minutes": 11520,
        "whole_days": True,
    },
    {
        "code": "supplier-switch",
        "name": "Supplier switch completed within 21 days of a complete request",
        "ticket_kind": "change",
        "category": "supplier_switch",
        "resolution_minutes": 30240,
        "business_hours": False,
        "whole_days": True,
    },
    {
        "code": "final-bill",
        "name": "Final bill within 6 weeks of a switch",
        "category": "final_bill",
        "resolution_minutes": 60480,
        "business_hours": False,
        "whole_days": True,
    },
]


def upgrade() -> None:
    op.create_table(
        "agent_state",
        sa.Column(
            "employee_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("presence", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("since", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("idle_since", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("written", sa.Integer(), nullable=False),
        sa.Column("max_calls", sa.Integer(), nullable=False),
        sa.Column("max_written", sa.Integer(), nullable=False),
        sa.Column("max_written_on_call", sa.Integer(), nullable=False),
        sa.Column("wrap_up_until", interactions.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employee.id"],
            name=op.f("fk_agent_state_employee_id_employee"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("employee_id", name=op.f("pk_agent_state")),
    )
    with op.batch_alter_table("agent_state", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_state_presence"), ["presence"], unique=False)

    op.create_table(
        "presence_change",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "employee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("presence", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employee.id"],
            name=op.f("fk_presence_change_employee_id_employee"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_presence_change")),
    )
    with op.batch_alter_table("presence_change", schema=None) as batch_op:
        batch_op.create_index(
            "ix_presence_change_employee_id_at", ["employee_id", "at"], unique=False
        )

    op.create_table(
        "routing_notification",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "employee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("done_at", interactions.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            server_default="[]",
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employee.id"],
            name=op.f("fk_routing_notification_employee_id_employee"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_routing_notification_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_notification")),
    )
    with op.batch_alter_table("routing_notification", schema=None) as batch_op:
        batch_op.create_index(
            "ix_routing_notification_employee_id_done_at", ["employee_id", "done_at"], unique=False
        )

    op.create_table(
        "sla_clock",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("metric", sa.String(length=16), nullable=False),
        sa.Column("policy_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "calendar_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("counting", sa.String(length=16), nullable=False),
        sa.Column("target_seconds", sa.Double(), nullable=False),
        sa.Column("warn_share", sa.Double(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("started_at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("due_at", interactions.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("warn_at", interactions.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("warned_at", interactions.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("breached_at", interactions.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("met_at", interactions.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("paused_at", interactions.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("remaining_seconds", sa.Double(), nullable=True),
        sa.Column("paused_seconds", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_id"], ["calendar.id"], name=op.f("fk_sla_clock_calendar_id_calendar")
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["sla_policy.id"], name=op.f("fk_sla_clock_policy_id_sla_policy")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_sla_clock_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_clock")),
        sa.UniqueConstraint("ticket_id", "metric", name=op.f("uq_sla_clock_ticket_id_metric")),
    )
    with op.batch_alter_table("sla_clock", schema=None) as batch_op:
        batch_op.create_index("ix_sla_clock_state_due_at", ["state", "due_at"], unique=False)
        batch_op.create_index("ix_sla_clock_state_warn_at", ["state", "warn_at"], unique=False)

    op.create_table(
        "sla_record",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("metric", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("due_at", interactions.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("queue_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "assignee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("legal_entity", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["employee.id"], name=op.f("fk_sla_record_assignee_id_employee")
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["queue.id"], name=op.f("fk_sla_record_queue_id_queue")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_sla_record_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_record")),
        sa.UniqueConstraint(
            "ticket_id",
            "metric",
            "kind",
            "due_at",
            name=op.f("uq_sla_record_ticket_id_metric_kind_due_at"),
        ),
    )
    with op.batch_alter_table("sla_record", schema=None) as batch_op:
        batch_op.create_index("ix_sla_record_at", ["at"], unique=False)

    op.create_table(
        "routing_task",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "activity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("queue_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("legal_entity", sa.String(length=16), nullable=False),
        sa.Column(
            "required_skills",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            server_default="[]",
        ),
        sa.Column("language", sa.String(length=5), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("created_at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("due_at", interactions.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("overflow_level", sa.Integer(), nullable=False),
        sa.Column("next_overflow_at", interactions.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("agent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "preferred_agent_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("offered_at", interactions.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("offer_expires_at", interactions.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("assigned_at", interactions.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("touched_at", interactions.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", interactions.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column(
            "missed_by",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            server_default="[]",
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activity.id"],
            name=op.f("fk_routing_task_activity_id_activity"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["employee.id"], name=op.f("fk_routing_task_agent_id_employee")
        ),
        sa.ForeignKeyConstraint(
            ["legal_entity"],
            ["legal_entity.code"],
            name=op.f("fk_routing_task_legal_entity_legal_entity"),
        ),
        sa.ForeignKeyConstraint(
            ["preferred_agent_id"],
            ["employee.id"],
            name=op.f("fk_routing_task_preferred_agent_id_employee"),
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["queue.id"], name=op.f("fk_routing_task_queue_id_queue")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_routing_task_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_task")),
    )
    with op.batch_alter_table("routing_task", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_routing_task_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(
            "ix_routing_task_line",
            ["state", "priority", "due_at", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_routing_task_next_overflow_at", ["next_overflow_at"], unique=False
        )
        batch_op.create_index(
            "ix_routing_task_offer_expires_at", ["offer_expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_routing_task_queue_id"), ["queue_id"], unique=False)
        batch_op.create_index("ix_routing_task_ticket_id", ["ticket_id"], unique=False)

    op.create_table(
        "routing_task_note",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("task_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", interactions.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("agent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["employee.id"], name=op.f("fk_routing_task_note_agent_id_employee")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["routing_task.id"],
            name=op.f("fk_routing_task_note_task_id_routing_task"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_task_note")),
    )
    with op.batch_alter_table("routing_task_note", schema=None) as batch_op:
        batch_op.create_index("ix_routing_task_note_task_id", ["task_id"], unique=False)

    with op.batch_alter_table("calendar", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "closed_days",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default="[]",
            )
        )

    with op.batch_alter_table("sla_policy", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("whole_days", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column(
                "warn_share",
                sa.Numeric(precision=4, scale=3),
                nullable=False,
                server_default="0.800",
            )
        )

    _seed_defaults()


def _seed_defaults() -> None:
    """Insert the shipped calendars and SLA policies (DESIGN.md); admins change them."""
    from decimal import Decimal

    calendar = sa.table(
        "calendar",
        sa.column("code", sa.String),
        sa.column("name", sa.String),
        sa.column("timezone", sa.String),
        sa.column("holiday_country", sa.String),
        sa.column("hours", sa.JSON),
        sa.column("closed_days", sa.JSON),
    )
    op.bulk_insert(
        calendar,
        [
            {
                "timezone": "Europe/Ljubljana",
                "holiday_country": "SI",
                "closed_days": [],
                **row,
            }
            for row in CALENDARS
        ],
    )
    names = (
        "code",
        "name",
        "ticket_kind",
        "category",
        "segment",
        "channel",
        "first_response_minutes",
        "next_response_minutes",
        "resolution_minutes",
        "answer_target_seconds",
    )
    policy = sa.table(
        "sla_policy",
        *(sa.column(n) for n in names),
        sa.column("business_hours", sa.Boolean),
        sa.column("whole_days", sa.Boolean),
        sa.column("warn_share", sa.Numeric),
        sa.column("answer_target_share", sa.Numeric),
    )
    rows = []
    for row in POLICIES:
        values = {n: row.get(n) for n in names}
        values["business_hours"] = row.get("business_hours", True)
        values["whole_days"] = row.get("whole_days", False)
        values["warn_share"] = Decimal("0.800")
        share = row.get("answer_target_share")
        values["answer_target_share"] = Decimal(share) if share else None
        rows.append(values)
    op.bulk_insert(policy, rows)


def downgrade() -> None:
    with op.batch_alter_table("sla_policy", schema=None) as batch_op:
        batch_op.drop_column("warn_share")
        batch_op.drop_column("whole_days")

    with op.batch_alter_table("calendar", schema=None) as batch_op:
        batch_op.drop_column("closed_days")

    with op.batch_alter_table("routing_task_note", schema=None) as batch_op:
        batch_op.drop_index("ix_routing_task_note_task_id")

    op.drop_table("routing_task_note")
    with op.batch_alter_table("routing_task", schema=None) as batch_op:
        batch_op.drop_index("ix_routing_task_ticket_id")
        batch_op.drop_index(batch_op.f("ix_routing_task_queue_id"))
        batch_op.drop_index("ix_routing_task_offer_expires_at")
        batch_op.drop_index("ix_routing_task_next_overflow_at")
        batch_op.drop_index("ix_routing_task_line")
        batch_op.drop_index(batch_op.f("ix_routing_task_agent_id"))

    op.drop_table("routing_task")
    with op.batch_alter_table("sla_record", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_record_at")

    op.drop_table("sla_record")
    with op.batch_alter_table("sla_clock", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_clock_state_warn_at")
        batch_op.drop_index("ix_sla_clock_state_due_at")

    op.drop_table("sla_clock")
    with op.batch_alter_table("routing_notification", schema=None) as batch_op:
        batch_op.drop_index("ix_routing_notification_employee_id_done_at")

    op.drop_table("routing_notification")
    with op.batch_alter_table("presence_change", schema=None) as batch_op:
        batch_op.drop_index("ix_presence_change_employee_id_at")

    op.drop_table("presence_change")
    with op.batch_alter_table("agent_state", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_state_presence"))

    op.drop_table("agent_state")

    _remove_defaults()


def _remove_defaults() -> None:
    """Delete the shipped calendars and policies; queues that used them keep none."""
    for table, column, codes in (
        ("calendar", "calendar_id", [c["code"] for c in CALENDARS]),
        ("sla_policy", "sla_policy_id", [p["code"] for p in POLICIES]),
    ):
        chosen = sa.bindparam("codes", codes, expanding=True)
        op.execute(
            sa.text(
                f"UPDATE queue SET {column} = NULL"
                f" WHERE {column} IN (SELECT id FROM {table} WHERE code IN :codes)"
            ).bindparams(chosen)
        )
        op.execute(sa.text(f"DELETE FROM {table} WHERE code IN :codes").bindparams(chosen))

"""Routing's own tables: agent presence, tasks, SLA clocks, breaches and notifications.

They share `interactions.models.Base`, so one Alembic history covers them. Every
piece of engine state is a row here: a restarted node, or a second node on the same
PostgreSQL, picks up exactly where the others are.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from interactions.models import Base
from interactions.types import BigId, Json, UtcDateTime, utcnow


class Presence(StrEnum):
    AVAILABLE = "available"
    BUSY = "busy"
    WRAP_UP = "wrap_up"
    BREAK = "break"
    OFFLINE = "offline"
    #: Did not answer an offered call in time; takes no calls until available again.
    MISSED = "missed"


AWAY = frozenset({Presence.BREAK, Presence.OFFLINE, Presence.MISSED})


class TaskKind(StrEnum):
    CALL = "call"
    TICKET = "ticket"


class TaskState(StrEnum):
    QUEUED = "queued"
    OFFERED = "offered"  # a call ringing at one agent
    ASSIGNED = "assigned"  # a call connected, or a ticket in the agent's list
    DONE = "done"
    VOICEMAIL = "voicemail"  # a call that overflowed to voicemail or call-back
    ABANDONED = "abandoned"


OPEN_TASK_STATES = (TaskState.QUEUED, TaskState.OFFERED, TaskState.ASSIGNED)


class AgentState(Base):
    """One agent's presence and the load the engine has given them.

    The counters are changed only by conditional UPDATEs that check capacity in the
    same statement, so that two nodes cannot overfill one agent.
    """

    __tablename__ = "agent_state"

    employee_id: Mapped[int] = mapped_column(
        ForeignKey("employee.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    presence: Mapped[str] = mapped_column(String(16), default=Presence.OFFLINE, index=True)
    reason: Mapped[str | None] = mapped_column(String(200))
    since: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    #: When the agent last became free of calls; longest idle is the oldest value.
    idle_since: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    calls: Mapped[int] = mapped_column(default=0)
    written: Mapped[int] = mapped_column(default=0)
    max_calls: Mapped[int] = mapped_column(default=1)
    max_written: Mapped[int] = mapped_column(default=4)
    max_written_on_call: Mapped[int] = mapped_column(default=2)
    #: When a wrap-up ends by itself and the agent is available again.
    wrap_up_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PresenceChange(Base):
    """The history of an agent's presence, with the reason given."""

    __tablename__ = "presence_change"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employee.id", ondelete="CASCADE"))
    presence: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (Index("ix_presence_change_employee_id_at", "employee_id", "at"),)


class Task(Base):
    """A live call or a ticket waiting for, offered to, or held by an agent."""

    __tablename__ = "routing_task"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(8))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id", ondelete="SET NULL"))
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queue.id"), index=True)
    legal_entity: Mapped[str] = mapped_column(ForeignKey("legal_entity.code"))
    required_skills: Mapped[dict[str, int]] = mapped_column(Json, default=dict)
    language: Mapped[str | None] = mapped_column(String(5))
    priority: Mapped[int] = mapped_column(default=3)  # 1 urgent .. 4 low
    state: Mapped[str] = mapped_column(String(10), default=TaskState.QUEUED)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    #: The SLA deadline the queue orders by (answer target, first response).
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: Overflow steps taken so far, and when the next one is due.
    overflow_level: Mapped[int] = mapped_column(default=0)
    next_overflow_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"), index=True)
    preferred_agent_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))
    offered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    offer_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: The agent worked on it (opened, answered); untouched tasks return when they leave.
    touched_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    missed_by: Mapped[list[int]] = mapped_column(Json, default=list)

    __table_args__ = (
        # The waiting line, in the default order of the assignment policy.
        Index("ix_routing_task_line", "state", "priority", "due_at", "created_at", "id"),
        Index("ix_routing_task_offer_expires_at", "offer_expires_at"),
        Index("ix_routing_task_next_overflow_at", "next_overflow_at"),
        Index("ix_routing_task_ticket_id", "ticket_id"),
    )


class TaskNote(Base):
    """What happened to a task and why: offered, missed, returned to the queue."""

    __tablename__ = "routing_task_note"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("routing_task.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    event: Mapped[str] = mapped_column(String(32))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))
    text: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_routing_task_note_task_id", "task_id"),)


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    #: Past due and still running; `met_at` is set when it is finally met.
    BREACHED = "breached"


class ClockMetric(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


class SlaClock(Base):
    """One SLA target of one ticket: when it is due, paused or met, warned or breached."""

    __tablename__ = "sla_clock"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(16))
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policy.id"))
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("calendar.id"))
    #: business | calendar | business_days | calendar_days
    counting: Mapped[str] = mapped_column(String(16), default="business")
    #: The length of the target in the clock's own seconds (business or elapsed).
    target_seconds: Mapped[float]
    warn_share: Mapped[float] = mapped_column(default=0.8)
    state: Mapped[str] = mapped_column(String(10), default=ClockState.RUNNING)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    warn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    warned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    breached_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    met_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: Seconds (business or calendar, as the clock counts) left when it was paused.
    remaining_seconds: Mapped[float | None]
    paused_seconds: Mapped[float] = mapped_column(default=0.0)

    __table_args__ = (
        UniqueConstraint("ticket_id", "metric"),
        Index("ix_sla_clock_state_warn_at", "state", "warn_at"),
        Index("ix_sla_clock_state_due_at", "state", "due_at"),
    )


class SlaRecord(Base):
    """A warning or a breach, kept for the dashboard."""

    __tablename__ = "sla_record"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(8))  # warning | breach
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queue.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))
    legal_entity: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        UniqueConstraint("ticket_id", "metric", "kind", "due_at"),
        Index("ix_sla_record_at", "at"),
    )


class Notification(Base):
    """A message for one employee, shown in the agent UI and, by `channel`, sent by email."""

    __tablename__ = "routing_notification"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employee.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))  # ui | email
    kind: Mapped[str] = mapped_column(String(24))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    #: Read in the UI, or handed to the mail sender.
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    details: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)

    __table_args__ = (
        Index("ix_routing_notification_employee_id_done_at", "employee_id", "done_at"),
    )

"""Tables of the agent workspace: sessions, presence, pushed events, ticket history.

They live beside the core model on the same metadata, so that Alembic sees them and
the tests empty them; migration 0008 creates them and seeds the reply templates.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from interactions.models import Activity, Base
from interactions.types import BigId, Json, UtcDateTime, utcnow


class WebSession(Base):
    """A signed-in (or signing-in) browser; the cookie holds only a random token."""

    __tablename__ = "web_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    employee_id: Mapped[int | None] = mapped_column(
        ForeignKey("employee.id", ondelete="CASCADE"), index=True
    )
    data: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class LoginFailure(Base):
    """One failed sign-in; recent ones decide whether a login or address is held off."""

    __tablename__ = "login_failure"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    login: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_login_failure_login_at", "login", "at"),
        Index("ix_login_failure_address_at", "address", "at"),
    )


class AgentPresence(Base):
    """Whether an agent takes work: available, on a break (with reason) or offline."""

    __tablename__ = "agent_presence"

    employee_id: Mapped[int] = mapped_column(
        ForeignKey("employee.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(16), default="offline")
    reason: Mapped[str | None] = mapped_column(String(40))
    since: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AgentPreference(Base):
    """Per-user settings of the workspace, such as the language of its pages."""

    __tablename__ = "agent_preference"

    employee_id: Mapped[int] = mapped_column(
        ForeignKey("employee.id", ondelete="CASCADE"), primary_key=True
    )
    ui_language: Mapped[str] = mapped_column(String(5), default="sl")


class AgentEvent(Base):
    """An event pushed to one agent's screen, kept so a reconnecting page can catch up."""

    __tablename__ = "agent_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employee.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)

    __table_args__ = (Index("ix_agent_event_employee_id_id", "employee_id", "id"),)


class TicketEvent(Base):
    """One step in a ticket's life: a note, a field change, a reply, a link, a merge."""

    __tablename__ = "ticket_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))
    kind: Mapped[str] = mapped_column(String(20))
    field: Mapped[str | None] = mapped_column(String(40))
    old_value: Mapped[str | None] = mapped_column(String(200))
    new_value: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str | None] = mapped_column(Text)


class MatchCorrection(Base):
    """An agent's correction of the matcher: which partner and metering point it really was."""

    __tablename__ = "match_correction"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employee.id"))
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("ticket.id", ondelete="CASCADE"), index=True
    )
    activity_id: Mapped[int | None] = mapped_column(
        ForeignKey("activity.id", ondelete="CASCADE"), index=True
    )
    old_partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"))
    new_partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"))
    old_metering_point_id: Mapped[int | None] = mapped_column(ForeignKey("metering_point.id"))
    new_metering_point_id: Mapped[int | None] = mapped_column(ForeignKey("metering_point.id"))
    match_outcome: Mapped[str | None] = mapped_column(String(12))
    match_score: Mapped[float | None]
    match_reasons: Mapped[list[str]] = mapped_column(Json, default=list)


class ReplyTemplate(Base):
    """A reply text in one language, with {placeholders}, of one legal entity or of all."""

    __tablename__ = "reply_template"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    legal_entity: Mapped[str | None] = mapped_column(ForeignKey("legal_entity.code"))
    language: Mapped[str] = mapped_column(String(5))
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_reply_template_code_language", "code", "language"),)


#: The customer view pages a partner's contacts newest first; this index serves it.
Index("ix_activity_partner_id_occurred_at", Activity.partner_id, Activity.occurred_at)

"""The dashboards' own table: one row of figures per inbound contact, kept for counting.

`ContactFact` holds what the reports count of an activity, already taken out of the
call's JSON and already placed in local time (day, hour, half-hour slot), so that a
day's figures are one index range and a sum, not a scan of JSON documents. Rows are
written by `facts.refresh_contacts`, an idempotent upsert recomputed from the
activity; it may run any number of times, on any node, with the same result.
"""

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from interactions.models import Base, Ticket
from interactions.types import UtcDateTime, utcnow


class ContactFact(Base):
    """The counted figures of one inbound contact (a call, an email, a form, a visit)."""

    __tablename__ = "dash_contact"

    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    channel: Mapped[str] = mapped_column(String(8))
    legal_entity: Mapped[str | None] = mapped_column(String(16))
    queue_id: Mapped[int | None]
    partner_id: Mapped[int | None]
    employee_id: Mapped[int | None]
    ticket_id: Mapped[int | None]
    category: Mapped[str | None] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: The end of the first-contact-resolution window (occurred_at + 7 days).
    repeat_until: Mapped[datetime] = mapped_column(UtcDateTime)
    #: The same partner made another contact with the same entity within the window.
    repeated: Mapped[bool] = mapped_column(default=False)
    local_day: Mapped[date] = mapped_column(Date)
    local_hour: Mapped[int] = mapped_column(SmallInteger)
    #: Half-hour of the local day, 0..47 (on DST days a slot may hold 0 or 60 minutes).
    local_slot: Mapped[int] = mapped_column(SmallInteger)
    weekday: Mapped[int] = mapped_column(SmallInteger)  # 0 = Monday
    #: The call's outcome; None while the call is live or for other channels.
    outcome: Mapped[str | None] = mapped_column(String(16))
    queued: Mapped[bool] = mapped_column(default=False)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    wait_seconds: Mapped[float | None]
    talk_seconds: Mapped[float | None]
    wrap_up_seconds: Mapped[float | None]
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_dash_contact_entity_day", "legal_entity", "local_day", "channel"),
        Index("ix_dash_contact_queue_day", "queue_id", "local_day"),
        Index("ix_dash_contact_employee_day", "employee_id", "local_day"),
        Index("ix_dash_contact_partner_occurred", "partner_id", "occurred_at"),
        #: Live calls (no outcome yet) of the last day, re-read by every node's catch-up.
        Index("ix_dash_contact_outcome_occurred", "outcome", "occurred_at"),
    )


#: Tickets of one entity by creation time, with the queue: the report's filters on tickets.
Index("ix_ticket_entity_created_queue", Ticket.legal_entity, Ticket.created_at, Ticket.queue_id)
#: Open tickets by entity and queue, with their age and id: the backlog and the wallboard
#: read them from the index alone.
Index(
    "ix_ticket_status_entity_queue",
    Ticket.status,
    Ticket.legal_entity,
    Ticket.queue_id,
    Ticket.created_at,
    Ticket.id,
)

"""Triage configuration and decisions: the category code list (šifrant), the urgency
rules, and the triage queue's reviews whose decisions become training labels."""

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from interactions.models import Base
from interactions.types import BigId, Json, UtcDateTime, utcnow


class TriageCategory(Base):
    """One category of the code list, with the ticket kind and queue it leads to."""

    __tablename__ = "triage_category"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_sl: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    ticket_kind: Mapped[str] = mapped_column(String(20), default="question")
    queue_code: Mapped[str | None] = mapped_column(String(40))
    priority: Mapped[int] = mapped_column(default=3)  # 1 urgent .. 4 low
    opens_ticket: Mapped[bool] = mapped_column(default=True)
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)


class TriageRule(Base):
    """An urgency rule a supervisor can read and change.

    `kind` is `text` (every phrase group has a phrase in the text), `deadline` (as
    text, and a date within `within_days` of the contact), `repeat` (an open ticket
    on the same matter) or `vulnerable` (the partner carries the flag).
    """

    __tablename__ = "triage_rule"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    phrases: Mapped[list[list[str]]] = mapped_column(Json, default=list)
    categories: Mapped[list[str]] = mapped_column(Json, default=list)
    within_days: Mapped[int | None]
    priority: Mapped[int] = mapped_column(default=2)
    active: Mapped[bool] = mapped_column(default=True)


class TriageReview(Base):
    """A contact a person looks at: sent for low confidence or corrected by hand.

    Keyed by the activity's (channel, external id), which is known before the
    activity is stored. A decided review is a label for `stik triage retrain`.
    """

    __tablename__ = "triage_review"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))
    external_id: Mapped[str] = mapped_column(String(400))
    predicted_category: Mapped[str | None] = mapped_column(String(40))
    confidence: Mapped[float | None]
    model_version: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    decided_category: Mapped[str | None] = mapped_column(String(40))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    details: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)

    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_triage_review_decided_at", "decided_at"),
    )

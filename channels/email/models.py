"""The email channel's own tables: mailbox positions, sent mail, rate limits, failures."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from interactions.models import Base
from interactions.types import BigId, Json, UtcDateTime, utcnow


class MailboxState(Base):
    """How far an IMAP folder has been read: UIDVALIDITY and the last committed UID."""

    __tablename__ = "email_mailbox_state"

    mailbox: Mapped[str] = mapped_column(String(100), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class OutgoingMail(Base):
    """One mail Stik sends, kept until the server took it; retried with back-off."""

    __tablename__ = "email_outgoing"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(400), unique=True)
    activity_id: Mapped[int | None] = mapped_column(
        ForeignKey("activity.id", ondelete="SET NULL"), index=True
    )
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    sender: Mapped[str] = mapped_column(String(320))
    recipients: Mapped[list[str]] = mapped_column(Json, default=list)
    raw_sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"))
    automatic: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AutoReplyLog(Base):
    """When an address last got an automatic mail from Stik: at most one a day."""

    __tablename__ = "email_auto_reply"

    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    last_sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_count: Mapped[int] = mapped_column(default=1)


class FailingAddress(Base):
    """An address mail to which bounced: flagged for agents, by normalised address."""

    __tablename__ = "email_failing_address"

    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    status: Mapped[str | None] = mapped_column(String(20))
    failed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    bounce_count: Mapped[int] = mapped_column(default=1)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id", ondelete="SET NULL"))
    details: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)

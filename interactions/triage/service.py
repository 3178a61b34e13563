"""Triage of one written contact: category, confidence, language, priority, quotes.

`Triage.classify` is the store's `classifier` (text only, no database); `Triage.refine`
is its `refiner`, run inside `record_contact`'s transaction once the partner is
known: it applies the rules that need the database (a vulnerable partner, a repeat
contact about an open ticket), picks the queue, and puts a contact the model is
unsure of in front of a person.
"""

import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from interactions.models import Partner, Queue, Ticket, TicketStatus
from interactions.resolution import Resolution
from interactions.triage import defaults
from interactions.triage.config import TriageConfig, load_config
from interactions.triage.extract import (
    MAX_TEXT,
    Extracted,
    extract,
    meter_reading,
    relative_dates,
)
from interactions.triage.language import detect_language
from interactions.triage.models import TriageReview
from interactions.triage.text import MODEL_FILE, fold, model_text, words

if TYPE_CHECKING:
    from interactions.contacts import InboundContact
    from interactions.triage.classifier import TrainedModel

log = structlog.get_logger(__name__)

LOCAL_TIME = ZoneInfo("Europe/Ljubljana")
NOT_FOR_US = "not_for_us"
METER_READING = "meter_reading"
FALLBACK_CATEGORY = "general_question"
REFRESH_SECONDS = 60.0
CLOSED_STATUSES = (TicketStatus.RESOLVED, TicketStatus.CLOSED)

_ROBOT_SENDER = re.compile(
    r"^(?:no-?reply|do-?not-?reply|mailer-daemon|postmaster|bounces?|auto-?reply)(?:[+.-]|@)"
)
_BULK_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})


@dataclass
class Triaged:
    """What triage decided about one message."""

    category: str
    confidence: float
    priority: int
    language: str
    mixed_language: bool
    needs_review: bool
    model_version: str
    extracted: Extracted
    received: date
    reasons: list[dict[str, Any]] = field(default_factory=list)
    ticket_kind: str = "question"
    queue: str | None = None
    opens_ticket: bool = True

    @property
    def urgent(self) -> bool:
        return self.priority == 1

    def as_json(self) -> dict[str, Any]:
        """The classification `record_contact` stores on the activity (JSON-safe)."""
        return {
            "category": self.category,
            "confidence": round(self.confidence, 4),
            "priority": self.priority,
            "urgent": self.urgent,
            "language": self.language,
            "mixed_language": self.mixed_language,
            "needs_review": self.needs_review,
            "model_version": self.model_version,
            "reasons": self.reasons,
            "extracted": self.extracted.as_json(),
            "meter_reading": (
                meter_reading(self.extracted, self.received)
                if self.category == METER_READING
                else None
            ),
            "ticket_kind": self.ticket_kind,
            "queue": self.queue,
            "open_ticket": self.opens_ticket,
        }


def robot_reason(sender: object, meta: object) -> str | None:
    """Return why a message was sent by a machine, or None.

    Reads `meta["headers"]` (a mapping of mail headers, as a channel adapter keeps
    them) and the sender address.
    """
    meta = meta if isinstance(meta, dict) else {}
    sender = sender if isinstance(sender, str) else None
    raw_headers = meta.get("headers")
    headers = (
        {str(k).lower(): str(v).strip().lower() for k, v in raw_headers.items()}
        if isinstance(raw_headers, dict)
        else {}
    )
    auto = headers.get("auto-submitted") or str(meta.get("auto_submitted") or "").lower()
    if auto and auto != "no":
        return f"auto-submitted: {auto[:40]}"
    if headers.get("precedence") in _BULK_PRECEDENCE:
        return f"precedence: {headers['precedence']}"
    if "list-unsubscribe" in headers or "list-id" in headers:
        return "mailing list"
    if any(h in headers for h in ("x-autoreply", "x-autorespond", "x-auto-response-suppress")):
        return "auto-responder"
    if headers.get("content-type", "").startswith("multipart/report"):
        return "delivery or read report"
    if sender and _ROBOT_SENDER.match(sender.strip().lower().split("<")[-1]):
        return "robot sender address"
    return None


async def queue_for(
    session: AsyncSession, legal_entity: str, code: str, kind: str | None = None
) -> int | None:
    """The entity's queue for a triage queue code: a queue named so, else the place of
    the ticket kind there (complaints), else the place of the code there."""
    places = [
        defaults.KIND_PLACES.get(legal_entity, {}).get(kind or ""),
        defaults.QUEUE_PLACES.get(legal_entity, {}).get(code),
    ]
    wanted = [code, *(p for p in places if p)]
    rows = await session.execute(
        select(Queue.id, Queue.code).where(
            Queue.legal_entity == legal_entity, Queue.code.in_(wanted)
        )
    )
    found = {queue_code: queue_id for queue_id, queue_code in rows}
    return next((found[c] for c in wanted if c in found), None)


class Triage:
    """The triage engine: one model, one configuration, many contacts."""

    #: The legal entity of a contact whose channel names none (the store's default).
    default_legal_entity = "supplier"

    def __init__(
        self,
        model_dir: Path | None = None,
        config: TriageConfig | None = None,
        model: "TrainedModel | None" = None,
    ) -> None:
        self.model_dir = model_dir
        self.config = config or TriageConfig.shipped()
        self._model = model
        self._model_stamp = self._stamp()
        self._lock = threading.Lock()
        self._refreshed = 0.0 if config is None else time.monotonic()

    @property
    def model(self) -> "TrainedModel":
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = _load_model(self.model_dir)
        return self._model

    # Text only --------------------------------------------------------------------

    def triage(
        self,
        subject: str | None,
        body: str | None,
        received: date | None = None,
        sender: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Triaged:
        """Classify one message by its text (and its headers, for robots)."""
        received = received or datetime.now(LOCAL_TIME).date()
        text = f"{subject or ''}\n{body or ''}"[:MAX_TEXT]
        extracted = extract(text, received)
        guess = detect_language(text)

        robot = robot_reason(sender, meta)
        if robot is not None:
            category, confidence = NOT_FOR_US, 1.0
        elif not any(char.isalpha() for char in text):
            category, confidence = FALLBACK_CATEGORY, 0.0
        else:
            category, confidence = self.model.predict(model_text(subject, body))

        settings = self.config.category(category)
        needs_review = robot is None and confidence < self.model.threshold
        result = Triaged(
            category=category,
            confidence=confidence,
            priority=settings.priority,
            language=guess.language,
            mixed_language=guess.mixed,
            needs_review=needs_review,
            model_version=self.model.version if robot is None else "rules",
            extracted=extracted,
            received=received,
            ticket_kind=settings.ticket_kind,
            queue=self.config.triage_queue if needs_review else settings.queue_code,
            opens_ticket=settings.opens_ticket,
        )
        if robot is not None:
            result.reasons.append({"rule": "robot", "priority": settings.priority, "why": robot})
        elif settings.opens_ticket:
            result.reasons = self.text_reasons(category, text, received, extracted.dates)
            result.priority = min([result.priority] + [r["priority"] for r in result.reasons])
        return result

    def text_reasons(
        self, category: str, text: str, received: date, dates: list[date] | None = None
    ) -> list[dict[str, Any]]:
        """Return the text and deadline rules that `text` meets, as reasons."""
        text = text[:MAX_TEXT]
        tokens = words(fold(text))
        if dates is None:
            dates = extract(text, received).dates
        dates = dates + relative_dates(tokens, received)
        reasons = []
        for rule in self.config.rules:
            if not rule.applies_to(category):
                continue
            if rule.kind == "text":
                hit = rule.matches_text(tokens)
            elif rule.kind == "deadline":
                hit = rule.matches_deadline(tokens, dates, received)
            else:
                continue
            if hit:
                reasons.append(
                    {"rule": rule.code, "priority": rule.priority, "why": rule.description}
                )
        return reasons

    def classify(self, contact: "InboundContact") -> dict[str, Any]:
        """The store's classifier: the classification of `contact` as JSON."""
        # TODO(#5): text of attachments (PDF letters, OCR of scans and faxes) is not
        # read yet; a letter whose body is only an attachment goes to people.
        received = contact.occurred_at.astimezone(LOCAL_TIME).date()
        triaged = self.triage(
            contact.subject, contact.text, received, contact.sender_address, contact.meta
        )
        return triaged.as_json()

    # With the database ------------------------------------------------------------

    async def refine(
        self,
        session: AsyncSession,
        contact: "InboundContact",
        resolution: Resolution,
        classification: dict[str, Any],
    ) -> dict[str, Any]:
        """The store's refiner: rules that need the partner, the queue, the review."""
        # TODO(#5): the ticket keeps category, priority, kind and queue; confidence,
        # language, extracted values and model version stay on its opening activity,
        # because the ticket has no column for them yet.
        if "category" not in classification:
            return classification
        await self._refresh_if_due(session)
        result = dict(classification)
        reasons = [r for r in result.get("reasons") or [] if r.get("rule") == "robot"]
        partner_id = resolution.best.partner_id if resolution.best else None
        settings = self.config.category(result["category"])
        result.update(ticket_kind=settings.ticket_kind, open_ticket=settings.opens_ticket)
        if result["category"] not in self.config.categories:
            result["needs_review"] = True  # the model knows a category the list dropped
        result["queue"] = (
            self.config.triage_queue if result.get("needs_review") else settings.queue_code
        )

        if settings.opens_ticket and not reasons:
            received = contact.occurred_at.astimezone(LOCAL_TIME).date()
            text = f"{contact.subject or ''}\n{contact.text or ''}"
            quoted = result.get("extracted", {}).get("dates")
            dates = [date.fromisoformat(d) for d in quoted] if quoted is not None else None
            reasons += self.text_reasons(result["category"], text, received, dates)
            for rule, why in await self._partner_rules(session, result, partner_id):
                reasons.append(
                    {"rule": rule.code, "priority": rule.priority, "why": why or rule.description}
                )
        result["priority"] = min([settings.priority] + [int(r["priority"]) for r in reasons])
        result["urgent"] = result["priority"] == 1
        result["reasons"] = reasons

        if result.get("queue"):
            entity = contact.legal_entity or self.default_legal_entity
            result["queue_id"] = await queue_for(
                session, entity, result["queue"], result.get("ticket_kind")
            )
        if result.get("needs_review"):
            await _ask_a_person(session, contact, result)
        return result

    async def _partner_rules(
        self, session: AsyncSession, result: dict[str, Any], partner_id: int | None
    ) -> list[tuple[Any, str | None]]:
        category = result["category"]
        vulnerable = False
        if partner_id is not None:
            vulnerable = bool(
                await session.scalar(select(Partner.vulnerable).where(Partner.id == partner_id))
            )
        open_ticket = await _open_ticket_about(
            session, partner_id, category, result.get("extracted", {}).get("ticket_numbers", [])
        )

        hits: list[tuple[Any, str | None]] = []
        for rule in self.config.rules:
            if not rule.applies_to(category):
                continue
            if rule.kind == "vulnerable" and vulnerable:
                hits.append((rule, None))
            elif rule.kind == "repeat" and open_ticket is not None:
                hits.append((rule, f"open ticket {open_ticket}"))
        return hits

    async def _refresh_if_due(self, session: AsyncSession) -> None:
        # TODO(#5): configuration and model changes reach each node within a minute by
        # polling; an event on the bus (LISTEN/NOTIFY) would make it immediate, and
        # keeping the retrained model in the database would spare a shared data dir.
        if time.monotonic() - self._refreshed < REFRESH_SECONDS:
            return
        self._refreshed = time.monotonic()
        self.config = await load_config(session)
        stamp = self._stamp()
        if stamp != self._model_stamp:
            self._model_stamp = stamp
            with self._lock:
                self._model = _load_model(self.model_dir)
            log.info("triage_model_reloaded", version=self._model.version)

    def _stamp(self) -> float | None:
        if self.model_dir is None:
            return None
        path = self.model_dir / MODEL_FILE
        return path.stat().st_mtime if path.exists() else None


def _load_model(model_dir: Path | None) -> "TrainedModel":
    """Load the model; scikit-learn is imported here, not when Stik starts."""
    from interactions.triage.classifier import load_model

    return load_model(model_dir)


async def _open_ticket_about(
    session: AsyncSession, partner_id: int | None, category: str, quoted: list[str]
) -> str | None:
    """Return the number of an open ticket this contact is about, quoted or by topic."""
    open_ticket = Ticket.status.not_in([s.value for s in CLOSED_STATUSES])
    if quoted:
        number = await session.scalar(
            select(Ticket.number).where(Ticket.number.in_(quoted[:20]), open_ticket).limit(1)
        )
        if number is not None:
            return number
    if partner_id is None:
        return None
    return await session.scalar(
        select(Ticket.number)
        .where(Ticket.partner_id == partner_id, Ticket.category == category, open_ticket)
        .order_by(Ticket.created_at.desc())
        .limit(1)
    )


async def _ask_a_person(
    session: AsyncSession, contact: "InboundContact", result: dict[str, Any]
) -> None:
    from interactions.contacts import insert_ignoring_conflicts

    stmt = insert_ignoring_conflicts(session, TriageReview).values(
        channel=contact.channel,
        external_id=contact.external_id,
        predicted_category=result["category"],
        confidence=result.get("confidence"),
        model_version=result.get("model_version"),
        created_at=datetime.now(UTC),
        details={"reason": "low confidence"},
    )
    await session.execute(stmt)

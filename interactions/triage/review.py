"""The triage queue's decisions: what people reviewed, their labels, and retraining.

A person's decision is kept in `triage_review` (with who and when), applied to the
activity and its ticket at once, and used as a training label by `retrain`.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from interactions.models import Activity, Ticket
from interactions.store import Store
from interactions.triage import classifier as learner
from interactions.triage.config import Category, load_config
from interactions.triage.models import TriageReview
from interactions.triage.service import queue_for
from interactions.triage.text import MODEL_FILE

log = structlog.get_logger(__name__)


class UnknownCategory(ValueError):
    """A decision names a category the code list does not hold (or holds inactive)."""


@dataclass(frozen=True)
class PendingReview:
    activity_id: int
    ticket_id: int | None
    predicted_category: str | None
    confidence: float | None
    subject: str | None
    created_at: datetime


async def pending_reviews(store: Store, limit: int = 50) -> list[PendingReview]:
    """Return contacts waiting for a person's decision, oldest first."""
    query = (
        select(TriageReview, Activity.id, Activity.ticket_id, Activity.subject)
        .join(
            Activity,
            (Activity.channel == TriageReview.channel)
            & (Activity.external_id == TriageReview.external_id),
        )
        .where(TriageReview.decided_at.is_(None))
        .order_by(TriageReview.created_at, TriageReview.id)
        .limit(limit)
    )
    async with store.sessions() as session:
        rows = (await session.execute(query)).all()
    return [
        PendingReview(
            activity_id=activity_id,
            ticket_id=ticket_id,
            predicted_category=review.predicted_category,
            confidence=review.confidence,
            subject=subject,
            created_at=review.created_at,
        )
        for review, activity_id, ticket_id, subject in rows
    ]


async def decide(store: Store, activity_id: int, category: str, decided_by: str) -> None:
    """Record a person's category for an activity and apply it to the activity and ticket."""
    async with store.sessions() as session, session.begin():
        activity = await session.get_one(Activity, activity_id)
        settings = await record_decision(session, activity, category, decided_by)
        if activity.ticket_id is not None:
            ticket = await session.get_one(Ticket, activity.ticket_id)
            ticket.category = category
            ticket.kind = settings.ticket_kind
            ticket.queue_id = (
                await queue_for(
                    session, ticket.legal_entity, settings.queue_code, settings.ticket_kind
                )
                if settings.queue_code
                else None
            )
    log.info("triage_decided", activity_id=activity_id, category=category)


async def record_decision(
    session: AsyncSession, activity: Activity, category: str, decided_by: str
) -> Category:
    """Keep a person's category for `activity` as a decision: its label for retraining.

    Runs in the caller's transaction; the ticket is the caller's to change.
    """
    config = await load_config(session)
    settings = config.categories.get(category)
    if settings is None:
        raise UnknownCategory(f"category {category!r} is not in the code list")
    review = await session.scalar(
        select(TriageReview).where(
            TriageReview.channel == activity.channel,
            TriageReview.external_id == activity.external_id,
        )
    )
    triage = dict(activity.meta.get("triage") or {})
    if review is None:
        review = TriageReview(
            channel=activity.channel,
            external_id=activity.external_id,
            predicted_category=activity.category,
            confidence=triage.get("confidence"),
            model_version=triage.get("model_version"),
            details={"reason": "corrected"},
        )
        session.add(review)
    review.decided_category = category
    review.decided_by = decided_by[:64]
    review.decided_at = datetime.now(UTC)

    triage.update(category=category, needs_review=False, decided_by=review.decided_by)
    activity.category = category
    activity.meta = {**activity.meta, "triage": triage}
    return settings


async def labelled_examples(store: Store) -> list[learner.Example]:
    """Return people's decisions as training examples."""
    query = (
        select(TriageReview.decided_category, Activity.language, Activity.subject, Activity.text)
        .join(
            Activity,
            (Activity.channel == TriageReview.channel)
            & (Activity.external_id == TriageReview.external_id),
        )
        .where(TriageReview.decided_category.is_not(None))
        .order_by(TriageReview.id)
    )
    async with store.sessions() as session:
        rows = (await session.execute(query)).all()
    return [
        learner.Example(str(category), language or "sl", subject or "", text or "")
        for category, language, subject, text in rows
    ]


async def retrain(store: Store, model_dir: Path) -> tuple[learner.TrainedModel, dict[str, Any]]:
    """Train on the shipped messages plus people's labels; keep the model in `model_dir`."""
    shipped = learner.load_examples(learner.TRAIN_FILE)
    labels = await labelled_examples(store)
    model = learner.train(shipped + labels)
    learner.save(model, model_dir / MODEL_FILE)
    figures = {**learner.as_metadata(model), "shipped_examples": len(shipped)}
    figures["labels"] = len(labels)
    log.info("triage_retrained", version=model.version, labels=len(labels))
    return model, figures

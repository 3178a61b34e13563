"""Factories for the dashboards' tests: calls as the phone channel records them."""

import itertools
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agent_ui.dashboards.facts import refresh_contacts
from interactions.models import Activity, ActivityState, Channel, Direction, Queue, Ticket
from interactions.store import Store
from interactions.tickets import allocate_ticket_number

LOCAL = ZoneInfo("Europe/Ljubljana")
#: A Tuesday well in the past: every deadline of it has come.
DAY = date(2026, 11, 10)
_numbers = itertools.count(1)


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A local wall-clock time of `day`, as UTC."""
    return datetime.combine(day, time(hour, minute, second), LOCAL).astimezone(UTC)


async def queue(store: Store, code: str = "info", entity: str = "supplier", **fields: Any) -> int:
    async with store.sessions() as db, db.begin():
        found = Queue(
            code=code,
            name=fields.pop("name", code.title()),
            legal_entity=entity,
            org_unit=fields.pop("org_unit", "call_centre"),
            channels=fields.pop("channels", ["phone"]),
            **fields,
        )
        db.add(found)
        await db.flush()
        return found.id


def call_meta(
    arrived: datetime,
    queue_id: int | None,
    outcome: str | None,
    wait: float | None = None,
    talk: float | None = None,
    wrap: float | None = None,
    agent_id: int | None = None,
) -> dict[str, Any]:
    """The call's JSON as the phone channel writes it (see the contract in the brief)."""
    queued = arrived + timedelta(seconds=4)
    answered = (
        queued + timedelta(seconds=wait) if outcome == "answered" and wait is not None else None
    )
    ended = None
    if outcome is not None:
        ended = (
            (answered + timedelta(seconds=talk or 0))
            if answered
            else queued + timedelta(seconds=wait or 0)
        )
    iso = lambda t: t.isoformat() if t else None  # noqa: E731
    return {
        "sid": f"CA{next(_numbers):032d}",
        "from": "+38641123456",
        "to": "+38615001234",
        "queue_id": queue_id,
        "arrived_at": iso(arrived),
        "queued_at": iso(queued) if outcome != "out_of_hours" else None,
        "offered_at": iso(answered),
        "answered_at": iso(answered),
        "ended_at": iso(ended),
        "agent_id": agent_id if answered else None,
        "wait_seconds": wait,
        "talk_seconds": talk,
        "wrap_up_seconds": wrap,
        "outcome": outcome,
    }


async def call(
    store: Store,
    arrived: datetime,
    queue_id: int | None,
    outcome: str | None,
    *,
    wait: float | None = None,
    talk: float | None = None,
    wrap: float | None = None,
    agent_id: int | None = None,
    partner_id: int | None = None,
    entity: str = "supplier",
    meta: dict[str, Any] | None = None,
) -> int:
    """Store one phone call as an Activity and count it; return the activity id."""
    found = (
        meta
        if meta is not None
        else call_meta(arrived, queue_id, outcome, wait, talk, wrap, agent_id)
    )
    async with store.sessions() as db, db.begin():
        activity = Activity(
            channel=Channel.PHONE,
            direction=Direction.INBOUND,
            external_id=str(found.get("sid") or f"CA-{next(_numbers)}"),
            occurred_at=arrived,
            legal_entity=entity,
            partner_id=partner_id,
            employee_id=agent_id if outcome == "answered" else None,
            duration_seconds=int(talk) if talk is not None else None,
            state=ActivityState.PROCESSED,
            match_reasons=[],
            match_candidates=[],
            meta={"call": found},
        )
        db.add(activity)
        await db.flush()
        await refresh_contacts(db, [activity.id])
        return activity.id


def activity_of(arrived: datetime, meta: dict[str, Any], entity: str = "supplier") -> Activity:
    """An unsaved call Activity with the call's JSON, for tests that add many at once."""
    return Activity(
        channel=Channel.PHONE,
        direction=Direction.INBOUND,
        external_id=str(meta["sid"]),
        occurred_at=arrived,
        legal_entity=entity,
        state=ActivityState.PROCESSED,
        match_reasons=[],
        match_candidates=[],
        meta={"call": meta},
    )


async def contact(
    store: Store,
    occurred: datetime,
    channel: str = Channel.EMAIL,
    *,
    partner_id: int | None = None,
    entity: str = "supplier",
    category: str | None = None,
) -> int:
    async with store.sessions() as db, db.begin():
        activity = Activity(
            channel=channel,
            direction=Direction.INBOUND,
            external_id=f"<{next(_numbers)}@example.si>",
            occurred_at=occurred,
            legal_entity=entity,
            partner_id=partner_id,
            category=category,
            state=ActivityState.PROCESSED,
            match_reasons=[],
            match_candidates=[],
            meta={},
        )
        db.add(activity)
        await db.flush()
        await refresh_contacts(db, [activity.id])
        return activity.id


async def ticket(store: Store, created: datetime, entity: str = "supplier", **fields: Any) -> int:
    async with store.sessions() as db, db.begin():
        found = Ticket(
            number=await allocate_ticket_number(db, created.year),
            legal_entity=entity,
            created_at=created,
            **fields,
        )
        db.add(found)
        await db.flush()
        return found.id

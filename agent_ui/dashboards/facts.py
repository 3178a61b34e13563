"""Keeping `dash_contact` in step with the activities it counts.

Every write here is a keyed upsert recomputed from the activity row itself, never an
increment: on PostgreSQL each bus event reaches every node, and each node may write
the same row with the same values. Three things call `refresh_contacts`:

- bus handlers for `activity.recorded` and the phone channel's `call.*` events;
- `catch_up`, every few seconds: activities newer than the node's cursor, and the
  calls still live in the table (so a missed `call.ended` is repaired);
- tests and the benchmark, directly.

TODO(#10): a contact's queue and category are taken from its ticket when the contact
is counted; moving the ticket to another queue later does not recount its contacts.
"""

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import exists, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from agent_ui.dashboards.models import ContactFact
from interactions.models import Activity, Channel, Direction, Ticket
from interactions.store import Store
from interactions.types import utcnow

log = structlog.get_logger(__name__)

LOCAL = ZoneInfo("Europe/Ljubljana")
#: A contact followed by another one of the same partner within this window was not
#: resolved at first contact.
REPEAT_WINDOW = timedelta(days=7)
CALL_OUTCOMES = frozenset(
    {
        "answered",
        "abandoned",
        "voicemail",
        "out_of_hours",
        "busy",
        "failed",
        "no-answer",
        "canceled",
    }
)
BATCH = 2000
#: On start, a node looks back this many activity ids, in case it missed some.
REWIND_IDS = 5000


def _seconds(value: object) -> float | None:
    """A non-negative number of seconds from the call's JSON, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    if number != number or number < 0 or number > 7 * 86400:  # NaN, negative, absurd
        return None
    return number


def _instant(value: object) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        found = datetime.fromisoformat(value)
    except ValueError:
        return None
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)


def _int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        return None
    return value


def fact_of(
    activity: Activity, ticket_queue: int | None, ticket_category: str | None
) -> dict[str, Any]:
    """The row of `dash_contact` that counts one inbound activity."""
    at = activity.occurred_at
    local = at.astimezone(LOCAL)
    row: dict[str, Any] = {
        "activity_id": activity.id,
        "channel": activity.channel[:8],
        "legal_entity": activity.legal_entity,
        "queue_id": ticket_queue,
        "partner_id": activity.partner_id,
        "employee_id": activity.employee_id,
        "ticket_id": activity.ticket_id,
        "category": (activity.category or ticket_category or None),
        "occurred_at": at,
        "repeat_until": at + REPEAT_WINDOW,
        "repeated": False,
        "local_day": local.date(),
        "local_hour": local.hour,
        "local_slot": local.hour * 2 + local.minute // 30,
        "weekday": local.weekday(),
        "outcome": None,
        "queued": False,
        "answered_at": None,
        "ended_at": None,
        "wait_seconds": None,
        "talk_seconds": None,
        "wrap_up_seconds": None,
        "updated_at": utcnow(),
    }
    call = (activity.meta or {}).get("call") if activity.channel == Channel.PHONE else None
    if isinstance(call, dict):
        outcome = call.get("outcome")
        row.update(
            queue_id=_int(call.get("queue_id")) or ticket_queue,
            employee_id=activity.employee_id or _int(call.get("agent_id")),
            outcome=outcome if outcome in CALL_OUTCOMES else None,
            queued=call.get("queued_at") is not None,
            answered_at=_instant(call.get("answered_at")),
            ended_at=_instant(call.get("ended_at")),
            wait_seconds=_seconds(call.get("wait_seconds")),
            talk_seconds=_seconds(call.get("talk_seconds")),
            wrap_up_seconds=_seconds(call.get("wrap_up_seconds")),
        )
        if row["talk_seconds"] is None and row["outcome"] == "answered":
            row["talk_seconds"] = _seconds(activity.duration_seconds)
    if row["category"] is not None:
        row["category"] = str(row["category"])[:40]
    return row


async def refresh_contacts(session: AsyncSession, activity_ids: Iterable[int]) -> int:
    """Recompute the rows of these activities (inbound only); return how many were written."""
    ids = sorted({i for i in activity_ids if isinstance(i, int)})
    written = 0
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        found = await session.execute(
            select(Activity, Ticket.queue_id, Ticket.category)
            .outerjoin(Ticket, Ticket.id == Activity.ticket_id)
            .where(Activity.id.in_(chunk), Activity.direction == Direction.INBOUND)
        )
        rows = [fact_of(activity, queue, category) for activity, queue, category in found]
        if rows:
            await _upsert(session, rows)
            await _mark_repeats(session, rows)
            written += len(rows)
    return written


async def _mark_repeats(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Flag the contacts of these rows' partners that another one followed within the window.

    A flag once set stays set, so running this again, on any node, changes nothing.
    """
    partners = {r["partner_id"] for r in rows if r["partner_id"] is not None}
    if not partners:
        return
    since = min(r["occurred_at"] for r in rows) - REPEAT_WINDOW
    later = aliased(ContactFact)
    followed = exists(
        select(literal(1)).where(
            later.partner_id == ContactFact.partner_id,
            later.legal_entity == ContactFact.legal_entity,
            later.occurred_at > ContactFact.occurred_at,
            later.occurred_at <= ContactFact.repeat_until,
        )
    )
    await session.execute(
        update(ContactFact)
        .where(
            ContactFact.partner_id.in_(sorted(partners)),
            ContactFact.occurred_at >= since,
            ContactFact.repeated.is_(False),
            followed,
        )
        .values(repeated=True)
        .execution_options(synchronize_session=False)
    )


async def _upsert(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    dialect = session.bind.dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(ContactFact)
    changed = {
        column.name: statement.excluded[column.name]
        for column in ContactFact.__table__.columns
        if column.name not in ("activity_id", "repeated")
    }
    await session.execute(
        statement.on_conflict_do_update(index_elements=["activity_id"], set_=changed), rows
    )


#: How long events gather before their contacts are counted in one transaction.
FLUSH_DELAY_S = 0.05


class FactKeeper:
    """One node's part in keeping the facts current: bus handlers and the catch-up pass."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.cursor: int | None = None
        self._pending: set[int] = set()
        self._flushing: asyncio.Task[None] | None = None

    async def soon(self, _event: str, payload: dict[str, Any]) -> None:
        """Count the contact shortly, in a batch, without holding up whoever published.

        The contact's own door (a call's webhook, a mail's intake) is never slowed by
        the dashboards; what a failed batch misses, the catch-up pass counts.
        """
        activity_id = payload.get("activity_id")
        if not isinstance(activity_id, int):
            return
        self._pending.add(activity_id)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        await asyncio.sleep(FLUSH_DELAY_S)
        while self._pending:
            ids, self._pending = sorted(self._pending), set()
            try:
                async with self.store.sessions() as session, session.begin():
                    await refresh_contacts(session, ids)
            except Exception:
                log.exception("dashboard_facts_flush_failed", contacts=len(ids))

    async def on_event(self, _event: str, payload: dict[str, Any]) -> None:
        activity_id = payload.get("activity_id")
        if isinstance(activity_id, int):
            async with self.store.sessions() as session, session.begin():
                await refresh_contacts(session, [activity_id])

    async def catch_up(self) -> int:
        """Count what the node has not seen yet, and re-read the calls still live."""
        async with self.store.sessions() as session, session.begin():
            if self.cursor is None:
                newest = await session.scalar(select(func.max(ContactFact.activity_id)))
                self.cursor = max(0, (newest or 0) - REWIND_IDS)
            new_ids = list(
                await session.scalars(
                    select(Activity.id)
                    .where(Activity.id > self.cursor)
                    .order_by(Activity.id)
                    .limit(BATCH)
                )
            )
            live = list(
                await session.scalars(
                    select(ContactFact.activity_id).where(
                        ContactFact.channel == Channel.PHONE,
                        ContactFact.outcome.is_(None),
                        ContactFact.occurred_at > utcnow() - timedelta(days=1),
                    )
                )
            )
            written = await refresh_contacts(session, [*new_ids, *live])
        if new_ids:
            self.cursor = new_ids[-1]
        return written

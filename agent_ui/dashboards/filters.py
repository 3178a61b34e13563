"""Reading a dashboard's query parameters: every bad value is a clear 400, never a 500."""

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_ui.dashboards import kpis
from agent_ui.dashboards.queries import Filters, local_today
from agent_ui.tickets import Refused
from agent_ui.users import User
from interactions.models import Channel, Employee, Queue

#: The longest period one report counts; a year and a day covers any leap year.
MAX_PERIOD_DAYS = 366
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
MAX_TARGET_S = 3600
QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
CATEGORY = re.compile(r"^[\w\-. ]{1,40}$")


def _day(query: Mapping[str, str], key: str, default: date) -> date:
    raw = query.get(key, "").strip()
    if not raw:
        return default
    try:
        found = date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        found = None
    if found is None:
        raise Refused(400, f"{key}: give a date as YYYY-MM-DD, not {raw[:20]!r}")
    if not EARLIEST <= found <= LATEST:
        raise Refused(400, f"{key}: the date must lie between 2000 and 2100")
    return found


def _number(query: Mapping[str, str], key: str) -> int | None:
    raw = query.get(key, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 12:
        raise Refused(400, f"{key}: give a whole number, not {raw[:20]!r}")
    return int(raw)


def check_entity(query: Mapping[str, str], user: User) -> None:
    """A user counts their own legal entity only (unbundling)."""
    asked = query.get("legal_entity", "").strip()
    if asked and asked != user.legal_entity:
        raise Refused(403, "you see the figures of your own legal entity only")


def target_seconds(query: Mapping[str, str]) -> int:
    target = _number(query, "target")
    if target is None:
        return kpis.DEFAULT_TARGET_S
    if not 1 <= target <= MAX_TARGET_S:
        raise Refused(400, f"target: seconds between 1 and {MAX_TARGET_S}")
    return target


async def report_filters(
    db: AsyncSession, query: Mapping[str, str], user: User, now: datetime
) -> Filters:
    """The report's filters from the query; the default is today, every queue and channel."""
    check_entity(query, user)
    today = local_today(now)
    day_from = _day(query, "from", today)
    day_to = _day(query, "to", day_from)
    if day_to < day_from:
        raise Refused(400, "to: the period ends before it starts")
    if (day_to - day_from) >= timedelta(days=MAX_PERIOD_DAYS):
        raise Refused(
            400, f"the period is longer than {MAX_PERIOD_DAYS} days; choose a shorter one"
        )

    queue_id = _number(query, "queue")
    if queue_id is not None:
        entity = await db.scalar(select(Queue.legal_entity).where(Queue.id == queue_id))
        if entity != user.legal_entity:
            raise Refused(400, f"queue: there is no queue {queue_id} of your legal entity")
    agent_id = _number(query, "agent")
    if agent_id is not None:
        entity = await db.scalar(select(Employee.legal_entity).where(Employee.id == agent_id))
        if entity != user.legal_entity:
            raise Refused(400, f"agent: there is no agent {agent_id} of your legal entity")

    channel = query.get("channel", "").strip() or None
    if channel is not None and channel not in set(Channel):
        raise Refused(400, f"channel: one of {', '.join(Channel)}")
    category = query.get("category", "").strip() or None
    if category is not None and not CATEGORY.match(category):
        raise Refused(400, "category: up to 40 letters, digits, spaces, - _ or .")
    return Filters(
        legal_entity=user.legal_entity,
        day_from=day_from,
        day_to=day_to,
        queue_id=queue_id,
        channel=channel,
        category=category,
        agent_id=agent_id,
        params=kpis.Params(target_s=target_seconds(query)),
    )


def quarter(query: Mapping[str, str], now: datetime) -> tuple[int, int]:
    """The quarter asked for as `2026-Q3`; the default is the last complete quarter."""
    raw = query.get("quarter", "").strip()
    if not raw:
        today = local_today(now)
        index = (today.month - 1) // 3  # the current quarter, 0-based
        return (today.year, index) if index else (today.year - 1, 4)
    found = QUARTER.match(raw)
    if found is None:
        raise Refused(400, f"quarter: give it as 2026-Q3, not {raw[:20]!r}")
    year = int(found.group(1))
    if not EARLIEST.year <= year <= LATEST.year:
        raise Refused(400, "quarter: the year must lie between 2000 and 2100")
    return year, int(found.group(2))

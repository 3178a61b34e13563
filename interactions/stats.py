"""Counts an operator wants at a glance."""

from typing import Any

from sqlalchemy import func, select

from interactions.models import Activity, ActivityState, MeteringPoint, Partner, Ticket
from interactions.store import Store


async def collect_stats(store: Store) -> dict[str, Any]:
    """Return partners, metering points, activities by channel and state, tickets by status."""
    async with store.sessions() as session:
        partners = await session.scalar(
            select(func.count()).select_from(Partner).where(Partner.merged_into_id.is_(None))
        )
        metering_points = await session.scalar(select(func.count()).select_from(MeteringPoint))
        by_channel = await session.execute(
            select(Activity.channel, Activity.state, func.count()).group_by(
                Activity.channel, Activity.state
            )
        )
        by_status = await session.execute(
            select(Ticket.status, func.count()).group_by(Ticket.status)
        )

    activities: dict[str, dict[str, int]] = {}
    failed = 0
    for channel, state, n in by_channel:
        activities.setdefault(channel, {})[state] = n
        if state == ActivityState.FAILED:
            failed += n
    return {
        "partners": partners,
        "metering_points": metering_points,
        "activities": activities,
        "activities_total": sum(sum(s.values()) for s in activities.values()),
        "tickets": dict(sorted(by_status.tuples().all())),
        "failed_contacts": failed,
    }

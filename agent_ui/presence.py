"""Agent presence: available, on a break with a reason, or offline.

This is the one place presence is read and written, so that routing can take it
over by replacing these functions; every change is published as `agent.presence`.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import structlog
from sqlalchemy import select

from agent_ui.models import AgentPresence
from interactions.db import retrying
from interactions.store import Store
from interactions.types import utcnow
from routing.models import AgentState
from routing.models import Presence as RoutingPresence

log = structlog.get_logger(__name__)


# TODO(#9): routing takes presence over, with grace periods and re-routing on offline.
class PresenceState(StrEnum):
    AVAILABLE = "available"
    BREAK = "break"
    OFFLINE = "offline"


class BreakReason(StrEnum):
    LUNCH = "lunch"
    PAUSE = "pause"
    MEETING = "meeting"
    TRAINING = "training"
    BACK_OFFICE = "back_office"


@dataclass(frozen=True)
class Presence:
    state: PresenceState
    reason: BreakReason | None
    since: datetime | None
    #: Routing paused the agent after a call rang out at them: no calls until they
    #: choose Available again, whatever the switch still says.
    missed: bool = False


OFFLINE = Presence(PresenceState.OFFLINE, None, None)


class InvalidPresence(ValueError):
    pass


async def get_presence(store: Store, employee_id: int) -> Presence:
    async with store.sessions() as session:
        row = await session.get(AgentPresence, employee_id)
        routed = await session.scalar(
            select(AgentState.presence).where(AgentState.employee_id == employee_id)
        )
    if row is None:
        return OFFLINE
    reason = BreakReason(row.reason) if row.reason else None
    missed = row.state == PresenceState.AVAILABLE and routed == RoutingPresence.MISSED
    return Presence(PresenceState(row.state), reason, row.since, missed)


async def presence_of_team(store: Store, employee_ids: list[int]) -> dict[int, Presence]:
    async with store.sessions() as session:
        rows = await session.scalars(
            select(AgentPresence).where(AgentPresence.employee_id.in_(employee_ids))
        )
        found = {
            r.employee_id: Presence(
                PresenceState(r.state), BreakReason(r.reason) if r.reason else None, r.since
            )
            for r in rows
        }
    return {eid: found.get(eid, OFFLINE) for eid in employee_ids}


async def set_presence(
    store: Store, employee_id: int, state: str, reason: str | None = None
) -> Presence:
    """Store the agent's new presence and tell every node; a break needs a reason."""
    try:
        new_state = PresenceState(state)
        new_reason = BreakReason(reason) if new_state is PresenceState.BREAK else None
    except ValueError:
        raise InvalidPresence(f"unknown presence {state!r} / {reason!r}") from None
    now = utcnow()

    async def write() -> None:
        async with store.sessions() as session, session.begin():
            row = await session.get(AgentPresence, employee_id, with_for_update=True)
            if row is None:
                row = AgentPresence(employee_id=employee_id)
                session.add(row)
            row.state, row.reason, row.since = new_state, new_reason, now

    await retrying(write)
    log.info("presence_changed", employee_id=employee_id, state=new_state, reason=new_reason)
    await store.bus.publish(
        "agent.presence",
        {"employee_id": employee_id, "state": new_state, "reason": new_reason},
    )
    return Presence(new_state, new_reason, now)

"""The screen-pop: who is calling, shown to the agent whose phone rings, before hello.

Routing offers a call (`task.offered`, heard only on the node that decided); this
module assembles what the agent needs in the first second — the caller's number, the
matcher's answer (the partner and metering point with score and reasons, the
candidates of a shared number, or an unknown caller), the caller's open tickets with
their SLA state, and the last five contacts on any channel — and pushes it to every
open page of that agent on any node (`agent_ui.push`). A call that leaves the agent
(declined, ring timeout, hung up) withdraws the pop.

Only the agent's own legal entity's tickets and contacts are shown (unbundling);
partner names and metering points are master data, shared.
"""

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_ui.push import push_to_agent
from channels.phone.calls import CallDesk
from interactions.models import Activity, MeteringPoint, Partner, Ticket, TicketStatus
from interactions.store import Store
from interactions.types import utcnow
from routing.models import Task, TaskKind

log = structlog.get_logger(__name__)

RECENT_CONTACTS = 5
OPEN_TICKETS = 10
OPEN = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING_CUSTOMER)
AT_RISK_SECONDS = 3600


def partner_name(partner: Partner) -> str:
    if partner.organisation_name:
        return partner.organisation_name
    return " ".join(n for n in (partner.first_name, partner.last_name) if n) or f"#{partner.id}"


def sla_state(ticket: Ticket, now: datetime) -> str:
    due = ticket.resolution_due if ticket.first_responded_at else ticket.first_response_due
    if ticket.breaches or (due is not None and due < now):
        return "breached"
    if due is None:
        return "none"
    return "at_risk" if (due - now).total_seconds() < AT_RISK_SECONDS else "on_time"


async def build(session: AsyncSession, task: Task, activity: Activity) -> dict[str, Any]:
    """The pop's payload for one offered call."""
    now = utcnow()
    call = (activity.meta or {}).get("call", {})
    ranked = [c for c in activity.match_candidates or [] if isinstance(c, dict)]
    partner_ids = [int(c["partner_id"]) for c in ranked if c.get("partner_id") is not None]
    if activity.partner_id is not None and activity.partner_id not in partner_ids:
        partner_ids.insert(0, activity.partner_id)
    partners = {
        p.id: p for p in await session.scalars(select(Partner).where(Partner.id.in_(partner_ids)))
    }
    point_ids = {c.get("metering_point_id") for c in ranked} | {activity.metering_point_id}
    points = {
        m.id: m.eimm
        for m in await session.scalars(
            select(MeteringPoint).where(MeteringPoint.id.in_(point_ids - {None}))
        )
    }
    candidates = []
    for c in ranked or [{"partner_id": activity.partner_id}] * (activity.partner_id is not None):
        partner = partners.get(int(c["partner_id"]))
        if partner is None:
            continue
        mp_id = c.get("metering_point_id")
        candidates.append(
            {
                "partner_id": partner.id,
                "name": partner_name(partner),
                "segment": partner.segment,
                "language": partner.language,
                "vulnerable": partner.vulnerable,
                "metering_point_id": mp_id,
                "metering_point": c.get("metering_point") or points.get(mp_id),
                "score": c.get("score"),
                "reasons": c.get("reasons", []),
            }
        )
    known = [p for p in partner_ids if p in partners]
    tickets, recent = [], []
    if known:
        mine = (Ticket.partner_id.in_(known), Ticket.legal_entity == activity.legal_entity)
        for t in await session.scalars(
            select(Ticket)
            .where(*mine, Ticket.status.in_(OPEN))
            .order_by(Ticket.created_at.desc())
            .limit(OPEN_TICKETS)
        ):
            tickets.append(
                {
                    "id": t.id,
                    "number": t.number,
                    "subject": t.subject,
                    "status": t.status,
                    "category": t.category,
                    "partner_id": t.partner_id,
                    "sla": sla_state(t, now),
                }
            )
        for a in await session.scalars(
            select(Activity)
            .where(
                Activity.partner_id.in_(known),
                Activity.legal_entity == activity.legal_entity,
                Activity.id != activity.id,
                or_(Activity.state != "failed", Activity.state.is_(None)),
            )
            .order_by(Activity.occurred_at.desc(), Activity.id.desc())
            .limit(RECENT_CONTACTS)
        ):
            recent.append(
                {
                    "id": a.id,
                    "channel": a.channel,
                    "direction": a.direction,
                    "occurred_at": a.occurred_at.isoformat(),
                    "subject": (a.subject or "")[:160],
                    "category": a.category,
                    "partner_id": a.partner_id,
                }
            )
    outcome = activity.match_outcome or "unknown"
    return {
        "activity_id": activity.id,
        "task_id": task.id,
        "call_sid": call.get("sid"),
        "caller": call.get("from") or activity.sender_address,
        "caller_kind": call.get("caller_kind", "number"),
        "dialled": call.get("to"),
        "language": call.get("language"),
        "offer_expires_at": task.offer_expires_at.isoformat() if task.offer_expires_at else None,
        "outcome": outcome,
        "candidates": candidates,
        "open_tickets": tickets,
        "recent_contacts": recent,
        "view_url": f"/partners/{candidates[0]['partner_id']}"
        if outcome == "matched" and candidates
        else None,
    }


class ScreenPops:
    """Bus handlers that turn routing's offers into pushes to the agent's pages."""

    def __init__(self, store: Store, desk: CallDesk) -> None:
        self.store = store
        self.desk = desk

    def install(self) -> None:
        bus = self.store.bus
        bus.subscribe("task.offered", self.on_offered, local=True)
        bus.subscribe("task.requeued", self.on_requeued, local=True)
        bus.subscribe("call.ended", self.on_ended, local=True)

    async def on_offered(self, _event: str, message: dict[str, Any]) -> None:
        if message.get("kind") != TaskKind.CALL:
            return
        now = utcnow()
        async with self.store.sessions() as session:
            task = await session.get(Task, int(message["task_id"]))
            if task is None or task.activity_id is None or task.agent_id is None:
                return
            activity = await session.get(Activity, task.activity_id)
            if activity is None or activity.channel not in ("phone",):
                return
            payload = await build(session, task, activity)
        await push_to_agent(self.store, task.agent_id, "screen_pop", payload)
        log.info("screen_pop_pushed", task_id=task.id, agent_id=task.agent_id)
        await self.desk.offered(activity.id, task.agent_id, now)

    async def on_requeued(self, _event: str, message: dict[str, Any]) -> None:
        agent_id = message.get("agent_id")
        if isinstance(agent_id, int):
            await push_to_agent(
                self.store,
                agent_id,
                "call_withdrawn",
                {"task_id": message.get("task_id"), "reason": message.get("reason")},
            )

    async def on_ended(self, _event: str, message: dict[str, Any]) -> None:
        async with self.store.sessions() as session:
            rows = await session.execute(
                select(Task.id, Task.agent_id).where(Task.activity_id == message["activity_id"])
            )
            agents = {agent for _task, agent in rows if agent is not None}
            activity = await session.get(Activity, message["activity_id"])
        offered = (activity.meta or {}).get("call", {}).get("offered_to", []) if activity else []
        for agent_id in agents | {a for a in offered if isinstance(a, int)}:
            await push_to_agent(
                self.store,
                agent_id,
                "call_ended",
                {
                    "activity_id": message["activity_id"],
                    "outcome": message.get("outcome"),
                    "talk_seconds": message.get("talk_seconds"),
                },
            )

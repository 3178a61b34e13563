"""Live events to agents' pages: one WebSocket per open page, on whichever node holds it.

`push_to_agent` is the API other packages call (the phone channel's screen-pop,
routing's offers): the event is stored first, so a page that reconnects after a
drop asks for everything after the last id it saw, and then published on the event
bus, which reaches every node; the node holding the agent's socket sends it.

The phone channel pushes kind `screen_pop` (see `channels.phone.screen_pop` for the
payload: caller, candidates, open tickets, last contacts, the task to answer),
`call_withdrawn` and `call_ended`; the workspace shows the pop with Answer and Decline,
links to the customer view and a wrap-up form.
"""

import asyncio
import json
from collections import defaultdict
from datetime import timedelta
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy import delete, select

from agent_ui.models import AgentEvent
from interactions.db import retrying
from interactions.models import Ticket
from interactions.store import Store
from interactions.types import utcnow

log = structlog.get_logger(__name__)

PUSH_EVENT = "agent.push"
#: NOTIFY carries at most 8000 bytes; larger payloads are read from the table instead.
MAX_INLINE_PAYLOAD = 6000
KEEP_EVENTS = timedelta(days=1)
RESEND_LIMIT = 200
#: How often, at most, an entity's pages are told to count their queues again.
RECOUNT_SECONDS = 1.0


async def push_to_agent(store: Store, employee_id: int, kind: str, payload: dict[str, Any]) -> int:
    """Deliver an event to every open page of one agent, on any node; return its id."""

    async def keep() -> int:
        async with store.sessions() as session, session.begin():
            event = AgentEvent(employee_id=employee_id, kind=kind, payload=payload)
            session.add(event)
            await session.flush()
            return event.id

    event_id = await retrying(keep)
    message: dict[str, Any] = {"id": event_id, "employee_id": employee_id, "kind": kind}
    if len(json.dumps(payload, default=str)) <= MAX_INLINE_PAYLOAD:
        message["payload"] = payload
    await store.bus.publish(PUSH_EVENT, message)
    return event_id


async def missed_events(store: Store, employee_id: int, after: int) -> list[dict[str, Any]]:
    """Return the agent's events after id `after`, oldest first, as pages receive them."""
    async with store.sessions() as session:
        rows = await session.scalars(
            select(AgentEvent)
            .where(AgentEvent.employee_id == employee_id, AgentEvent.id > after)
            .order_by(AgentEvent.id)
            .limit(RESEND_LIMIT)
        )
        return [{"id": r.id, "kind": r.kind, "payload": r.payload} for r in rows]


async def last_event_id(store: Store, employee_id: int) -> int:
    async with store.sessions() as session:
        found = await session.scalar(
            select(AgentEvent.id)
            .where(AgentEvent.employee_id == employee_id)
            .order_by(AgentEvent.id.desc())
            .limit(1)
        )
    return found or 0


async def forget_old_events(store: Store) -> None:
    async with store.sessions() as session, session.begin():
        await session.execute(delete(AgentEvent).where(AgentEvent.at < utcnow() - KEEP_EVENTS))


class SocketHub:
    """The WebSockets open on this node, by agent, fed from the event bus."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._sockets: dict[int, set[web.WebSocketResponse]] = defaultdict(set)
        self._entity: dict[int, str] = {}
        self._recount: dict[str, asyncio.Task[None]] = {}
        store.bus.subscribe(PUSH_EVENT, self._on_push)
        store.bus.subscribe("ticket.opened", self._on_ticket_opened)
        for event in ("call.queued", "call.answered", "call.ended"):
            store.bus.subscribe(event, self._on_call)

    def add(self, employee_id: int, legal_entity: str, ws: web.WebSocketResponse) -> None:
        self._sockets[employee_id].add(ws)
        self._entity[employee_id] = legal_entity

    def remove(self, employee_id: int, ws: web.WebSocketResponse) -> None:
        sockets = self._sockets.get(employee_id)
        if sockets is not None:
            sockets.discard(ws)
            if not sockets:
                del self._sockets[employee_id]
                self._entity.pop(employee_id, None)

    def connected(self, employee_id: int) -> int:
        return len(self._sockets.get(employee_id, ()))

    async def close_all(self) -> None:
        for pending in self._recount.values():
            pending.cancel()
        for sockets in list(self._sockets.values()):
            for ws in list(sockets):
                await ws.close(code=1001, message=b"server shutdown")

    async def _on_push(self, _event: str, message: dict[str, Any]) -> None:
        employee_id = message.get("employee_id")
        if not isinstance(employee_id, int) or employee_id not in self._sockets:
            return
        if "payload" not in message:
            found = await missed_events(self.store, employee_id, int(message["id"]) - 1)
            message = {**message, **(found[0] if found else {"payload": {}})}
        frame = {k: message[k] for k in ("id", "kind", "payload")}
        await self._send(self._sockets[employee_id], frame)

    async def _on_ticket_opened(self, _event: str, message: dict[str, Any]) -> None:
        """Every node hears of a new ticket; each tells its own pages of that entity."""
        ticket_id = message.get("ticket_id")
        if not self._sockets or not isinstance(ticket_id, int):
            return
        async with self.store.sessions() as session:
            entity = await session.scalar(select(Ticket.legal_entity).where(Ticket.id == ticket_id))
        self.queues_changed(entity or "")

    async def _on_call(self, _event: str, message: dict[str, Any]) -> None:
        """A caller joined or left a line: the entity's pages count their queues again."""
        if self._sockets and isinstance(message.get("legal_entity"), str):
            self.queues_changed(message["legal_entity"])

    def queues_changed(self, entity: str) -> None:
        """Tell the entity's pages, once per `RECOUNT_SECONDS` however busy the lines are.

        Every page fetches its queue counts when told, so a busy call centre would
        otherwise have every browser asking several times a second.
        """
        if entity in self._recount and not self._recount[entity].done():
            return

        async def later() -> None:
            await asyncio.sleep(RECOUNT_SECONDS)
            await self.send_to_entity(entity, {"kind": "queues.changed", "payload": {}})

        self._recount[entity] = asyncio.create_task(later())

    async def send_to_entity(self, entity: str, frame: dict[str, Any]) -> None:
        """Send `frame` to this node's pages of one legal entity (not kept for resend)."""
        targets = [
            ws
            for eid, sockets in self._sockets.items()
            if self._entity.get(eid) == entity
            for ws in sockets
        ]
        await self._send(set(targets), frame)

    async def _send(self, sockets: set[web.WebSocketResponse], frame: dict[str, Any]) -> None:
        text = json.dumps(frame, default=str)
        results = await asyncio.gather(
            *(ws.send_str(text) for ws in list(sockets) if not ws.closed),
            return_exceptions=True,
        )
        failed = sum(isinstance(r, Exception) for r in results)
        if failed:
            log.warning("push_send_failed", sockets=failed, kind=frame.get("kind"))

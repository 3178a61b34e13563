"""The wallboard's live feed: each node sends its own open wallboards a fresh snapshot.

A node keeps the wallboard sockets it holds, by legal entity. Every `TICK_SECONDS`,
and soon after any event that changes a figure (a call queued, answered or ended, a
task, a presence change, a new ticket), it counts the entity's figures once and
sends them to its sockets. Nothing is incremented from events: each snapshot is
counted from the database, so the relay of every event to every node changes
nothing but how soon the next snapshot comes.
"""

import asyncio
import contextlib
import json
from collections import defaultdict
from typing import Any

import structlog
from aiohttp import web

from agent_ui.dashboards import metrics, queries
from agent_ui.dashboards.facts import FactKeeper
from interactions.store import Store
from interactions.types import utcnow

log = structlog.get_logger(__name__)

TICK_SECONDS = 3.0
#: After an event, wait this long for others of the same burst before counting.
SETTLE_SECONDS = 0.3
WAKING_EVENTS = (
    "call.queued",
    "call.answered",
    "call.ended",
    "activity.recorded",
    "ticket.opened",
    "ticket.reopened",
    "task.queued",
    "task.done",
    "agent.presence",
)
FACT_EVENTS = ("activity.recorded", "call.queued", "call.answered", "call.ended")


class WallboardHub:
    """This node's wallboard sockets, by legal entity, and the loop that feeds them."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.keeper = FactKeeper(store)
        self._sockets: dict[str, dict[web.WebSocketResponse, int]] = defaultdict(dict)
        self._wake = asyncio.Event()
        self.tick_seconds = TICK_SECONDS
        for event in FACT_EVENTS:
            # Local: the node that changed a contact counts it; the catch-up covers the rest.
            store.bus.subscribe(event, self.keeper.soon, local=True)
        for event in WAKING_EVENTS:
            store.bus.subscribe(event, self._on_event)

    def add(self, entity: str, ws: web.WebSocketResponse, target_s: int) -> None:
        self._sockets[entity][ws] = target_s

    def remove(self, entity: str, ws: web.WebSocketResponse) -> None:
        self._sockets[entity].pop(ws, None)
        if not self._sockets[entity]:
            del self._sockets[entity]

    async def _on_event(self, _event: str, _payload: dict[str, Any]) -> None:
        self.wake()

    def wake(self) -> None:
        """Count and send soon, without waiting for the next tick."""
        self._wake.set()

    async def snapshot(self, entity: str, target_s: int) -> dict[str, Any]:
        async with self.store.sessions() as db:
            board = await queries.wallboard(db, entity, utcnow(), target_s)
        metrics.observe_wallboard(board)
        return board

    async def tick(self) -> None:
        """Bring the facts up to date and send each open wallboard its figures."""
        await self.keeper.catch_up()
        for entity, sockets in list(self._sockets.items()):
            for target_s in set(sockets.values()):
                frame = json.dumps(
                    {"kind": "wallboard", "payload": await self.snapshot(entity, target_s)}
                )
                targets = [ws for ws, t in sockets.items() if t == target_s and not ws.closed]
                results = await asyncio.gather(
                    *(ws.send_str(frame) for ws in targets), return_exceptions=True
                )
                failed = sum(isinstance(r, Exception) for r in results)
                if failed:
                    log.warning("wallboard_send_failed", sockets=failed)

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                metrics.ERRORS.labels(where="wallboard_tick").inc()
                log.exception("wallboard_tick_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.tick_seconds)
                await asyncio.sleep(SETTLE_SECONDS)
            self._wake.clear()

    async def close_all(self) -> None:
        for sockets in list(self._sockets.values()):
            for ws in list(sockets):
                await ws.close(code=1001, message=b"server shutdown")

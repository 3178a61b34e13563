"""A small event bus between packages (ticket opened, activity recorded, task offered).

Handlers run in the node that publishes, after the change they describe was committed.
On PostgreSQL, `PostgresRelay` carries every event to the other Stik nodes through
LISTEN/NOTIFY, so that a screen-pop reaches the node that holds the agent's socket.
A failing handler is logged and affects neither the publisher nor other handlers.
"""

import asyncio
import json
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog

log = structlog.get_logger(__name__)

Handler = Callable[[str, dict[str, Any]], Awaitable[None]]

CHANNEL = "stik_events"


class EventBus:
    def __init__(self) -> None:
        self.node_id = uuid.uuid4().hex
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._local: set[tuple[str, Handler]] = set()
        self._relay: PostgresRelay | None = None

    def subscribe(self, event: str, handler: Handler, *, local: bool = False) -> None:
        """Call `handler(event, payload)` for every `event`; "*" subscribes to all.

        A `local` handler hears only the events published on this node: work that one
        node must do once (route a new call, build a screen-pop), not every node.
        """
        self._handlers[event].append(handler)
        if local:
            self._local.add((event, handler))

    async def publish(self, event: str, payload: dict[str, Any]) -> None:
        """Deliver `event` to this node's handlers, and to other nodes through the relay."""
        await self.dispatch(event, payload)
        if self._relay is not None:
            await self._relay.send(event, payload)

    async def dispatch(self, event: str, payload: dict[str, Any], *, remote: bool = False) -> None:
        for name in (event, "*"):
            for handler in list(self._handlers.get(name, ())):
                if remote and (name, handler) in self._local:
                    continue
                await self._call(handler, event, payload)

    async def _call(self, handler: Handler, event: str, payload: dict[str, Any]) -> None:
        try:
            await handler(event, payload)
        except Exception:
            log.exception("event_handler_failed", event_name=event)


class PostgresRelay:
    """Carries a bus's events between nodes over one LISTEN connection per node."""

    def __init__(self, bus: EventBus, dsn: str) -> None:
        self.bus = bus
        self.dsn = dsn
        self._conn: asyncpg.Connection | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sending = asyncio.Lock()  # one connection runs one statement at a time

    async def start(self) -> None:
        """Connect and listen; raises when PostgreSQL cannot be reached."""
        self._conn = await asyncpg.connect(self.dsn)
        await self._conn.add_listener(CHANNEL, self._received)
        self.bus._relay = self
        log.info("event_relay_started", node=self.bus.node_id)

    async def keep_connected(self, max_pause: float = 30.0) -> None:
        """Stay connected until cancelled, reconnecting with a growing pause."""
        pause = 0.5
        while True:
            if self._conn is None or self._conn.is_closed():
                try:
                    await self.start()
                    pause = 0.5
                except (OSError, asyncpg.PostgresError) as exc:
                    log.warning("event_relay_unavailable", error=type(exc).__name__, retry_s=pause)
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, max_pause)
                    continue
            await asyncio.sleep(1.0)

    async def close(self) -> None:
        self.bus._relay = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
        for task in list(self._tasks):
            task.cancel()

    async def send(self, event: str, payload: dict[str, Any]) -> None:
        if self._conn is None:
            return
        message = json.dumps({"node": self.bus.node_id, "event": event, "payload": payload})
        try:
            async with self._sending:
                await self._conn.execute("SELECT pg_notify($1, $2)", CHANNEL, message)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            log.warning("event_relay_send_failed", event_name=event)

    def _received(self, _conn: object, _pid: int, _channel: str, message: str) -> None:
        try:
            data = json.loads(message)
        except ValueError:
            log.warning("event_relay_bad_message")
            return
        if not isinstance(data, dict) or not isinstance(data.get("event"), str):
            log.warning("event_relay_bad_message")
            return
        if data.get("node") == self.bus.node_id:
            return
        task = asyncio.get_running_loop().create_task(
            self.bus.dispatch(data["event"], data.get("payload") or {}, remote=True)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

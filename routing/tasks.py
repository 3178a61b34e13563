"""The engine as background work of the aiohttp app: bus events in, timers swept.

`setup(app)` subscribes the engine to `ticket.opened` and `activity.recorded` and
runs the timer sweep every `SWEEP_SECONDS`. A restarted node resumes from the
database; several nodes on PostgreSQL share the work (see routing.engine).
"""

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from routing.engine import RoutingEngine

log = structlog.get_logger(__name__)

SWEEP_SECONDS = 1.0
ENGINE = web.AppKey("routing_engine", RoutingEngine)


async def run_sweeps(engine: RoutingEngine, every: float = SWEEP_SECONDS) -> None:
    """Sweep timers forever; a failed sweep is logged and the next one runs."""
    while True:
        try:
            await engine.sweep()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("routing_sweep_failed")
        await asyncio.sleep(every)


def setup(app: web.Application) -> None:
    """Start the routing engine with the app and stop it on cleanup.

    `routing = "off"` in the config file (or STIK_ROUTING=off) leaves the engine out,
    for a node that should only serve pages while others route.
    """
    from stik.app import SETTINGS, STORE

    switch = os.environ.get("STIK_ROUTING") or str(app[SETTINGS].extra.get("routing", "on"))
    if switch.lower() in ("off", "false", "0", "no"):
        log.info("routing_engine_off")
        return
    store = app[STORE]
    engine = RoutingEngine(store)
    app[ENGINE] = engine
    # Local: the node that recorded a contact routes it; the others only hear of it.
    store.bus.subscribe("ticket.opened", engine.on_event, local=True)
    store.bus.subscribe("activity.recorded", engine.on_event, local=True)
    store.bus.subscribe("agent.presence", engine.on_event, local=True)
    if store.dialect == "sqlite":
        # SQLite serialises writers: one node routes; several nodes need PostgreSQL.
        log.info("routing_single_node", database="sqlite")

    async def engine_context(app: web.Application) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(run_sweeps(engine))
        yield
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper

    app.cleanup_ctx.append(engine_context)

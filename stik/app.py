"""The aiohttp application factory: wires the store, the packages' routes and probes."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy import text

import channels.email
import channels.fax
import channels.phone
import channels.post
import channels.visit
import channels.web
from agent_ui.routes import setup as setup_agent_ui
from interactions import schema
from interactions.db import plain_dsn
from interactions.events import PostgresRelay
from interactions.matching import install as install_matching
from interactions.store import Store
from interactions.triage.web import setup as setup_triage
from routing import tasks as routing_tasks
from stik.config import Settings

log = structlog.get_logger(__name__)

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
#: Background parts that show their state in /readyz: name -> a function returning it.
READINESS = web.AppKey("readiness", dict[str, Callable[[], dict[str, Any]]])


async def healthz(request: web.Request) -> web.Response:
    """The process is alive and serving."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """The database answers and its schema is at the migrations' head."""
    store = request.app[STORE]
    try:
        async with store.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        current = await schema.current_revision(store.engine)
    except Exception as exc:
        log.warning("readyz_database_unreachable", error=type(exc).__name__)
        return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)
    head = schema.head_revision()
    if current != head:
        return web.json_response(
            {"status": "unavailable", "database": "ok", "schema": current, "expected": head},
            status=503,
        )
    body: dict[str, Any] = {"status": "ok", "database": store.dialect, "schema": current}
    body.update({name: report() for name, report in request.app[READINESS].items()})
    return web.json_response(body)


def create_app(settings: Settings, store: Store | None = None) -> web.Application:
    """Build the application; the store is opened from settings unless one is given."""
    app = web.Application(client_max_size=32 * 1024 * 1024)
    app[SETTINGS] = settings
    app[STORE] = store or Store.open(settings.effective_database_url)
    app[READINESS] = {}
    install_matching(app[STORE], settings.extra.get("matching", {}))
    setup_triage(app, app[STORE], settings.data_dir / "triage")
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    channels.email.setup(app)
    channels.web.setup(app)
    channels.post.setup(app)
    channels.fax.setup(app)
    channels.visit.setup(app)
    routing_tasks.setup(app)
    channels.phone.setup(app)  # after routing: the phone's calls go to its engine

    async def close_store(app: web.Application) -> None:
        await app[STORE].close()

    if store is None:
        app.on_cleanup.append(close_store)
    app.cleanup_ctx.append(event_relay)
    setup_agent_ui(app)
    return app


async def event_relay(app: web.Application) -> AsyncIterator[None]:
    """On PostgreSQL, share the event bus with the other nodes while the app runs."""
    store = app[STORE]
    if store.dialect != "postgresql":
        yield
        return
    url = store.engine.url.render_as_string(hide_password=False)
    relay = PostgresRelay(store.bus, plain_dsn(url))
    keeper = asyncio.create_task(relay.keep_connected())
    yield
    keeper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await keeper
    await relay.close()

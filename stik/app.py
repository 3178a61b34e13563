"""The aiohttp application factory: wires the store, the packages' routes and probes."""

from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy import text

import channels.email
from interactions import schema
from interactions.store import Store
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
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    channels.email.setup(app)

    async def close_store(app: web.Application) -> None:
        await app[STORE].close()

    if store is None:
        app.on_cleanup.append(close_store)
    return app

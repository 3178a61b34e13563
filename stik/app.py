"""The aiohttp application factory: wires the store, the packages' routes and probes."""

import structlog
from aiohttp import web
from sqlalchemy import text

from interactions import schema
from interactions.store import Store
from routing import tasks as routing_tasks
from stik.config import Settings

log = structlog.get_logger(__name__)

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)


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
    return web.json_response({"status": "ok", "database": store.dialect, "schema": current})


def create_app(settings: Settings, store: Store | None = None) -> web.Application:
    """Build the application; the store is opened from settings unless one is given."""
    app = web.Application(client_max_size=32 * 1024 * 1024)
    app[SETTINGS] = settings
    app[STORE] = store or Store.open(settings.effective_database_url)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    routing_tasks.setup(app)

    async def close_store(app: web.Application) -> None:
        await app[STORE].close()

    if store is None:
        app.on_cleanup.append(close_store)
    return app

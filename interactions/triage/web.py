"""Wiring triage into the aiohttp application: install it and load the model early."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from aiohttp import web

from interactions.store import Store
from interactions.triage import install
from interactions.triage.service import Triage

log = structlog.get_logger(__name__)


def setup(app: web.Application, store: Store, model_dir: Path) -> Triage:
    """Install triage on `store`; load its model in a thread while the app starts."""
    triage = install(store, model_dir)

    async def load_model_early(app: web.Application) -> AsyncIterator[None]:
        loading = asyncio.create_task(asyncio.to_thread(lambda: triage.model))
        yield
        try:
            await loading
        except Exception as exc:  # the first contact will try again and park on failure
            log.warning("triage_model_not_loaded", error=type(exc).__name__)

    app.cleanup_ctx.append(load_model_early)
    return triage

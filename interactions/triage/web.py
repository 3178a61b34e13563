"""Wiring triage into the aiohttp application: install it and load the model early."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from interactions.store import Store
from interactions.triage import install
from interactions.triage.service import Triage


def setup(app: web.Application, store: Store, model_dir: Path) -> Triage:
    """Install triage on `store`; load its model in a thread while the app starts."""
    triage = install(store, model_dir)

    async def load_model_early(app: web.Application) -> AsyncIterator[None]:
        loading = asyncio.create_task(asyncio.to_thread(lambda: triage.model))
        yield
        await loading

    app.cleanup_ctx.append(load_model_early)
    return triage

"""Browser fixtures: Debian's Chromium driven by Playwright, and Stik on a free port."""

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from interactions.store import Store
from stik.app import create_app
from stik.config import Settings
from tests.conftest import missing

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def chromium_installed() -> bool:
    return CHROMIUM.exists()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """A headless Chromium; never downloaded, the system's own."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        missing("playwright is not installed")
    if not chromium_installed():
        missing("Debian chromium is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def live_stik(store: Store, tmp_path: Path) -> AsyncIterator[str]:
    """Stik serving the given store on a free loopback port; yields its base URL."""
    settings = Settings(data_dir=tmp_path, extra={"post": {"watch": False}})
    runner = web.AppRunner(create_app(settings, store=store))
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()

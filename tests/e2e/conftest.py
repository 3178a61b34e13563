"""Browser fixtures: Debian's Chromium via Playwright, and Stik on a free port.

`server` is a real `stik serve` subprocess on the PostgreSQL test database, so that
events the test publishes from its own process reach the server's pages over
LISTEN/NOTIFY, as another node's would. `live_stik` serves the test's own store
in-process.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from interactions.db import plain_dsn
from interactions.events import PostgresRelay
from interactions.store import Store
from stik.app import create_app
from stik.config import Settings
from tests.conftest import _empty, missing, postgres_url

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("STIK_E2E_ARTIFACTS", Path(__file__).parents[2] / "var" / "e2e"))


def stik_command() -> list[str]:
    return [sys.executable, "-m", "stik"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    env: dict[str, str]
    data_dir: Path
    store: Store


@pytest.fixture
async def e2e_store() -> AsyncIterator[Store]:
    """The test's own node: its events reach the server over LISTEN/NOTIFY."""
    url = await postgres_url()
    store = Store.open(url)
    await _empty(store)
    relay = PostgresRelay(store.bus, plain_dsn(url))
    await relay.start()
    yield store
    await relay.close()
    await store.close()


def add_user(
    env: dict[str, str],
    login: str,
    password: str,
    *,
    role: str = "agent",
    entity: str = "supplier",
    unit: str = "back_office",
    language: str = "sl",
) -> None:
    """Add an employee the way an administrator does: `stik users add`."""
    subprocess.run(
        [
            *stik_command(),
            "users",
            "add",
            login,
            "--role",
            role,
            "--legal-entity",
            entity,
            "--org-unit",
            unit,
            "--full-name",
            login.title(),
            "--language",
            language,
        ],
        env={**env, "STIK_USER_PASSWORD": password},
        check=True,
        capture_output=True,
    )


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait for `stik serve` to say /readyz; fail with its log if it dies or takes 30 s."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(log.read_text()[-3000:])
        time.sleep(0.2)


@pytest.fixture
def server(e2e_store: Store, tmp_path: Path) -> Iterator[Server]:
    """`stik serve` in its own process, ready when /readyz says so."""
    port = free_port()
    env = {
        **os.environ,
        "STIK_DATABASE_URL": e2e_store.engine.url.render_as_string(hide_password=False),
        "STIK_DATA_DIR": str(tmp_path / "data"),
        "STIK_LOG_LEVEL": "warning",
    }
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [*stik_command(), "serve", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process, tmp_path / "serve.log")
        yield Server(url, env, tmp_path / "data", e2e_store)
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        missing("Debian's chromium is not installed (/usr/bin/chromium)")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@pytest.fixture
async def live_stik(store: Store, tmp_path: Path) -> AsyncIterator[str]:
    """Stik serving the given store in this process on a free port; yields its base URL."""
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

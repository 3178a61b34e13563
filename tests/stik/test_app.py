"""Health and readiness probes of the running application."""

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from interactions import schema
from interactions.store import Store
from stik.app import create_app
from stik.config import Settings


async def client_for(store: Store, data_dir: Path) -> TestClient:
    client = TestClient(TestServer(create_app(Settings(data_dir=data_dir), store=store)))
    await client.start_server()
    return client


async def test_ready_when_database_migrated(store: Store, tmp_path: Path) -> None:
    client = await client_for(store, tmp_path)
    try:
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
        assert health.status == 200
        assert ready.status == 200
        body = await ready.json()
        core = {key: body.get(key) for key in ("status", "database", "schema")}
        assert core == {"status": "ok", "database": store.dialect, "schema": schema.head_revision()}
        # Background parts report their own state beside the database's.
        assert body["email"]["mailboxes"] == {}
        assert body["email"]["maildrop"]["failures"] == 0
    finally:
        await client.close()


async def test_not_ready_when_schema_behind(store: Store, tmp_path: Path) -> None:
    await schema.downgrade(store.engine, "base")
    client = await client_for(store, tmp_path)
    try:
        ready = await client.get("/readyz")
        assert ready.status == 503
        assert (await ready.json())["schema"] is None
        assert (await client.get("/healthz")).status == 200
    finally:
        await client.close()
        await schema.upgrade(store.engine)


async def test_not_ready_when_database_unreachable(tmp_path: Path) -> None:
    store = Store.open("postgresql://nobody@127.0.0.1:1/none")
    client = await client_for(store, tmp_path)
    try:
        ready = await client.get("/readyz")
        assert ready.status == 503
        assert (await ready.json())["database"] == "unreachable"
    finally:
        await client.close()
        await store.close()

"""The application wires triage in: contacts recorded through its store are triaged."""

from datetime import UTC, datetime
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from interactions import InboundContact, record_contact
from interactions.models import Activity, Channel
from interactions.store import Store
from stik.app import create_app
from stik.config import Settings


async def test_app_store_triages_written_contacts(store: Store, tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path), store=store)
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/healthz")).status == 200
        contact = InboundContact(
            Channel.WEB, "form-7", datetime(2026, 3, 2, 9, tzinfo=UTC),
            subject="Ne morem v portal", text="Ne morem se prijaviti v portal, geslo ne dela.",
        )  # fmt: skip
        recorded = await record_contact(store, contact)

    async with store.sessions() as session:
        activity = await session.get_one(Activity, recorded.activity_id)
    assert activity.category == "portal_access"
    assert activity.meta["triage"]["model_version"].startswith("tfidf")

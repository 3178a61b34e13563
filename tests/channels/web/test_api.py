"""The JSON endpoint for the utility's portal and app, and its OpenAPI description."""

import base64
from pathlib import Path

import yaml
from sqlalchemy import select

from interactions.models import Activity, Document
from interactions.store import Store
from interactions.types import utcnow
from tests.channels.web.helpers import WINDOWS_EXE, activity_count, minimal_pdf, running_app

READING = {
    "kind": "meter_reading",
    "language": "en",
    "name": "Ana Žagar",
    "email": "ana.zagar@example.si",
    "metering_point": "3-345341",
    "reading_et": "4711,5",
}


async def test_json_form_returns_the_ticket_and_is_idempotent_by_key(
    store: Store, tmp_path: Path
) -> None:
    body = {
        **READING,
        "reading_date": utcnow().date().isoformat(),
        "idempotency_key": "app-42",
        "attachments": [
            {"filename": "stevec.pdf", "content_base64": base64.b64encode(minimal_pdf()).decode()}
        ],
    }
    async with running_app(store, tmp_path) as client:
        first = await client.post("/api/v1/web-forms", json=body)
        retried = await client.post("/api/v1/web-forms", json=body)
        first_body, retried_body = await first.json(), await retried.json()
    assert (first.status, retried.status) == (201, 200)
    assert first_body["ticket_number"] == retried_body["ticket_number"]
    async with store.sessions() as session:
        activity = (await session.scalars(select(Activity))).one()
        document = (await session.scalars(select(Document))).one()
    assert activity.meta["form"]["readings_kwh"] == {"et": 4711}
    assert document.content_type == "application/pdf"
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


async def test_json_problems_by_field_in_the_requested_language(
    store: Store, tmp_path: Path
) -> None:
    body = {**READING, "reading_date": "31. 2. 2026", "metering_point": "x"}
    body["attachments"] = [
        {"filename": "a.pdf", "content_base64": base64.b64encode(WINDOWS_EXE).decode()}
    ]
    async with running_app(store, tmp_path) as client:
        response = await client.post("/api/v1/web-forms", json=body)
        errors = (await response.json())["errors"]
    assert response.status == 422
    assert errors["reading_date"][0]["code"] == "invalid_date"
    assert errors["metering_point"][0]["code"] == "invalid_metering_point"
    assert errors["attachments"][0]["code"] == "file_type"
    assert errors["attachments"][0]["message"].startswith("The file a.pdf is not a PDF")
    assert await activity_count(store) == 0


async def test_json_hostile_bodies_are_refused_cleanly(store: Store, tmp_path: Path) -> None:
    async with running_app(store, tmp_path) as client:
        cases = [
            (await client.post("/api/v1/web-forms", data=b"kind=question"), 415),
            (
                await client.post(
                    "/api/v1/web-forms",
                    data=b"{not json",
                    headers={"Content-Type": "application/json"},
                ),
                400,
            ),
            (await client.post("/api/v1/web-forms", json=[1, 2]), 400),
            (await client.post("/api/v1/web-forms", json={"kind": "lottery"}), 422),
            (
                await client.post(
                    "/api/v1/web-forms", json={**READING, "attachments": [{"content_base64": "@@"}]}
                ),
                422,
            ),
        ]
        for response, status in cases:
            assert response.status == status
            assert "errors" in await response.json()
    assert await activity_count(store) == 0


async def test_openapi_describes_the_endpoint(store: Store, tmp_path: Path) -> None:
    async with running_app(store, tmp_path) as client:
        response = await client.get("/api/openapi.yaml")
        spec = yaml.safe_load(await response.text())
    assert response.status == 200
    operation = spec["paths"]["/api/v1/web-forms"]["post"]
    assert {"201", "422", "429"} <= set(operation["responses"])
    kinds = spec["components"]["schemas"]["WebForm"]["properties"]["kind"]["enum"]
    assert kinds == ["complaint", "meter_reading", "question", "change", "callback"]


async def test_keys_and_languages_outside_the_contract_are_refused_not_bent(
    store: Store, tmp_path: Path
) -> None:
    """Two long keys alike in their first 200 characters must not become one submission."""
    body = {**READING, "reading_date": utcnow().date().isoformat()}
    async with running_app(store, tmp_path) as client:
        long_key = await client.post(
            "/api/v1/web-forms", json={**body, "idempotency_key": "k" * 201}
        )
        odd_key = await client.post("/api/v1/web-forms", json={**body, "idempotency_key": 42})
        language = await client.post("/api/v1/web-forms", json={**body, "language": "xx"})
        errors = [(await r.json())["errors"] for r in (long_key, odd_key, language)]
    assert [r.status for r in (long_key, odd_key, language)] == [422, 422, 422]
    assert list(errors[0]) == ["idempotency_key"] and list(errors[2]) == ["language"]
    assert await activity_count(store) == 0

"""Faxes by the provider's signed webhook and by a fax-to-email gateway."""

import asyncio
import base64
import io
import json
import time
from email.message import EmailMessage
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from channels.fax.gateway import record_gateway_mail
from channels.fax.signing import sign
from interactions.models import Activity, ContactKind, ContactPoint, Document, Partner
from interactions.store import Store
from tests.channels.post.render import render_letter
from tests.channels.web.helpers import activity_count, running_app

SECRET = "fax-test-secret"
FAX_TEXT = """Kovinarstvo Hribar d.o.o.
Tržaška cesta 21
2000 Maribor
Faks: 02 620 44 10

Zadeva: Prijava okvare na priključku

Spoštovani, na merilnem mestu 4-123456 od včeraj ni napetosti na eni fazi.
Prosimo za čimprejšnji poseg.
"""


def fax_tiff() -> bytes:
    page = Image.open(io.BytesIO(render_letter(FAX_TEXT, dpi=200, angle=0.7))).convert("1")
    out = io.BytesIO()
    page.save(out, format="TIFF", compression="group4", dpi=(200, 200))
    return out.getvalue()


async def add_company(store: Store) -> int:
    async with store.sessions() as session, session.begin():
        partner = Partner(kind="organisation", organisation_name="Kovinarstvo Hribar d.o.o.")
        partner.contact_points.append(ContactPoint(kind=ContactKind.FAX, value="02 620 44 10"))
        session.add(partner)
    return partner.id


def signed(body: bytes, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    timestamp = str(int(at if at is not None else time.time()))
    return {
        "Content-Type": "application/json",
        "X-Stik-Timestamp": timestamp,
        "X-Stik-Signature": "sha256=" + sign(secret.encode(), timestamp, body),
    }


async def test_signed_webhook_fax_is_matched_by_its_number(store: Store, tmp_path: Path) -> None:
    partner_id = await add_company(store)
    body = json.dumps(
        {
            "fax_id": "F-1001",
            "from": "+386 2 620 44 10",
            "to": "+386 1 300 00 00",
            "filename": "fax.tif",
            "content_base64": base64.b64encode(fax_tiff()).decode(),
        }
    ).encode()
    async with running_app(store, tmp_path, fax={"webhook_secret": SECRET}) as client:
        first = await client.post("/fax/webhook", data=body, headers=signed(body))
        retried = await client.post("/fax/webhook", data=body, headers=signed(body))
        first_body = await first.json()
    assert (first.status, retried.status) == (201, 200)
    assert first_body["ticket_number"]
    async with store.sessions() as session:
        activity = (await session.scalars(select(Activity))).one()
        document = (await session.scalars(select(Document))).one()
    assert activity.channel == "fax"
    assert activity.partner_id == partner_id
    assert activity.sender_address == "+38626204410"
    assert "ni napetosti na eni fazi" in activity.text
    assert activity.meta["quoted"]["metering_points"] == ["4-123456"]
    assert (document.kind, document.content_type) == ("fax", "image/tiff")


async def test_webhook_with_a_bad_signature_stores_nothing(store: Store, tmp_path: Path) -> None:
    body = json.dumps({"fax_id": "F-2", "content_base64": base64.b64encode(b"x").decode()})
    body_bytes = body.encode()
    async with running_app(store, tmp_path, fax={"webhook_secret": SECRET}) as client:
        cases = {
            "wrong secret": signed(body_bytes, "other-secret"),
            "stale": signed(body_bytes, at=time.time() - 3600),
            "unsigned": {"Content-Type": "application/json"},
            "tampered": {**signed(body_bytes), "X-Stik-Timestamp": str(int(time.time()) - 1)},
        }
        for name, headers in cases.items():
            response = await client.post("/fax/webhook", data=body_bytes, headers=headers)
            assert response.status == 403, name
    assert await activity_count(store) == 0


async def test_signed_but_malformed_webhooks_are_refused(store: Store, tmp_path: Path) -> None:
    async with running_app(store, tmp_path, fax={"webhook_secret": SECRET}) as client:
        for body, status in [
            (b"not json", 400),
            (b"[]", 400),
            (json.dumps({"fax_id": "F-3", "content_base64": "%%%"}).encode(), 400),
            (json.dumps({"fax_id": "F-4", "content_base64": "TVqQAA=="}).encode(), 422),
        ]:
            response = await client.post("/fax/webhook", data=body, headers=signed(body))
            assert response.status == status, body
    assert await activity_count(store) == 0


async def test_webhook_without_a_configured_secret_refuses(store: Store, tmp_path: Path) -> None:
    body = b"{}"
    async with running_app(store, tmp_path) as client:
        response = await client.post("/fax/webhook", data=body, headers=signed(body, ""))
    assert response.status == 403


def gateway_mail(sender: str, subject: str, attachment: bytes | None) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "info@elektro.example"
    message["Subject"] = subject
    message["Message-ID"] = "<fax-77@gateway.example>"
    message.set_content("Fax received.")
    if attachment is not None:
        message.add_attachment(attachment, maintype="image", subtype="tiff", filename="fax.tif")
    return message.as_bytes()


async def test_gateway_mail_becomes_a_fax_not_an_email(store: Store) -> None:
    partner_id = await add_company(store)
    gateways = frozenset({"fax@gateway.example"})
    raw = gateway_mail(
        "Fax Gateway <FAX@gateway.example>", "Fax from 02/620 44 10 (2 pages)", fax_tiff()
    )

    [result] = await record_gateway_mail(store, raw, gateways)
    again = await record_gateway_mail(store, raw, gateways)
    assert result.partner_id == partner_id
    assert again is not None and not again[0].created
    async with store.sessions() as session:
        activity = await session.get_one(Activity, result.activity_id)
    assert activity.channel == "fax"
    assert activity.sender_address == "+38626204410"
    assert "Prijava okvare" in activity.subject


async def test_gateway_mail_rules(store: Store) -> None:
    gateways = frozenset({"fax@gateway.example"})
    ordinary = gateway_mail("Ana <ana@example.si>", "Fax from 02 620 44 10", fax_tiff())
    assert await record_gateway_mail(store, ordinary, gateways) is None
    assert await activity_count(store) == 0

    empty = gateway_mail("fax@gateway.example", "Fax from unknown", None)
    [result] = await record_gateway_mail(store, empty, gateways)
    async with store.sessions() as session:
        activity = await session.get_one(Activity, result.activity_id)
    assert activity.channel == "fax"
    assert activity.meta["needs_person"] is True
    assert activity.sender_address is None


async def test_gateway_mail_in_the_drop_folder_becomes_a_fax(store: Store, tmp_path: Path) -> None:
    partner_id = await add_company(store)
    drop = tmp_path / "maildrop" / "new"
    drop.mkdir(parents=True)
    (drop / "fax-77.eml").write_bytes(
        gateway_mail("Fax Gateway <fax@gateway.example>", "Fax from 02/620 44 10", fax_tiff())
    )
    (drop / "mail-78.eml").write_bytes(
        gateway_mail("Ana <ana@example.si>", "Fax from 02 620 44 10", fax_tiff()).replace(
            b"fax-77@", b"mail-78@"
        )
    )

    async with running_app(
        store,
        tmp_path,
        fax={"gateways": ["Fax@Gateway.example"]},
        email={"drop_poll_seconds": 0.2},
    ):
        for _ in range(300):
            if len(list((tmp_path / "maildrop" / "cur").glob("*"))) == 2:
                break
            await asyncio.sleep(0.1)

    async with store.sessions() as session:
        activities = (await session.scalars(select(Activity).order_by(Activity.id))).all()
    by_channel = {a.channel: a for a in activities if a.direction == "inbound"}
    assert set(by_channel) == {"fax", "email"}
    fax = by_channel["fax"]
    assert (fax.partner_id, fax.sender_address) == (partner_id, "+38626204410")
    assert fax.meta["source"] == "fax_gateway" and "Prijava okvare" in fax.subject
    assert by_channel["email"].sender_address == "ana@example.si"
    # The gateway is a machine: no "we have received your message" goes back to it.
    acknowledged = [a for a in activities if a.direction == "outbound"]
    assert all(a.recipient != "fax@gateway.example" for a in acknowledged)

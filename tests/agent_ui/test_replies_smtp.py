"""With SMTP configured, agents' replies and form acknowledgements go out by the email channel."""

from email import message_from_bytes, policy
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from channels.email.models import OutgoingMail
from interactions.models import Activity, Direction
from routing.models import ClockState, SlaClock
from stik.app import create_app
from stik.config import Settings
from tests.agent_ui import factories
from tests.agent_ui.conftest import Web
from tests.channels.email.conftest import SmtpServer, smtp_server  # noqa: F401  (fixture)


async def smtp_client(web: Web, server: SmtpServer, data_dir: Path) -> TestClient:
    """Stik with its outgoing mail pointed at the test's SMTP server."""
    smtp = {"host": server.host, "port": server.port, "security": "plain", "timeout_seconds": 5}
    settings = Settings(
        data_dir=data_dir, extra={"email": {"smtp": smtp}, "post": {"watch": False}}
    )
    client = TestClient(TestServer(create_app(settings, store=web.store)))
    await client.start_server()
    web.clients.append(client)
    return client


async def outbound(web: Web, ticket_id: int) -> list[Activity]:
    async with web.store.sessions() as db:
        rows = await db.scalars(
            select(Activity).where(
                Activity.ticket_id == ticket_id, Activity.direction == Direction.OUTBOUND
            )
        )
        return list(rows)


async def test_reply_from_the_ticket_page_arrives_at_the_smtp_server(
    web: Web,
    smtp_server: SmtpServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    client = await smtp_client(web, smtp_server, tmp_path)
    token = await factories.sign_in(client, "ana")
    tid = web.world.supplier_ticket

    response = await client.post(
        f"/tickets/{tid}/reply",
        data={
            "csrf_token": token,
            "to": "ana.novak@example.si",
            "subject": "Re: Števec",
            "body": "Spoštovana gospa Novak,\nštevec zamenjamo v torek.",
        },
    )
    assert response.status == 200

    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    sent = message_from_bytes(received.data, policy=policy.default)
    assert received.recipients == ["ana.novak@example.si"]
    assert f"[#{web.world.supplier_ticket_number}]" in sent["Subject"]
    assert sent["In-Reply-To"] == "<m1@example.si>"
    assert "<m1@example.si>" in sent["References"]
    assert "zamenjamo v torek" in sent.get_content()
    assert list((tmp_path / "outbox").glob("*.eml")) == []

    [activity] = await outbound(web, tid)
    assert activity.external_id == sent["Message-ID"]
    assert activity.employee_id == web.ids["ana"]
    assert activity.meta["delivery"] == {"status": "sent"}
    async with web.store.sessions() as db:
        mail = await db.scalar(select(OutgoingMail).where(OutgoingMail.ticket_id == tid))
    assert mail is not None and mail.status == "sent" and mail.activity_id == activity.id


async def test_web_form_acknowledgement_goes_by_smtp_and_is_kept_on_the_ticket(
    web: Web,
    smtp_server: SmtpServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    client = await smtp_client(web, smtp_server, tmp_path)
    response = await client.post(
        "/api/v1/web-forms",
        json={
            "kind": "question",
            "language": "en",
            "name": "Ana Žagar",
            "email": "ana.zagar@example.si",
            "message": "When will my new meter be installed?",
        },
    )
    assert response.status == 201
    number = (await response.json())["ticket_number"]

    assert len(smtp_server.messages) == 1
    sent = message_from_bytes(smtp_server.messages[0].data, policy=policy.default)
    assert number in sent["Subject"] and sent["Auto-Submitted"] == "auto-generated"
    assert sent["To"] == "ana.zagar@example.si"
    assert list((tmp_path / "outbox").glob("*.eml")) == []
    async with web.store.sessions() as db:
        kept = await db.scalar(
            select(Activity).where(
                Activity.direction == Direction.OUTBOUND,
                Activity.external_id == sent["Message-ID"],
            )
        )
        assert kept is not None and kept.ticket_id is not None
        first = await db.scalar(
            select(SlaClock).where(
                SlaClock.ticket_id == kept.ticket_id, SlaClock.metric == "first_response"
            )
        )
    assert kept.meta["automatic"] is True and kept.meta["delivery"] == {"status": "sent"}
    # "We have received your message" is no answer: the first-response clock runs on.
    assert first is not None and first.state == ClockState.RUNNING

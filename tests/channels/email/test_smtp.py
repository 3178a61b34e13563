"""Outgoing mail over real SMTP (aiosmtpd), and the whole loop a customer sees."""

from dataclasses import replace
from datetime import timedelta
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path

from sqlalchemy import select

from channels.email.imap import MailboxReader
from channels.email.intake import Ingested, ingest
from channels.email.models import OutgoingMail
from channels.email.outbound import SmtpTransport, deliver_due, send_reply
from channels.email.settings import EmailSettings, SmtpSettings
from interactions.models import (
    Activity,
    ContactKind,
    ContactPoint,
    Partner,
    Ticket,
    TicketStatus,
)
from interactions.store import Store
from interactions.types import utcnow
from tests.channels.email.conftest import (
    TEST_USERS,
    Dovecot,
    SmtpServer,
    build_mail,
    email_settings,
    free_port,
)

CUSTOMER = "ana.novak@example.si"
_users = iter(TEST_USERS[200:])


def smtp_settings(tmp_path: Path, server: SmtpServer, **changes: object) -> EmailSettings:
    smtp = SmtpSettings(host=server.host, port=server.port, security="plain", timeout_seconds=5)
    return replace(email_settings(tmp_path), smtp=smtp, **changes)  # type: ignore[arg-type]


async def ticket_of(store: Store, done: Ingested) -> int:
    async with store.sessions() as session:
        found = await session.scalar(select(Ticket.id).where(Ticket.number == done.ticket_number))
    assert found is not None
    return found


async def add_customer(store: Store) -> int:
    async with store.sessions() as session, session.begin():
        partner = Partner(first_name="Ana", last_name="Novak")
        partner.contact_points.append(ContactPoint(kind=ContactKind.EMAIL, value=CUSTOMER))
        session.add(partner)
        await session.flush()
        return partner.id


async def test_mail_in_reply_out_and_answer_back_stay_one_matched_thread(
    store: Store, dovecot: Dovecot, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    stik_box, customer_box = next(_users), next(_users)
    partner_id = await add_customer(store)
    base = smtp_settings(tmp_path, smtp_server)
    settings = replace(base, mailboxes=(dovecot.mailbox(stik_box), *base.mailboxes))
    transport = SmtpTransport(settings.smtp)  # type: ignore[arg-type]
    reader = MailboxReader(store, settings, settings.mailboxes[0], transport)
    dovecot.deliver(stik_box, build_mail(to=stik_box, message_id="<q1@example.si>"))

    await reader.fetch_new()
    async with store.sessions() as session:
        first = await session.scalar(
            select(Activity).where(Activity.external_id == "<q1@example.si>")
        )
    assert first is not None and first.partner_id == partner_id
    assert first.match_outcome == "matched" and first.ticket_id is not None

    await send_reply(store, settings, first.ticket_id, "Stanje smo vpisali.", transport=transport)
    ack, reply = smtp_server.messages
    assert ack.recipients == reply.recipients == [CUSTOMER]
    dovecot.deliver(customer_box, reply.data)  # it arrives in the customer's mailbox

    client = dovecot.client(customer_box)
    client.select_folder("INBOX")
    (uid,) = client.search(["ALL"])
    received = BytesParser(policy=default_policy).parsebytes(
        client.fetch([uid], ["BODY[]"])[uid][b"BODY[]"]
    )
    client.logout()
    assert received["In-Reply-To"] == "<q1@example.si>"
    assert "Stanje smo vpisali." in received.get_body(("plain",)).get_content()
    async with store.sessions() as session, session.begin():
        ticket = await session.get_one(Ticket, first.ticket_id)
        ticket.status = TicketStatus.PENDING_CUSTOMER
        number = ticket.number
    assert f"[#{number}]" in str(received["Subject"])

    answer = build_mail(
        to=stik_box,
        subject=f"Re: {received['Subject']}",
        message_id="<q2@example.si>",
        headers={
            "In-Reply-To": str(received["Message-ID"]),
            "References": f"{received['References']} {received['Message-ID']}",
        },
    )
    dovecot.deliver(stik_box, answer)
    await reader.fetch_new()

    async with store.sessions() as session:
        second = await session.scalar(
            select(Activity).where(Activity.external_id == "<q2@example.si>")
        )
        ticket = await session.get_one(Ticket, first.ticket_id)
    assert second is not None and second.ticket_id == first.ticket_id
    assert second.partner_id == partner_id
    assert ticket.status == TicketStatus.OPEN
    assert len(smtp_server.messages) == 2  # no second acknowledgement for the answer


async def test_failed_send_is_retried_visibly_and_never_dropped(
    store: Store, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    settings = smtp_settings(tmp_path, smtp_server, max_send_attempts=3, acknowledge=False)
    transport = SmtpTransport(settings.smtp)  # type: ignore[arg-type]
    first = await ingest(store, build_mail(), settings)
    async with store.sessions() as session:
        ticket_id = await session.scalar(
            select(Ticket.id).where(Ticket.number == first.ticket_number)
        )
    assert ticket_id is not None
    smtp_server.collector.refuse = True

    row = await send_reply(store, settings, ticket_id, "Odgovor", transport=transport)
    async with store.sessions() as session:
        shown = (await session.get_one(Activity, row.activity_id)).meta["delivery"]
        queued = await session.get_one(OutgoingMail, row.id)
    assert shown["status"] == "retrying" and shown["attempts"] == 1
    assert queued.status == "queued" and queued.next_attempt_at > utcnow()
    assert await deliver_due(store, transport, settings) == 0  # not due yet

    smtp_server.collector.refuse = False
    later = utcnow() + timedelta(hours=2)
    assert await deliver_due(store, transport, settings, now=later) == 1
    async with store.sessions() as session:
        shown = (await session.get_one(Activity, row.activity_id)).meta["delivery"]
    assert shown == {"status": "sent"}
    assert len(smtp_server.messages) == 1


async def test_send_that_keeps_failing_ends_marked_failed(store: Store, tmp_path: Path) -> None:
    settings = replace(
        email_settings(tmp_path, acknowledge=False),
        smtp=SmtpSettings(host="127.0.0.1", port=free_port(), security="plain", timeout_seconds=2),
        max_send_attempts=2,
    )
    transport = SmtpTransport(settings.smtp)  # type: ignore[arg-type]
    first = await ingest(store, build_mail(), settings)
    async with store.sessions() as session:
        ticket_id = await session.scalar(
            select(Ticket.id).where(Ticket.number == first.ticket_number)
        )
    assert ticket_id is not None

    row = await send_reply(store, settings, ticket_id, "Odgovor", transport=transport)
    await deliver_due(store, transport, settings, now=utcnow() + timedelta(hours=2))

    async with store.sessions() as session:
        shown = (await session.get_one(Activity, row.activity_id)).meta["delivery"]
        failed = await session.get_one(OutgoingMail, row.id)
    assert failed.status == "failed" and failed.attempts == 2 and failed.last_error
    assert shown["status"] == "failed" and shown["attempts"] == 2


async def test_reply_goes_out_over_verified_tls(
    store: Store, tls_smtp_server: SmtpServer, tmp_path: Path
) -> None:
    server = tls_smtp_server
    smtp = SmtpSettings(
        host=server.host, port=server.port, security=server.security, ca_file=server.ca_file
    )
    settings = replace(email_settings(tmp_path, acknowledge=False), smtp=smtp)
    ticket_id = await ticket_of(store, await ingest(store, build_mail(), settings))
    untrusting = SmtpTransport(replace(smtp, ca_file="", timeout_seconds=5))

    refused = await send_reply(store, settings, ticket_id, "Prvi", transport=untrusting)
    sent = await send_reply(store, settings, ticket_id, "Drugi", transport=SmtpTransport(smtp))

    async with store.sessions() as session:
        assert (await session.get_one(OutgoingMail, refused.id)).status == "queued"
        assert (await session.get_one(OutgoingMail, sent.id)).status == "sent"
    (received,) = server.messages
    assert b"Drugi" in received.data


async def test_imap_over_tls_and_starttls_with_a_private_ca(
    store: Store, dovecot: Dovecot, tmp_path: Path
) -> None:
    address = next(_users)
    settings = email_settings(tmp_path, acknowledge=False)
    dovecot.deliver(address, build_mail(message_id="<tls1@x>"), build_mail(message_id="<tls2@x>"))
    over_tls = dovecot.mailbox(
        address, security="tls", port=dovecot.tls_port, ca_file=dovecot.ca_file
    )
    starttls = dovecot.mailbox(address, security="starttls", ca_file=dovecot.ca_file)

    first = await MailboxReader(store, settings, over_tls).fetch_new()
    dovecot.deliver(address, build_mail(message_id="<tls3@x>"))
    second = await MailboxReader(store, settings, starttls).fetch_new()

    assert (first, second) == (2, 1)

"""Hard cases of intake: charsets, structure, size, threading, robots and loops."""

import quopri
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP
from email.policy import default as default_policy
from pathlib import Path

import structlog
from sqlalchemy import func, select, update

from channels.email.intake import ingest
from channels.email.maildrop import process_drop_folder
from channels.email.models import AutoReplyLog, FailingAddress, OutgoingMail
from channels.email.outbound import OutboxTransport, send_reply
from channels.email.parse import CHARSET_FALLBACK, parse_mail
from channels.email.robots import Robot
from channels.email.settings import EmailSettings
from interactions.models import (
    Activity,
    Blob,
    ContactPoint,
    Document,
    Partner,
    Ticket,
    TicketStatus,
)
from interactions.store import Store
from interactions.types import utcnow
from tests.channels.email.conftest import build_mail, email_settings

SLOVENE = "Števec št. 12345, račun za električno energijo"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def html_only(charset: str, text: str = SLOVENE, encode_as: str | None = None) -> bytes:
    body = f"<html><body><p>{text}</p></body></html>".encode(encode_as or charset)
    return (
        b"From: Ana Novak <ana.novak@example.si>\r\nTo: info@stik.test\r\n"
        b"Subject: =?utf-8?q?=C5=A0tevec?=\r\nMessage-ID: <html-" + charset.encode() + b"@x>\r\n"
        b"Date: Mon, 02 Mar 2026 09:30:00 +0100\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/html; charset=" + charset.encode() + b"\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + quopri.encodestring(body)
    )


async def count(store: Store, model: type, *where: object) -> int:
    async with store.sessions() as session:
        query = select(func.count()).select_from(model)
        if where:
            query = query.where(*where)
        return await session.scalar(query) or 0


async def activity(store: Store, activity_id: int) -> Activity:
    async with store.sessions() as session:
        return await session.get_one(Activity, activity_id)


def outbox_mails(settings: EmailSettings) -> list[EmailMessage]:
    if not settings.outbox.exists():
        return []
    parser = BytesParser(policy=default_policy)
    return [parser.parsebytes(p.read_bytes()) for p in sorted(settings.outbox.glob("*.eml"))]


# Charsets (HARD_CASES 1-3)


def test_html_only_quoted_printable_central_european_text_is_exact() -> None:
    for charset in ("windows-1250", "iso-8859-2"):
        mail = parse_mail(html_only(charset), NOW)
        assert SLOVENE in mail.text, charset
        assert mail.notes == []


def test_iso_8859_2_declared_but_windows_1250_bytes_is_read_as_windows_1250() -> None:
    mail = parse_mail(html_only("iso-8859-2", encode_as="cp1250"), NOW)

    assert SLOVENE in mail.text


def test_windows_charset_aliases_decode() -> None:
    for charset in ("1252", "cp1250", "win-1250"):
        codec = "cp1252" if charset == "1252" else "cp1250"
        text = "Ljubljana, Šmartinska" if codec == "cp1250" else "Café Müller"
        mail = parse_mail(html_only(charset, text, encode_as=codec), NOW)
        assert text in mail.text, charset


async def test_unknown_charset_is_recorded_flagged_with_raw_kept(
    store: Store, settings: EmailSettings
) -> None:
    for n, charset in enumerate(("x-unknown-8bit", "windows-9999", "zlib")):
        raw = html_only(charset, "Ljubljana, Šmartinska", encode_as="utf-8")
        raw = raw.replace(b"<html-", f"<n{n}-".encode())
        done = await ingest(store, raw, settings, received_at=NOW)

        stored = await activity(store, done.activity_id)
        assert "Ljubljana, Šmartinska" in (stored.text or "")
        assert CHARSET_FALLBACK in stored.meta["notes"]
        async with store.sessions() as session:
            assert (await session.get_one(Blob, stored.raw_sha256)).data == raw


async def test_bad_middle_mail_does_not_block_the_drop_folder(
    store: Store, settings: EmailSettings
) -> None:
    drop = settings.maildrop / "new"
    drop.mkdir(parents=True)
    (drop / "1.eml").write_bytes(build_mail(message_id="<one@x>"))
    middle = html_only("1252", "Café", encode_as="cp1252") + b"\r\n--broken\r\n\xff\xfe"
    (drop / "2.eml").write_bytes(
        middle.replace(
            b"Content-Type: text/html",
            b'Content-Type: multipart/mixed; boundary="zz"\r\nX: text/html',
        )
    )
    (drop / "3.eml").write_bytes(build_mail(message_id="<three@x>"))

    result = await process_drop_folder(store, settings)

    assert result.processed == 3
    assert sorted(p.name for p in (settings.maildrop / "cur").iterdir()) == [
        "1.eml:2,S",
        "2.eml:2,S",
        "3.eml:2,S",
    ]
    assert list(drop.iterdir()) == []
    assert await count(store, Activity, Activity.direction == "inbound") == 3


# Structure and size (HARD_CASES 5-6)


def test_empty_html_and_blank_text_alternative_keeps_the_attachment() -> None:
    message = EmailMessage(policy=SMTP)
    message["From"], message["Subject"] = "ana.novak@example.si", "Priloga"
    message.set_content("\r\n")
    message.add_alternative("", subtype="html")
    message.make_mixed()
    message.add_attachment(
        "Račun št. 1".encode("cp1250"),
        maintype="text",
        subtype="plain",
        filename="račun.txt",
        params={"charset": "windows-1250"},
    )

    mail = parse_mail(message.as_bytes(), NOW)

    assert mail.text.strip() == ""
    assert [(a.filename, a.data) for a in mail.attachments] == [
        ("račun.txt", "Račun št. 1".encode("cp1250"))
    ]


async def test_big_mail_is_processed_and_an_oversized_one_refused_with_a_reason(
    store: Store, settings: EmailSettings
) -> None:
    big = EmailMessage(policy=SMTP)
    big["From"], big["To"], big["Subject"] = "ana.novak@example.si", "info@stik.test", "Slike"
    big["Message-ID"] = "<big@x>"
    big.set_content("Pošiljam slike števca.")
    for n in range(60):
        big.add_attachment(
            bytes([n]) * 310_000, maintype="image", subtype="jpeg", filename=f"{n}.jpg"
        )
    oversized = build_mail(message_id="<huge@x>", body="x" * (40 * 2**20))
    assert 23 * 2**20 < len(big.as_bytes()) < 25 * 2**20

    done = await ingest(store, big.as_bytes(), settings, received_at=NOW)
    with structlog.testing.capture_logs() as logs:
        refused = await ingest(store, oversized, settings, received_at=NOW)
    after = await ingest(store, build_mail(message_id="<later@x>"), settings, received_at=NOW)

    assert done.created and done.refused is None
    assert await count(store, Document, Document.activity_id == done.activity_id) == 60
    assert refused.created and refused.refused and "exceeds the limit" in refused.refused
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["email_refused"]
    stored = await activity(store, refused.activity_id)
    assert stored.meta["refused"] == refused.refused
    assert await count(store, Document, Document.activity_id == refused.activity_id) == 0
    assert after.created


def test_html_with_scripts_is_sanitised_for_display_and_read_as_text() -> None:
    raw = build_mail(
        body="plain",
        html='<p onclick="x()">Stanje <b>12345</b></p><script>steal()</script>'
        '<img src="x" onerror="steal()"><a href="javascript:steal()">klik</a>',
    )
    mail = parse_mail(raw, NOW)

    assert "steal" not in mail.text
    assert mail.html is not None
    for bad in ("<script", "steal", "onclick", "onerror", "javascript:"):
        assert bad not in mail.html
    assert "<b>12345</b>" in mail.html


# Threading (HARD_CASES 7, 9, 10; reopening)


async def test_reply_to_an_agents_outside_answer_joins_through_references(
    store: Store, settings: EmailSettings
) -> None:
    first = await ingest(store, build_mail(message_id="<a@cust>"), settings, received_at=NOW)
    answer = build_mail(
        subject="RE: Števec",
        message_id="<c@cust>",
        headers={"In-Reply-To": "<x@agent>", "References": "<a@cust> <x@agent>"},
    )

    second = await ingest(store, answer, settings, received_at=NOW)

    assert second.ticket_number == first.ticket_number
    assert await count(store, Ticket) == 1
    assert not second.acknowledged


async def test_ticket_number_in_subject_joins_only_for_the_tickets_sender(
    store: Store, settings: EmailSettings
) -> None:
    first = await ingest(store, build_mail(message_id="<a@cust>"), settings, received_at=NOW)
    number = first.ticket_number
    tagged = f"Re: [#{number}] dodatni podatki"

    same = await ingest(
        store, build_mail(subject=tagged, message_id="<b@cust>"), settings, received_at=NOW
    )
    edited = await ingest(
        store,
        build_mail(subject=f"še ena priloga {number}", message_id="<c@cust>"),
        settings,
        received_at=NOW,
    )
    stranger = await ingest(
        store,
        build_mail(subject=tagged, sender="tretji@example.com", message_id="<d@other>"),
        settings,
        received_at=NOW,
    )

    assert same.ticket_number == edited.ticket_number == number
    assert stranger.ticket_number != number
    assert await count(store, Ticket) == 2


async def test_same_subject_alone_never_threads(store: Store, settings: EmailSettings) -> None:
    one = await ingest(store, build_mail(message_id="<s1@x>"), settings, received_at=NOW)
    two = await ingest(
        store, build_mail(subject="Re: Števec št. 12345", message_id="<s2@x>"), settings
    )

    assert one.ticket_number != two.ticket_number


async def test_one_message_to_two_watched_mailboxes_is_one_activity(
    store: Store, settings: EmailSettings
) -> None:
    raw = build_mail(to="info@stik.test", headers={"Cc": "reklamacije@stik.test"})
    complaints, info = settings.mailboxes[1], settings.mailboxes[0]

    first = await ingest(store, raw, settings, complaints, received_at=NOW)
    second = await ingest(store, raw, settings, info, received_at=NOW)

    assert second.activity_id == first.activity_id and not second.created
    stored = await activity(store, first.activity_id)
    assert stored.meta["mailbox"] == "info" and stored.meta["queue"] == "general"
    assert stored.meta["cc"] == ["reklamacije@stik.test"]
    assert sorted(stored.meta["seen_in"]) == ["complaints", "info"]
    assert await count(store, Activity, Activity.direction == "inbound") == 1


async def test_reply_to_a_closed_ticket_reopens_it_within_the_period_only(
    store: Store, settings: EmailSettings
) -> None:
    first = await ingest(store, build_mail(message_id="<a@cust>"), settings, received_at=NOW)

    async def close(days_ago: int) -> None:
        async with store.sessions() as session, session.begin():
            await session.execute(
                update(Ticket).values(
                    status=TicketStatus.CLOSED, closed_at=NOW - timedelta(days=days_ago)
                )
            )

    await close(days_ago=2)
    recent = build_mail(message_id="<b@cust>", headers={"In-Reply-To": "<a@cust>"})
    reopened = await ingest(store, recent, settings, received_at=NOW)
    await close(days_ago=settings.reopen_days + 5)
    late = build_mail(message_id="<c@cust>", headers={"In-Reply-To": "<b@cust>"})
    followed = await ingest(store, late, settings, received_at=NOW)

    assert reopened.ticket_number == first.ticket_number
    assert followed.ticket_number not in (None, first.ticket_number)
    stored = await activity(store, followed.activity_id)
    assert stored.meta["thread"] == {"ticket": first.ticket_number, "how": "follows"}


# Robots and loops (HARD_CASES 11-14)


async def test_acknowledgement_once_a_day_and_never_to_robots(
    store: Store, settings: EmailSettings
) -> None:
    transport = OutboxTransport(settings.outbox)
    person = [build_mail(message_id=f"<p{n}@x>", subject=f"Vprašanje {n}") for n in range(3)]
    robots = [
        build_mail(
            sender="responder@robot.example",
            message_id="<r1@x>",
            headers={"Auto-Submitted": "auto-replied"},
        ),
        build_mail(sender="news@shop.example", message_id="<r2@x>", headers={"Precedence": "bulk"}),
        build_mail(sender="no-reply@bank.example", message_id="<r3@x>"),
        build_mail(
            sender="responder@robot.example",
            message_id="<r4@x>",
            subject="Out of Office: Števec",
            headers={"X-Autoreply": "yes"},
        ),
    ]

    results = [await ingest(store, raw, settings, transport=transport) for raw in person[:2]]
    robot_results = [await ingest(store, raw, settings, transport=transport) for raw in robots]
    async with store.sessions() as session, session.begin():
        await session.execute(
            update(AutoReplyLog).values(last_sent_at=utcnow() - timedelta(hours=25))
        )
    later = await ingest(store, person[2], settings, transport=transport)

    assert [r.acknowledged for r in results] == [True, False]
    assert later.acknowledged
    assert not any(r.acknowledged for r in robot_results)
    assert [r.robot for r in robot_results] == [
        Robot.AUTO_REPLY,
        Robot.BULK,
        None,
        Robot.AUTO_REPLY,
    ]
    assert [r.ticket_number is None for r in robot_results] == [True, True, False, True]
    sent = outbox_mails(settings)
    assert [str(m["To"]) for m in sent] == ["ana.novak@example.si"] * 2
    for mail, result in zip(sent, (results[0], later), strict=True):
        assert mail["Auto-Submitted"] == "auto-generated"
        assert mail["X-Auto-Response-Suppress"] == "All"
        assert f"[#{result.ticket_number}]" in str(mail["Subject"])
        assert mail.get_body(("plain",)).get_content().count(result.ticket_number) >= 1


async def test_agent_reply_is_threaded_personal_and_an_outbound_activity(
    store: Store, settings: EmailSettings
) -> None:
    transport = OutboxTransport(settings.outbox)
    first = await ingest(store, build_mail(message_id="<a@cust>"), settings, received_at=NOW)

    row = await send_reply(
        store,
        settings,
        first_ticket_id := await ticket_id(store, first.ticket_number),
        "Spoštovani,\n\nstanje smo vpisali.\nLep pozdrav",
        transport=transport,
    )

    (mail,) = outbox_mails(settings)
    assert mail["In-Reply-To"] == "<a@cust>"
    assert "<a@cust>" in str(mail["References"])
    assert str(mail["Subject"]) == f"Re: Števec št. 12345 [#{first.ticket_number}]"
    assert mail["Auto-Submitted"] is None and mail["X-Auto-Response-Suppress"] is None
    assert "stanje smo vpisali" in mail.get_body(("html",)).get_content()
    stored = await activity(store, row.activity_id)
    assert (stored.direction, stored.ticket_id) == ("outbound", first_ticket_id)
    assert stored.meta["delivery"] == {"status": "sent"}


async def ticket_id(store: Store, number: str | None) -> int:
    async with store.sessions() as session:
        found = await session.scalar(select(Ticket.id).where(Ticket.number == number))
    assert found is not None
    return found


async def test_header_injection_in_a_reply_subject_stays_in_the_subject(
    store: Store, settings: EmailSettings
) -> None:
    transport = OutboxTransport(settings.outbox)
    evil = "Račun\r\nBcc: victim@example.com\r\nX-Evil: 1"
    first = await ingest(
        store,
        build_mail(subject=evil.replace("\r\n", " "), message_id="<e@x>"),
        settings,
        received_at=NOW,
    )
    async with store.sessions() as session, session.begin():
        await session.execute(update(Ticket).values(subject=evil))

    await send_reply(
        store, settings, await ticket_id(store, first.ticket_number), "Ok", transport=transport
    )

    (mail,) = outbox_mails(settings)
    assert mail["Bcc"] is None and mail["X-Evil"] is None
    assert "Bcc: victim@example.com" in str(mail["Subject"])


async def test_bounce_marks_the_sent_mail_failed_and_opens_no_ticket(
    store: Store, settings: EmailSettings
) -> None:
    transport = OutboxTransport(settings.outbox)
    first = await ingest(store, build_mail(message_id="<a@cust>"), settings, received_at=NOW)
    reply = await send_reply(
        store, settings, await ticket_id(store, first.ticket_number), "Odgovor", transport=transport
    )
    bounce = dsn(reply.message_id, "ana.novak@example.si")
    tickets_before = await count(store, Ticket)

    done = await ingest(store, bounce, settings, transport=transport)

    assert done.robot is Robot.BOUNCE and not done.acknowledged
    assert done.ticket_number == first.ticket_number
    assert await count(store, Ticket) == tickets_before
    original = await activity(store, reply.activity_id)
    assert original.meta["delivery"]["status"] == "failed"
    assert original.meta["delivery"]["bounce_activity_id"] == done.activity_id
    async with store.sessions() as session:
        failing = await session.get_one(FailingAddress, "ana.novak@example.si")
        assert failing.status == "5.1.1"
        outgoing = await session.get_one(OutgoingMail, reply.id)
        assert outgoing.status == "bounced"


def dsn(original_id: str, recipient: str) -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example.si\r\nTo: info@stik.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx>\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.si\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: info@stik.test\r\nTo: {recipient}\r\nMessage-ID: {original_id}\r\n"
        "Subject: Re: test\r\n\r\n--b--\r\n"
    ).encode()


async def test_out_of_office_of_an_agent_stays_an_internal_note(
    store: Store, settings: EmailSettings
) -> None:
    transport = OutboxTransport(settings.outbox)
    first = await ingest(store, build_mail(message_id="<a@cust>"), settings, transport=transport)
    (ack,) = outbox_mails(settings)
    outgoing_before = await count(store, OutgoingMail)
    async with store.sessions() as session, session.begin():
        await session.execute(update(Ticket).values(status=TicketStatus.PENDING_CUSTOMER))
    ooo = build_mail(
        sender="marko.agent@stik.test",
        subject="Samodejni odgovor: Števec",
        message_id="<ooo@stik.test>",
        headers={"Auto-Submitted": "auto-replied", "In-Reply-To": str(ack["Message-ID"])},
    )

    done = await ingest(store, ooo, settings, transport=transport)

    assert done.robot is Robot.INTERNAL and not done.acknowledged
    stored = await activity(store, done.activity_id)
    assert stored.meta["internal_note"] is True
    assert await count(store, OutgoingMail) == outgoing_before
    assert len(outbox_mails(settings)) == 1
    async with store.sessions() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.number == first.ticket_number))
    assert ticket is not None and ticket.status == TicketStatus.PENDING_CUSTOMER
    assert await count(store, Ticket) == 1


async def test_mail_from_stiks_own_address_is_never_answered(store: Store, tmp_path: Path) -> None:
    settings = email_settings(tmp_path)
    transport = OutboxTransport(settings.outbox)
    looped = build_mail(sender="info@stik.test", message_id="<loop@stik.test>")

    done = await ingest(store, looped, settings, transport=transport)

    assert done.robot is Robot.OWN and done.ticket_number is None and not done.acknowledged
    assert outbox_mails(settings) == []


async def test_acknowledgement_speaks_the_matched_partners_language(
    store: Store, settings: EmailSettings
) -> None:
    async with store.sessions() as session, session.begin():
        partner = Partner(first_name="John", last_name="Smith", language="en")
        partner.contact_points.append(ContactPoint(kind="email", value="john@example.com"))
        session.add(partner)
    transport = OutboxTransport(settings.outbox)

    await ingest(store, build_mail(sender="john@example.com"), settings, transport=transport)
    await ingest(store, build_mail(message_id="<sl@x>"), settings, transport=transport)

    english, slovene = outbox_mails(settings)
    assert "we have received your message" in english.get_body(("plain",)).get_content()
    assert "prejeli smo vaše sporočilo" in slovene.get_body(("plain",)).get_content()


async def test_a_mail_dated_years_ago_counts_from_its_arrival(
    store: Store, settings: EmailSettings
) -> None:
    """A sender's clock in 2003 must not number the ticket 2003-… nor make it 20 years late."""
    raw = build_mail(message_id="<old-clock@example.si>").replace(
        b"Date: Mon, 02 Mar 2026 09:30:00 +0100", b"Date: Thu, 01 May 2003 08:00:00 +0200"
    )
    done = await ingest(store, raw, settings, received_at=NOW)

    found = await activity(store, done.activity_id)
    assert done.ticket_number is not None and done.ticket_number.startswith("2026-")
    assert found.occurred_at == NOW
    assert found.meta["date_header"].startswith("2003-05-01")
    async with store.sessions() as session:
        ticket = await session.get_one(Ticket, found.ticket_id)
    assert ticket.created_at == NOW

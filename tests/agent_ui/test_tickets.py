"""Working a ticket over HTTP: take, change, note, reply by email, link, merge, close."""

import re
from email import message_from_bytes, policy
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from agent_ui.models import MatchCorrection, ReplyTemplate, TicketEvent
from agent_ui.replies import fill
from interactions.models import Activity, AuditEntry, Direction, Document, Ticket
from interactions.tickets import allocate_ticket_number
from interactions.triage.models import TriageReview
from tests.agent_ui.conftest import Web


async def events(web: Web, ticket_id: int) -> list[tuple[str, str | None, str | None]]:
    async with web.store.sessions() as db:
        rows = await db.execute(
            select(TicketEvent.kind, TicketEvent.field, TicketEvent.new_value)
            .where(TicketEvent.ticket_id == ticket_id)
            .order_by(TicketEvent.id)
        )
        return [tuple(r) for r in rows]


async def ticket(web: Web, ticket_id: int) -> Ticket:
    async with web.store.sessions() as db:
        return await db.get_one(Ticket, ticket_id)


async def test_take_change_and_note_are_audited_events(web: Web) -> None:
    client, token = await web.signed_in("ana")
    tid = web.world.supplier_ticket

    await client.post(f"/tickets/{tid}/take", data={"csrf_token": token})
    await client.post(
        f"/tickets/{tid}/fields",
        data={"csrf_token": token, "category": "billing_question", "priority": "2"},
    )
    await client.post(f"/tickets/{tid}/notes", data={"csrf_token": token, "text": "Pokliči jo."})
    page = await (await client.get(f"/tickets/{tid}")).text()

    found = await ticket(web, tid)
    assert (found.assignee_id, found.status, found.category, found.priority) == (
        web.ids["ana"],
        "open",
        "billing_question",
        2,
    )
    assert await events(web, tid) == [
        ("change", "assignee_id", str(web.ids["ana"])),
        ("change", "status", "open"),
        ("change", "category", "billing_question"),
        ("change", "priority", "2"),
        ("note", None, None),
    ]
    assert "Pokliči jo." in page
    async with web.store.sessions() as db:
        updates = await db.scalars(
            select(AuditEntry.details).where(
                AuditEntry.action == "update", AuditEntry.entity == "ticket"
            )
        )
        assert [d["field"] for d in updates] == [
            "assignee_id",
            "status",
            "category",
            "priority",
            None,
        ]


async def test_bad_changes_are_refused(web: Web) -> None:
    client, token = await web.signed_in("ana")
    tid = web.world.supplier_ticket
    url = f"/tickets/{tid}/fields"

    priority = await client.post(url, data={"csrf_token": token, "priority": "9"})
    queue = await client.post(
        url, data={"csrf_token": token, "queue_id": str(web.world.dso_queue_id)}
    )
    status = await client.post(url, data={"csrf_token": token, "status": "closed"})
    empty_note = await client.post(f"/tickets/{tid}/notes", data={"csrf_token": token, "text": " "})

    assert (priority.status, queue.status, status.status, empty_note.status) == (400, 403, 400, 400)
    assert await events(web, tid) == []


async def test_reply_by_email_goes_to_the_outbox_and_the_timeline(web: Web) -> None:
    client, token = await web.signed_in("ana")
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

    files = list((web.data_dir / "outbox").glob("*.eml"))
    assert len(files) == 1
    sent = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert sent["To"] == "ana.novak@example.si"
    assert sent["Subject"] == f"Re: Števec [#{web.world.supplier_ticket_number}]"
    assert sent["In-Reply-To"] == "<m1@example.si>"
    assert "Auto-Submitted" not in sent
    assert "zamenjamo v torek" in sent.get_content()

    async with web.store.sessions() as db:
        outbound = await db.scalar(
            select(Activity).where(
                Activity.ticket_id == tid, Activity.direction == Direction.OUTBOUND
            )
        )
        assert outbound is not None and outbound.employee_id == web.ids["ana"]
        assert outbound.external_id == sent["Message-ID"]
    found = await ticket(web, tid)
    assert found.first_responded_at is not None and found.status == "open"
    assert "zamenjamo v torek" in await (await client.get(f"/tickets/{tid}")).text()


async def test_reply_with_attachment_and_bad_recipient(web: Web) -> None:
    client, token = await web.signed_in("ana")
    tid = web.world.supplier_ticket
    bad = await client.post(
        f"/tickets/{tid}/reply",
        data={"csrf_token": token, "to": "not an address\r\nBcc: x@evil", "body": "x"},
    )
    assert bad.status == 400

    from aiohttp import FormData

    form = FormData()
    for key, value in {
        "csrf_token": token,
        "to": "ana.novak@example.si",
        "subject": "",
        "body": "V prilogi.",
    }.items():
        form.add_field(key, value)
    form.add_field(
        "attachment", b"%PDF-1.4 test", filename="racun.pdf", content_type="application/pdf"
    )
    assert (await client.post(f"/tickets/{tid}/reply", data=form)).status == 200

    sent = message_from_bytes(
        next((web.data_dir / "outbox").glob("*.eml")).read_bytes(), policy=policy.default
    )
    attachment = next(sent.iter_attachments())
    assert attachment.get_filename() == "racun.pdf"
    assert attachment.get_content() == b"%PDF-1.4 test"
    async with web.store.sessions() as db:
        names = await db.scalars(select(Document.filename))
        assert list(names) == ["racun.pdf"]


async def test_templates_fill_placeholders_in_both_languages(web: Web) -> None:
    client, _ = await web.signed_in("ana")
    async with web.store.sessions() as db:
        templates = {(t.code, t.language): t.id for t in await db.scalars(select(ReplyTemplate))}
    tid = web.world.supplier_ticket

    sl = await (
        await client.get(
            f"/tickets/{tid}/reply-template",
            params={"template": templates[("meter_reading", "sl")]},
        )
    ).text()
    en = await (
        await client.get(
            f"/tickets/{tid}/reply-template", params={"template": templates[("acknowledge", "en")]}
        )
    ).text()

    assert "Spoštovani Ana Novak" in sl and "merilno mesto 3-345341" in sl
    assert f"[#{web.world.supplier_ticket_number}]" in sl
    assert "Dear Ana Novak" in en and web.world.supplier_ticket_number in en
    assert "{" not in sl and "{" not in en


async def test_linking_another_partner_keeps_the_correction(web: Web) -> None:
    from interactions.models import Partner

    async with web.store.sessions() as db, db.begin():
        other = Partner(first_name="Boris", last_name="Kranjc")
        db.add(other)
        await db.flush()
        other_id = other.id
    client, token = await web.signed_in("ana")
    tid = web.world.supplier_ticket

    results = await (await client.get(f"/tickets/{tid}/link-search", params={"q": "Kranjc"})).text()
    assert "Boris Kranjc" in results
    await client.post(
        f"/tickets/{tid}/link", data={"csrf_token": token, "partner_id": str(other_id)}
    )

    async with web.store.sessions() as db:
        correction = await db.scalar(select(MatchCorrection))
        activity = await db.get_one(Activity, web.world.email_activity)
    assert correction is not None
    assert (correction.old_partner_id, correction.new_partner_id) == (
        web.world.partner_id,
        other_id,
    )
    assert correction.match_outcome == "matched" and correction.match_reasons == ["email"]
    assert activity.partner_id == other_id
    assert (await ticket(web, tid)).partner_id == other_id


async def test_link_refuses_a_metering_point_the_partner_has_no_role_at(web: Web) -> None:
    from interactions.models import MeteringPoint

    async with web.store.sessions() as db, db.begin():
        stranger = MeteringPoint(eimm="2-100200")
        db.add(stranger)
        await db.flush()
        stranger_id = stranger.id
    client, token = await web.signed_in("ana")
    response = await client.post(
        f"/tickets/{web.world.supplier_ticket}/link",
        data={
            "csrf_token": token,
            "partner_id": str(web.world.partner_id),
            "metering_point_id": str(stranger_id),
        },
    )
    assert response.status == 400


async def test_merge_moves_contacts_and_closes_the_other(web: Web) -> None:
    from datetime import UTC, datetime

    from interactions.models import ActivityState, Channel

    now = datetime.now(UTC)
    async with web.store.sessions() as db, db.begin():
        number = await allocate_ticket_number(db, now.year)
        second = Ticket(number=number, legal_entity="supplier", subject="Še enkrat")
        db.add(second)
        await db.flush()
        db.add(
            Activity(
                channel=Channel.WEB,
                external_id="form-9",
                occurred_at=now,
                legal_entity="supplier",
                ticket_id=second.id,
                text="Obrazec",
                state=ActivityState.PROCESSED,
                match_reasons=[],
                match_candidates=[],
                meta={},
            )
        )
        second_id, second_number = second.id, second.number
    client, token = await web.signed_in("ana")
    tid = web.world.supplier_ticket

    self_merge = await client.post(
        f"/tickets/{tid}/merge",
        data={"csrf_token": token, "other": web.world.supplier_ticket_number},
    )
    await client.post(f"/tickets/{tid}/merge", data={"csrf_token": token, "other": second_number})

    assert self_merge.status == 400
    merged = await ticket(web, second_id)
    assert merged.status == "closed"
    assert ("close", "status", "merged") in await events(web, second_id)
    page = await (await client.get(f"/tickets/{tid}")).text()
    assert "Obrazec" in page


async def test_close_with_a_resolution_code(web: Web) -> None:
    client, token = await web.signed_in("ana")
    tid = web.world.supplier_ticket

    unknown = await client.post(
        f"/tickets/{tid}/close", data={"csrf_token": token, "resolution": "whatever"}
    )
    closed = await client.post(
        f"/tickets/{tid}/close", data={"csrf_token": token, "resolution": "solved", "note": "OK"}
    )
    again = await client.post(f"/tickets/{tid}/notes", data={"csrf_token": token, "text": "x"})
    change = await client.post(
        f"/tickets/{tid}/fields", data={"csrf_token": token, "priority": "1"}
    )

    assert (unknown.status, closed.status) == (400, 200)
    found = await ticket(web, tid)
    assert found.status == "closed" and found.closed_at is not None
    assert ("close", "status", "solved") in await events(web, tid)
    assert again.status == 200  # notes stay possible on a closed ticket
    assert change.status == 409


async def test_supervisor_assigns_and_the_agent_hears_of_it(web: Web) -> None:
    agent, _ = await web.signed_in("bor")
    socket = await agent.ws_connect("/ws")
    hello = await socket.receive_json(timeout=5)
    supervisor, token = await web.signed_in("sara")

    await supervisor.post(
        f"/tickets/{web.world.supplier_ticket}/fields",
        data={"csrf_token": token, "assignee_id": str(web.ids["bor"])},
    )

    pushed = await socket.receive_json(timeout=5)
    assert hello["kind"] == "hello"
    assert pushed["kind"] == "ticket.assigned"
    assert pushed["payload"]["number"] == web.world.supplier_ticket_number
    mine = await (await agent.get("/fragments/my-tickets")).text()
    assert web.world.supplier_ticket_number in mine
    await socket.close()


def test_outbox_folder_is_under_the_data_dir(tmp_path: Path) -> None:
    from agent_ui.keys import SENDER
    from agent_ui.outbound import EmlOutbox
    from stik.app import create_app
    from stik.config import Settings

    app = create_app(Settings(data_dir=tmp_path, database_url="sqlite:///:memory:"))
    sender = app[SENDER]
    assert isinstance(sender, EmlOutbox) and sender.folder == tmp_path / "outbox"


@given(st.text(max_size=300), st.text(max_size=50))
def test_placeholders_fill_only_known_names(template: str, value: str) -> None:
    values = {"customer_name": value, "ticket_number": "2026-000001"}
    filled = fill(template + "{customer_name}{unknown}", values)
    assert filled.endswith(value + "{unknown}")


def shown_fields(html: str) -> dict[str, str]:
    """What a browser posts from the ticket's fields form: each select's chosen value."""
    form = re.search(r'<form method="post" action="/tickets/\d+/fields".*?</form>', html, re.S)
    assert form is not None
    posted = {}
    for name, options in re.findall(r'<select name="(\w+)">(.*?)</select>', form.group(0), re.S):
        values = re.findall(r'<option value="([^"]*)"( selected)?', options)
        posted[name] = next((v for v, chosen in values if chosen), values[0][0])
    return posted


async def test_saving_other_fields_keeps_the_triaged_category(web: Web) -> None:
    tid = web.world.supplier_ticket
    async with web.store.sessions() as db, db.begin():
        (await db.get_one(Ticket, tid)).category = "billing_complaint"
    client, token = await web.signed_in("ana")
    await client.post(f"/tickets/{tid}/take", data={"csrf_token": token})

    page = await (await client.get(f"/tickets/{tid}")).text()
    posted = {**shown_fields(page), "priority": "1"}
    saved = await client.post(f"/tickets/{tid}/fields", data={"csrf_token": token, **posted})

    assert saved.status == 200
    assert posted["category"] == "billing_complaint"
    assert page.count('<option value="', page.index('name="category"')) >= 16
    assert "Billing complaint" in page and "Service complaint" in page
    found = await ticket(web, tid)
    assert (found.category, found.priority) == ("billing_complaint", 1)
    assert [e for e in await events(web, tid) if e[1] == "category"] == []


async def test_an_agents_category_is_triages_decision(web: Web) -> None:
    tid = web.world.supplier_ticket
    client, token = await web.signed_in("ana")

    unknown = await client.post(
        f"/tickets/{tid}/fields", data={"csrf_token": token, "category": "billing"}
    )
    changed = await client.post(
        f"/tickets/{tid}/fields", data={"csrf_token": token, "category": "meter_fault"}
    )

    assert (unknown.status, changed.status) == (400, 200)
    async with web.store.sessions() as db:
        review = await db.scalar(select(TriageReview))
        opening = await db.get_one(Activity, web.world.email_activity)
    assert review is not None
    assert (review.external_id, review.decided_category, review.decided_by) == (
        "<m1@example.si>",
        "meter_fault",
        "ana",
    )
    assert opening.category == "meter_fault"
    assert opening.meta["triage"]["decided_by"] == "ana"
    assert (await ticket(web, tid)).category == "meter_fault"

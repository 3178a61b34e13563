"""The single door: idempotent, concurrent-safe, nothing lost, on both databases."""

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import InterfaceError, OperationalError

from interactions import Attachment, InboundContact, record_contact
from interactions.models import (
    Activity,
    Blob,
    Channel,
    ContactKind,
    ContactPoint,
    Document,
    Partner,
    Ticket,
)
from interactions.store import Store

WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def email(external_id: str = "<a1@example.si>", sender: str = "ana.novak@example.si"):
    return InboundContact(
        channel=Channel.EMAIL,
        external_id=external_id,
        occurred_at=WHEN,
        sender_address=sender,
        sender_name="Ana Novak",
        subject="Račun za električno energijo",
        text="Pozdravljeni, števec kaže 12345.",
        raw=b"From: ana.novak@example.si\r\nSubject: test\r\n\r\nbody",
    )


async def count(store: Store, model) -> int:
    async with store.sessions() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_email_becomes_activity_with_ticket(store: Store) -> None:
    recorded = await record_contact(store, email())

    assert recorded.created
    assert recorded.state == "processed"
    assert recorded.ticket_number == "2026-000001"
    async with store.sessions() as session:
        activity = await session.get_one(Activity, recorded.activity_id)
        assert activity.subject == "Račun za električno energijo"
        assert activity.occurred_at == WHEN
        assert activity.match_outcome == "unknown"
        blob = await session.get_one(Blob, activity.raw_sha256)
        assert blob.data.startswith(b"From: ana.novak")


async def test_same_contact_twice_is_one_activity(store: Store) -> None:
    first = await record_contact(store, email())
    second = await record_contact(store, email())

    assert first.activity_id == second.activity_id
    assert (first.created, second.created) == (True, False)
    assert second.ticket_number == first.ticket_number
    assert await count(store, Activity) == 1
    assert await count(store, Ticket) == 1


async def test_concurrent_duplicates_are_one_activity(store: Store) -> None:
    results = await asyncio.gather(*(record_contact(store, email()) for _ in range(4)))

    assert len({r.activity_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert await count(store, Activity) == 1
    assert await count(store, Ticket) == 1


async def test_concurrent_tickets_get_distinct_sequential_numbers(store: Store) -> None:
    contacts = [email(external_id=f"<m{n}@example.si>") for n in range(12)]
    results = await asyncio.gather(*(record_contact(store, c) for c in contacts))

    numbers = sorted(r.ticket_number for r in results)
    assert numbers == [f"2026-{n:06d}" for n in range(1, 13)]


async def test_ticket_numbers_restart_each_year(store: Store) -> None:
    await record_contact(store, email("<old@x.si>"))
    new_year = InboundContact(
        channel=Channel.WEB, external_id="form-1", occurred_at=datetime(2027, 1, 1, tzinfo=UTC)
    )
    recorded = await record_contact(store, new_year)
    assert recorded.ticket_number == "2027-000001"


async def test_known_sender_is_matched_by_exact_contact_point(store: Store) -> None:
    async with store.sessions() as session, session.begin():
        partner = Partner(first_name="Ana", last_name="Novak")
        partner.contact_points.append(
            ContactPoint(kind=ContactKind.EMAIL, value="ana.novak@example.si")
        )
        session.add(partner)

    recorded = await record_contact(store, email(sender='"Ana" <Ana.Novak@Example.SI>'))

    async with store.sessions() as session:
        activity = await session.get_one(Activity, recorded.activity_id)
        ticket = await session.get_one(Ticket, activity.ticket_id)
    assert activity.match_outcome == "matched"
    assert activity.partner_id == partner.id
    assert ticket.partner_id == partner.id
    assert activity.match_reasons == ["email ana.novak@example.si is on the partner's record"]


async def test_call_from_shared_landline_is_ambiguous(store: Store) -> None:
    async with store.sessions() as session, session.begin():
        for first in ("Janez", "Marija"):
            partner = Partner(first_name=first, last_name="Kovač")
            partner.contact_points.append(
                ContactPoint(kind=ContactKind.PHONE, value="+38612345678")
            )
            session.add(partner)

    call = InboundContact(
        channel=Channel.PHONE, external_id="CA1", occurred_at=WHEN, sender_address="01 234 56 78"
    )
    recorded = await record_contact(store, call)

    async with store.sessions() as session:
        activity = await session.get_one(Activity, recorded.activity_id)
    assert activity.match_outcome == "ambiguous"
    assert activity.partner_id is None
    assert len(activity.match_candidates) == 2
    assert recorded.ticket_number is None  # a call opens no ticket by itself


async def test_failing_contact_is_parked_with_reason(store: Store) -> None:
    def broken_classifier(contact: InboundContact) -> dict:
        raise RuntimeError("classifier exploded")

    store.classifier = broken_classifier
    recorded = await record_contact(store, email())

    assert recorded.state == "failed"
    assert "classifier exploded" in (recorded.failure_reason or "")
    async with store.sessions() as session:
        activity = await session.get_one(Activity, recorded.activity_id)
    assert activity.state == "failed"
    assert activity.raw_sha256 is not None
    assert activity.subject == "Račun za električno energijo"


async def test_attachments_are_kept_as_documents(store: Store) -> None:
    contact = InboundContact(
        channel=Channel.WEB,
        external_id="form-7",
        occurred_at=WHEN,
        attachments=(Attachment("stevec.jpg", "image/jpeg", b"\xff\xd8jpeg"),),
    )
    recorded = await record_contact(store, contact)

    async with store.sessions() as session:
        docs = (await session.scalars(select(Document))).all()
    assert [(d.filename, d.size, d.activity_id) for d in docs] == [
        ("stevec.jpg", 6, recorded.activity_id)
    ]


def test_contact_speaks_in_enums_and_refuses_naive_times() -> None:
    contact = InboundContact(channel="fax", external_id="f1", occurred_at=WHEN)  # type: ignore[arg-type]
    assert contact.channel is Channel.FAX
    with pytest.raises(ValueError, match="timezone"):
        InboundContact(channel=Channel.FAX, external_id="f1", occurred_at=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="external_id"):
        InboundContact(channel=Channel.FAX, external_id="", occurred_at=WHEN)
    with pytest.raises(ValueError):
        InboundContact(channel="pigeon", external_id="p1", occurred_at=WHEN)  # type: ignore[arg-type]


async def test_database_outage_raises_for_the_channel_to_retry() -> None:
    store = Store.open("postgresql://nobody@127.0.0.1:1/none")
    try:
        with pytest.raises((OSError, OperationalError, InterfaceError)):
            await record_contact(store, email())
    finally:
        await store.close()

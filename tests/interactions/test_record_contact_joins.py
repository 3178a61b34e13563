"""record_contact joins a ticket a channel's threading found, and robots open none."""

from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import func, select

from interactions import InboundContact, record_contact
from interactions.models import Activity, Channel, Ticket, TicketStatus
from interactions.store import Store

WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def mail(external_id: str, **changes: object) -> InboundContact:
    contact = InboundContact(
        channel=Channel.EMAIL,
        external_id=external_id,
        occurred_at=WHEN,
        sender_address="ana.novak@example.si",
        subject="Račun",
        text="Pozdravljeni",
    )
    return replace(contact, **changes)  # type: ignore[arg-type]


async def tickets(store: Store) -> int:
    async with store.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Ticket)) or 0


async def test_contact_with_ticket_id_joins_that_ticket(store: Store) -> None:
    first = await record_contact(store, mail("<a@x>"))
    answer = await record_contact(store, mail("<b@x>", ticket_id=first.ticket_id))

    assert answer.ticket_number == first.ticket_number
    assert answer.ticket_id == first.ticket_id
    assert await tickets(store) == 1


async def test_customer_answer_reopens_a_closed_ticket(store: Store) -> None:
    first = await record_contact(store, mail("<a@x>"))
    async with store.sessions() as session, session.begin():
        ticket = await session.get_one(Ticket, first.ticket_id)
        ticket.status, ticket.closed_at = TicketStatus.CLOSED, WHEN

    await record_contact(store, mail("<b@x>", ticket_id=first.ticket_id))

    async with store.sessions() as session:
        ticket = await session.get_one(Ticket, first.ticket_id)
        assert ticket.status == TicketStatus.OPEN
        assert ticket.closed_at is None


async def test_automatic_contact_opens_and_reopens_nothing(store: Store) -> None:
    alone = await record_contact(store, mail("<robot@x>", automatic=True))
    first = await record_contact(store, mail("<a@x>"))
    async with store.sessions() as session, session.begin():
        ticket = await session.get_one(Ticket, first.ticket_id)
        ticket.status = TicketStatus.PENDING_CUSTOMER

    joined = await record_contact(store, mail("<ooo@x>", ticket_id=first.ticket_id, automatic=True))

    assert alone.ticket_number is None
    assert joined.ticket_id == first.ticket_id
    async with store.sessions() as session:
        ticket = await session.get_one(Ticket, first.ticket_id)
        assert ticket.status == TicketStatus.PENDING_CUSTOMER
    assert await tickets(store) == 1


async def test_nul_characters_do_not_lose_the_contact(store: Store) -> None:
    recorded = await record_contact(
        store, mail("<nul@x>", subject="a\x00b", text="x\x00y", meta={"k": ["\x00"]})
    )

    async with store.sessions() as session:
        activity = await session.get_one(Activity, recorded.activity_id)
    assert recorded.state == "processed"
    # Each NUL becomes U+FFFD, so the reader sees where a character was lost.
    assert (activity.subject, activity.text, activity.meta) == (
        "a\ufffdb",
        "x\ufffdy",
        {"k": ["\ufffd"]},
    )

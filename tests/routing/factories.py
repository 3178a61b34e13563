"""Factories for routing tests: agents, queues and tickets in a real store."""

from datetime import datetime
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from interactions.models import Calendar, Employee, Queue, SlaPolicy, Ticket
from interactions.store import Store
from interactions.tickets import allocate_ticket_number

LJUBLJANA = ZoneInfo("Europe/Ljubljana")
_logins = count(1)


def local(*parts: int) -> datetime:
    """A wall-clock time in Ljubljana."""
    return datetime(*parts, tzinfo=LJUBLJANA)


async def add_agent(
    store: Store,
    org_unit: str = "call_centre",
    skills: dict[str, int] | None = None,
    capacity: dict[str, int] | None = None,
    languages: list[str] | None = None,
    role: str = "agent",
    legal_entity: str = "supplier",
) -> int:
    async with store.sessions() as session, session.begin():
        employee = Employee(
            login=f"agent{next(_logins)}",
            full_name="Test Agent",
            email="agent@example.si",
            org_unit=org_unit,
            legal_entity=legal_entity,
            role=role,
            skills=skills or {},
            languages=languages if languages is not None else ["sl"],
            capacity=capacity or {},
        )
        session.add(employee)
        await session.flush()
        return employee.id


async def add_queue(
    store: Store,
    code: str,
    org_unit: str = "call_centre",
    channels: tuple[str, ...] = ("phone",),
    rules: dict[str, Any] | None = None,
    skills: dict[str, int] | None = None,
    calendar: str | None = "office",
    policy: str | None = None,
) -> int:
    async with store.sessions() as session, session.begin():
        calendar_id = await session.scalar(select(Calendar.id).where(Calendar.code == calendar))
        policy_id = await session.scalar(select(SlaPolicy.id).where(SlaPolicy.code == policy))
        queue = Queue(
            code=code,
            name=code,
            legal_entity="supplier",
            org_unit=org_unit,
            channels=list(channels),
            skills=skills or {},
            rules=rules or {},
            calendar_id=calendar_id,
            sla_policy_id=policy_id,
        )
        session.add(queue)
        await session.flush()
        return queue.id


async def add_ticket(
    store: Store,
    created_at: datetime,
    queue_id: int | None = None,
    kind: str = "question",
    category: str | None = None,
    priority: int = 3,
) -> int:
    async with store.sessions() as session, session.begin():
        ticket = Ticket(
            number=await allocate_ticket_number(session, created_at.year),
            legal_entity="supplier",
            kind=kind,
            category=category,
            priority=priority,
            queue_id=queue_id,
            created_at=created_at,
        )
        session.add(ticket)
        await session.flush()
        return ticket.id

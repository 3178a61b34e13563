"""Routing fixtures: the shared store, with only the shipped calendars and SLA policies."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete

from interactions.models import Calendar, SlaPolicy
from interactions.store import Store
from routing.sla import DEFAULT_CALENDARS, DEFAULT_POLICIES


@pytest.fixture
async def store(store: Store) -> AsyncIterator[Store]:
    """The store fixture, without calendars and policies earlier tests added.

    Those tables are seeded by the migration and so kept between tests; the rows
    a test adds beside the shipped ones are removed here, before the next test.
    """
    async with store.sessions() as session, session.begin():
        await session.execute(
            delete(SlaPolicy).where(SlaPolicy.code.not_in([p["code"] for p in DEFAULT_POLICIES]))
        )
        await session.execute(
            delete(Calendar).where(Calendar.code.not_in([c["code"] for c in DEFAULT_CALENDARS]))
        )
    yield store

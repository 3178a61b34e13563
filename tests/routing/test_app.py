"""The engine inside the running app: contacts recorded become assigned work."""

import asyncio

from aiohttp.test_utils import TestServer
from sqlalchemy import select

from interactions import InboundContact, record_contact
from interactions.models import Channel, Ticket
from interactions.store import Store
from routing.models import Presence
from routing.tasks import ENGINE
from stik.app import create_app
from stik.config import Settings
from tests.routing.factories import add_agent, add_queue, local


async def test_email_recorded_while_app_runs_is_assigned_with_sla_due_times(
    store: Store, tmp_path
) -> None:
    await add_queue(store, "mail", org_unit="back_office", channels=("email",))
    agent = await add_agent(store, org_unit="back_office")
    app = create_app(Settings(data_dir=tmp_path), store=store)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        await app[ENGINE].set_presence(agent, Presence.AVAILABLE)
        recorded = await record_contact(
            store,
            InboundContact(
                channel=Channel.EMAIL,
                external_id="<app-1@example.si>",
                occurred_at=local(2026, 3, 2, 9, 0),
                subject="Reklamacija računa",
                text="Račun je previsok.",
            ),
        )
        async with store.sessions() as session:
            ticket = (
                await session.execute(select(Ticket).where(Ticket.number == recorded.ticket_number))
            ).scalar_one()
    finally:
        await server.close()
        await asyncio.sleep(0)

    assert ticket.assignee_id == agent
    assert ticket.first_response_due == local(2026, 3, 3, 9, 0)
    assert ticket.resolution_due == local(2026, 3, 12, 9, 0)


async def test_a_node_can_leave_routing_to_others(store: Store, tmp_path) -> None:
    app = create_app(Settings(data_dir=tmp_path, extra={"routing": "off"}), store=store)

    assert ENGINE not in app

"""A supervisor's wallboard in a real browser: the numbers move as a call arrives and is answered.

The server is a `stik serve` process; this test is another node that writes the call
as the phone channel does and publishes its `call.*` events over LISTEN/NOTIFY.
"""

from datetime import timedelta

from playwright.async_api import Browser, expect
from sqlalchemy.orm.attributes import flag_modified

from interactions.models import Activity, ActivityState, Channel, Direction
from interactions.types import utcnow
from routing.models import Task, TaskState
from tests.agent_ui.dashboards import factories as f
from tests.e2e.conftest import ARTIFACTS, Server, add_user
from tests.e2e.test_workspace import PASSWORD, sign_in


async def publish(server: Server, event: str, activity: Activity) -> None:
    call = activity.meta["call"]
    payload = {k: call.get(k) for k in ("queue_id", "outcome", "arrived_at", "queued_at")}
    payload |= {k: call.get(k) for k in ("answered_at", "ended_at", "wait_seconds")}
    payload |= {"activity_id": activity.id, "legal_entity": "supplier"}
    await server.store.bus.publish(event, payload)


async def test_the_wallboard_follows_a_call(server: Server, browser: Browser) -> None:
    add_user(server.env, "sara", PASSWORD, role="supervisor", unit="call_centre", language="en")
    add_user(server.env, "ana", PASSWORD, unit="call_centre", language="en")
    queue_id = await f.queue(server.store, "info", name="Info line")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = await browser.new_context(viewport={"width": 1600, "height": 1000}, locale="en-GB")
    page = await context.new_page()
    await sign_in(page, server, "sara")
    await expect(page.locator("nav a", has_text="Dashboards")).to_be_visible()

    await page.goto(f"{server.url}/dashboards/wallboard?layout=desk")
    row = page.locator(f'tr[data-row="{queue_id}"]')
    waiting = row.locator('[data-figure="waiting"]')
    in_progress = row.locator('[data-figure="in_progress"]')
    level = row.locator('[data-figure="service_level"]')
    await expect(waiting).to_have_text("0")
    await expect(level).to_have_text("—")

    # A call arrives and queues.
    arrived = utcnow() - timedelta(seconds=12)
    meta = f.call_meta(arrived, queue_id, "answered", wait=8, talk=30)
    live = {**meta, "answered_at": None, "offered_at": None, "ended_at": None, "outcome": None}
    live |= {"agent_id": None, "wait_seconds": None, "talk_seconds": None}
    async with server.store.sessions() as db, db.begin():
        call = Activity(
            channel=Channel.PHONE,
            direction=Direction.INBOUND,
            external_id=meta["sid"],
            occurred_at=arrived,
            legal_entity="supplier",
            state=ActivityState.PROCESSED,
            match_reasons=[],
            match_candidates=[],
            meta={"call": live},
        )
        db.add(call)
        await db.flush()
        task = Task(
            kind="call",
            channel="phone",
            activity_id=call.id,
            queue_id=queue_id,
            legal_entity="supplier",
            state=TaskState.QUEUED,
            created_at=arrived,
        )
        db.add(task)
    await publish(server, "call.queued", call)
    await expect(waiting).to_have_text("1", timeout=5000)
    await expect(row.locator('[data-figure="longest_wait"]')).not_to_have_text("—")

    # An agent answers it.
    async with server.store.sessions() as db, db.begin():
        found = await db.get_one(Activity, call.id)
        found.meta["call"] |= {
            "answered_at": meta["answered_at"],
            "offered_at": meta["answered_at"],
        }
        flag_modified(found, "meta")
        (await db.get_one(Task, task.id)).state = TaskState.ASSIGNED
    await publish(server, "call.answered", found)
    await expect(waiting).to_have_text("0", timeout=5000)
    await expect(in_progress).to_have_text("1", timeout=5000)
    await page.screenshot(path=str(ARTIFACTS / "wallboard_desk.png"), full_page=True)

    # It ends, answered within the target: the service level of today is 100 %.
    async with server.store.sessions() as db, db.begin():
        found = await db.get_one(Activity, call.id)
        found.meta = {"call": meta}
        (await db.get_one(Task, task.id)).state = TaskState.DONE
    await publish(server, "call.ended", found)
    await expect(level).to_have_text("100.0 %", timeout=5000)
    await expect(level).to_have_class("value good")
    await expect(in_progress).to_have_text("0")

    # The wall layout shows the same, big; then the report with its charts.
    await page.goto(f"{server.url}/dashboards/wallboard?layout=wall")
    card = page.locator(f'article[data-row="{queue_id}"]')
    await expect(card.locator('[data-figure="service_level"]')).to_have_class("value good")
    await page.screenshot(path=str(ARTIFACTS / "wallboard.png"), full_page=True)

    await page.goto(f"{server.url}/dashboards/report")
    await expect(page.locator('[data-kpi="service_level"] .value')).to_have_text("100.0 %")
    tooltip = await page.locator('[data-kpi="service_level"]').get_attribute("title")
    assert tooltip and "within 20 s" in tooltip
    drawn = await page.evaluate(
        "() => [...document.querySelectorAll('.charts canvas')].map(c => !!Chart.getChart(c))"
    )
    assert drawn == [True, True, True, True]
    await page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)

    # An agent is refused the manager pages.
    other = await browser.new_context()
    agent_page = await other.new_page()
    await sign_in(agent_page, server, "ana")
    refused = await agent_page.goto(f"{server.url}/dashboards/wallboard")
    assert refused is not None and refused.status == 403
    await other.close()
    await context.close()

"""`stik call` against a running Stik, answered by an agent in a real browser."""

import asyncio

from playwright.async_api import Browser, expect
from sqlalchemy import select

from interactions.models import Activity, Channel, OrgUnit, Queue
from tests.agent_ui import factories
from tests.e2e.conftest import ARTIFACTS, Server, add_user, stik_command
from tests.e2e.test_workspace import PASSWORD, sign_in


async def test_a_test_call_pops_the_caller_and_is_answered_in_the_browser(
    server: Server, browser: Browser
) -> None:
    world = await factories.world(server.store)
    async with server.store.sessions() as db, db.begin():
        db.add(
            Queue(
                code="sup-calls",
                name="Klicni center",
                legal_entity="supplier",
                org_unit=OrgUnit.CALL_CENTRE,
                channels=["phone"],
            )
        )
    add_user(server.env, "ana", PASSWORD, unit="call_centre")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = await browser.new_context(viewport={"width": 1400, "height": 900}, locale="sl-SI")
    page = await context.new_page()
    await sign_in(page, server, "ana")
    await expect(page.locator("#live")).to_have_class("live on")
    await page.click("#go-available")
    await expect(page.locator("#presence")).to_have_class("presence state-available")

    caller = await asyncio.create_subprocess_exec(
        *stik_command(),
        "call",
        "--url",
        server.url,
        "--from",
        "041 123 456",
        "--talk",
        "1",
        "--max-wait",
        "30",
        env=server.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    await expect(page.locator("#call a.pop-partner")).to_have_text("Ana Novak", timeout=10000)
    await expect(page.locator("#call-pop")).to_contain_text("3-345341")
    await expect(page.locator("#call-tickets")).to_contain_text(world.supplier_ticket_number)
    await expect(page.locator("#call-state")).to_have_text("Zvoni")
    await page.screenshot(path=str(ARTIFACTS / "screen_pop.png"), full_page=True)
    await page.click("#call-accept")
    await expect(page.locator("#call-state")).to_have_text("V pogovoru")
    out, err = await asyncio.wait_for(caller.communicate(), timeout=40)
    await expect(page.locator("#call-state")).to_have_text("Klic končan", timeout=5000)
    await page.fill("#wrap-up textarea[name=notes]", "Vprašanje o računu, rešeno.")
    await page.click("#wrap-up button")
    await expect(page.locator("#wrap-up .result")).to_contain_text("Zaključek shranjen")
    await context.close()

    said = out.decode()
    assert caller.returncode == 0, err.decode()[-2000:]
    assert "outcome=answered" in said and "agent=ana" in said, said
    async with server.store.sessions() as db:
        call = await db.scalar(select(Activity).where(Activity.channel == Channel.PHONE))
    assert call is not None and call.partner_id == world.partner_id
    assert call.meta["call"]["outcome"] == "answered"
    assert call.meta["wrap_up"]["notes"] == "Vprašanje o računu, rešeno."
    assert call.meta["call"]["talk_seconds"] >= 1

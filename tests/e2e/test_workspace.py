"""An agent's shift in a real browser: sign in, take a call, answer an email, close, search."""

from email import message_from_bytes, policy

from playwright.async_api import Browser, expect
from sqlalchemy import select

from agent_ui.push import push_to_agent
from interactions.models import Activity, ActivityState, Channel, Employee, Ticket
from interactions.types import utcnow
from tests.agent_ui import factories
from tests.e2e.conftest import ARTIFACTS, Server, add_user

PASSWORD = "geslo za test 123"


async def employee_id(server: Server, login: str) -> int:
    async with server.store.sessions() as db:
        return (await db.scalar(select(Employee.id).where(Employee.login == login))) or 0


async def phone_call(server: Server, partner_id: int) -> int:
    async with server.store.sessions() as db, db.begin():
        call = Activity(
            channel=Channel.PHONE,
            external_id="CA-e2e",
            occurred_at=utcnow(),
            legal_entity="supplier",
            partner_id=partner_id,
            duration_seconds=0,
            state=ActivityState.PROCESSED,
            match_reasons=[],
            match_candidates=[],
            meta={},
        )
        db.add(call)
        await db.flush()
        return call.id


async def sign_in(page: object, server: Server, login: str) -> None:
    await page.goto(f"{server.url}/login")  # type: ignore[attr-defined]
    await page.fill("input[name=login]", login)  # type: ignore[attr-defined]
    await page.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    await page.click("button[type=submit]")  # type: ignore[attr-defined]


async def test_an_agents_shift(server: Server, browser: Browser) -> None:
    add_user(server.env, "ana", PASSWORD)
    add_user(server.env, "dan", PASSWORD, entity="dso", language="en")
    world = await factories.world(server.store)
    ana = await employee_id(server, "ana")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    context = await browser.new_context(viewport={"width": 1400, "height": 900}, locale="sl-SI")
    page = await context.new_page()

    # Sign in and go available.
    await sign_in(page, server, "ana")
    await expect(page.locator("h2", has_text="Moji zahtevki")).to_be_visible()
    await expect(page.locator("#live")).to_have_class("live on")
    await page.click("#go-available")
    await expect(page.locator("#presence")).to_have_class("presence state-available")

    # A call: the phone channel pushes a screen-pop from another process (node).
    call_id = await phone_call(server, world.partner_id)
    await push_to_agent(
        server.store,
        ana,
        "screen_pop",
        {
            "activity_id": call_id,
            "caller": "+386 41 123 456",
            "candidates": [
                {"partner_id": world.partner_id, "name": "Ana Novak", "metering_point": "3-345341"}
            ],
        },
    )
    await expect(page.locator("#call a.pop-partner")).to_have_text("Ana Novak", timeout=1000)
    await page.fill("#wrap-up textarea[name=notes]", "Stranka sporoča stanje števca.")
    await page.check("#wrap-up input[name=follow_up]")
    await page.screenshot(path=str(ARTIFACTS / "workspace.png"), full_page=True)
    await page.click("#wrap-up button")
    await expect(page.locator("#wrap-up .result")).to_contain_text("Zaključek shranjen")
    await expect(page.locator("#my-tickets")).to_contain_text("Stranka sporoča stanje števca.")
    async with server.store.sessions() as db:
        call = await db.get_one(Activity, call_id)
    assert call.meta["wrap_up"]["outcome"] == "resolved" and call.ticket_id is not None

    # Search by metering point, results as you type.
    await page.fill("#search", "3-345341")
    await expect(page.locator("#search-results .hit")).to_contain_text("Ana Novak")
    await page.fill("#search", world.supplier_ticket_number)
    await page.locator("#search-results .hit", has_text=world.supplier_ticket_number).click()

    # The ticket: take it by keyboard, answer from a template, close it.
    await expect(page.locator("h1 .number")).to_have_text(world.supplier_ticket_number)
    await page.keyboard.press("t")
    await expect(page.locator("#take")).to_have_count(0)
    await page.select_option("#template", label="Potrditev prejema (sl)")
    await expect(page.locator("#reply-body")).to_contain_text("Spoštovani Ana Novak")
    await page.click("#send-reply")
    await expect(page.locator(".timeline li.outbound")).to_contain_text("Spoštovani Ana Novak")
    outbox = list((server.data_dir / "outbox").glob("*.eml"))
    assert len(outbox) == 1
    sent = message_from_bytes(outbox[0].read_bytes(), policy=policy.default)
    assert sent["To"] == "ana.novak@example.si"
    assert f"[#{world.supplier_ticket_number}]" in sent["Subject"]

    await page.screenshot(path=str(ARTIFACTS / "ticket.png"), full_page=True)
    await page.select_option("#resolution", "answered")
    await page.click("#close-ticket")
    await expect(page.locator("#ticket-status")).to_have_text("zaključen")
    async with server.store.sessions() as db:
        closed = await db.get_one(Ticket, world.supplier_ticket)
    assert (closed.status, closed.assignee_id) == ("closed", ana)

    # The customer view the ticket links to.
    await page.click("#customer-link")
    await expect(page.locator("#customer-view h1")).to_have_text("Ana Novak")
    await expect(page.locator("#customer-view")).to_contain_text("3-345341")
    await page.screenshot(path=str(ARTIFACTS / "customer_view.png"), full_page=True)

    # A DSO agent cannot open the supplier's ticket by its URL.
    other = await browser.new_context()
    dso_page = await other.new_page()
    await sign_in(dso_page, server, "dan")
    await expect(dso_page.locator("h2", has_text="My tickets")).to_be_visible()
    refused = await dso_page.goto(f"{server.url}/tickets/{world.supplier_ticket}")
    assert refused is not None and refused.status == 403
    await other.close()
    await context.close()

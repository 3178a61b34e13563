"""A person in the middle of a simulated day: an agent takes a popped call and answers a
ticket by email in Chromium, and a manager watches the wallboard move."""

import asyncio
from datetime import datetime

from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from interactions.models import Activity, Channel
from interactions.store import Store
from tests.e2e.conftest import ARTIFACTS, add_user, stik_command
from tests.e2e.test_day import Running, open_all_day, stik  # noqa: F401  (the fixture)

PASSWORD = "geslo za dan 2026"


async def sign_in(page: Page, running: Running, login: str) -> None:
    await page.goto(f"{running.url}/login")
    await page.fill("input[name=login]", login)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")


async def next_pop(page: Page, seen: int) -> dict:  # type: ignore[type-arg]
    """Wait for the page's next screen-pop; return it with when the page got it."""
    for _ in range(600):  # the page's own policy forbids string evaluation: poll it
        if await page.evaluate("window.__pops.length") > seen:
            return await page.evaluate(f"window.__pops[{seen}]")  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise AssertionError("no screen-pop within a minute of simulated traffic")


async def test_an_agent_and_a_manager_in_a_simulated_day(
    stik: Running,  # noqa: F811
    e2e_store: Store,
    browser: Browser,
) -> None:
    await open_all_day(e2e_store)
    add_user(stik.env, "ana", PASSWORD, unit="call_centre")
    add_user(stik.env, "sara", PASSWORD, role="supervisor", unit="call_centre")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    day = await asyncio.create_subprocess_exec(
        *stik_command(),
        "simulate",
        "day",
        "--speed",
        "60",
        "--hours",
        "9-10",
        "--agents",
        "1",
        "--back-office",
        "1",
        "--calls-per-hour",
        "90",
        "--emails-per-hour",
        "20",
        "--partners",
        "200",
        "--seed",
        "7",
        "--corpus-mails",
        "0",
        "--letters",
        "0",
        "--settle",
        "5",
        env=stik.env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        # The manager's wallboard, open while the day runs.
        boss = await (
            await browser.new_context(viewport={"width": 1600, "height": 1000})
        ).new_page()
        await sign_in(boss, stik, "sara")
        await boss.goto(f"{stik.url}/dashboards/wallboard?layout=desk")
        board = boss.locator("table").first
        await expect(board).to_be_visible()
        before = await board.inner_text()

        # The agent: signed in, available, and noting when each pop reaches the page.
        context = await browser.new_context(viewport={"width": 1400, "height": 900}, locale="sl-SI")
        page = await context.new_page()
        await sign_in(page, stik, "ana")
        await expect(page.locator("#live")).to_have_class("live on")
        await page.evaluate(
            """window.__pops = [];
            document.addEventListener("stik:event", (e) => {
              if (e.detail.kind === "screen_pop")
                window.__pops.push({at: Date.now(), payload: e.detail.payload});
            });"""
        )
        await page.click("#go-available")

        seen, pop = 0, None
        while True:  # take the first call from a known customer; let the others go
            pop = await next_pop(page, seen)
            seen += 1
            if pop["payload"]["outcome"] == "matched":
                break
            await page.click("#call-decline")
        async with e2e_store.sessions() as db:
            call = await db.scalar(
                select(Activity).where(
                    Activity.channel == Channel.PHONE,
                    Activity.id == pop["payload"]["activity_id"],
                )
            )
        assert call is not None
        arrived = datetime.fromisoformat(call.meta["call"]["arrived_at"]).timestamp()
        assert pop["at"] / 1000 - arrived < 1.0, "the pop took more than a second"

        await expect(page.locator("#call a.pop-partner").first).to_be_visible()
        await page.screenshot(path=str(ARTIFACTS / "day_screen_pop.png"), full_page=True)
        await page.click("#call-accept")
        await expect(page.locator("#call-state")).to_have_text("V pogovoru")
        await page.click("#call a.pop-partner")
        await expect(page.locator("#customer-view h1")).to_be_visible()

        # A ticket waiting in one of the lines, answered by email from a template.
        await page.goto(f"{stik.url}/")
        lines = page.locator("#queues li").filter(has=page.locator(".count.waiting"))
        waiting = lines.filter(has_not_text="Klicni center").locator("a").first  # tickets
        await expect(waiting).to_be_visible(timeout=60_000)
        await waiting.click()
        await page.locator("table a[href^='/tickets/']").first.click()
        await expect(page.locator("#reply-body")).to_be_visible()
        await page.select_option("#template", index=1)
        await expect(page.locator("#reply-body")).not_to_be_empty()
        await page.click("#send-reply")
        await expect(page.locator(".timeline li.outbound").first).to_be_visible()
        await page.screenshot(path=str(ARTIFACTS / "day_ticket.png"), full_page=True)

        # Meanwhile the wallboard has moved with the day.
        await expect(board).not_to_have_text(before, timeout=30_000)
        await boss.screenshot(path=str(ARTIFACTS / "day_wallboard.png"), full_page=True)
    finally:
        _, err = await asyncio.wait_for(day.communicate(), timeout=300)
    assert day.returncode == 0, err.decode()[-2000:]

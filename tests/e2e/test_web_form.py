"""A customer fills the form in a real browser and reads their ticket number."""

import email
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select

from interactions.models import Activity, Document
from interactions.store import Store
from tests.channels.web.helpers import minimal_pdf


async def test_customer_submits_a_complaint_in_chromium(
    browser: Any, live_stik: str, store: Store, tmp_path: Path
) -> None:
    attachment = tmp_path / "račun.pdf"
    attachment.write_bytes(minimal_pdf("Racun 2026-11"))
    page = await browser.new_page(locale="sl-SI")
    await page.goto(f"{live_stik}/form")
    await page.get_by_role("link", name="Reklamacija ali pritožba").click()

    await page.get_by_label("Ime in priimek ali naziv").fill("Špela Čučnik")
    await page.get_by_label("E-pošta").fill("spela@example")  # a slip first
    await page.get_by_label("Sporočilo").fill("Račun za november je napačen.")
    await page.get_by_role("button", name="Pošlji").click()
    assert "To ni veljaven e-poštni naslov" in await page.locator("#problems").inner_text()
    email_field = page.get_by_label("E-pošta")
    assert await email_field.get_attribute("aria-invalid") == "true"
    assert await page.get_by_label("Sporočilo").input_value() == "Račun za november je napačen."

    await email_field.fill("spela@example.si")
    await page.get_by_label(re.compile("Priponke")).set_input_files(str(attachment))
    await email_field.focus()
    await page.keyboard.press("Enter")  # submitted from the keyboard
    ticket = await page.locator("#ticket-number").inner_text()

    assert re.fullmatch(r"\d{4}-\d{6}", ticket)
    assert "spela@example.si" in await page.content()
    async with store.sessions() as session:
        activity = (await session.scalars(select(Activity))).one()
        document = (await session.scalars(select(Document))).one()
    assert activity.sender_name == "Špela Čučnik"
    assert document.filename == "račun.pdf"
    [sent] = list((tmp_path / "outbox").glob("*.eml"))
    assert ticket in email.message_from_bytes(sent.read_bytes())["Subject"]

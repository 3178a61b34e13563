"""Languages: every text translated, chosen per user, Slovenian dates and amounts."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from agent_ui import i18n
from tests.agent_ui.conftest import Web

HERE = Path(__file__).resolve().parents[2]


def test_every_text_has_a_slovenian_translation() -> None:
    with (i18n.LOCALE_DIR / "sl" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalogue = read_po(fh, locale="sl")
    translated = {m.id for m in catalogue if m.id and m.string and not m.fuzzy}
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    wanted = set()
    for folder in ("agent_ui", "customer_view"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            HERE / folder, method_map, options, keywords={"_": None, "gettext": None, "N_": None}
        ):
            wanted.add(message if isinstance(message, str) else message[0])
    assert wanted - translated == set()


def test_slovenian_and_english_formats() -> None:
    at = datetime(2026, 3, 5, 13, 7, tzinfo=UTC)
    with i18n.language("sl"):
        assert i18n.format_datetime(at) == "5. 3. 26, 14:07" or "14:07" in i18n.format_datetime(at)
        assert i18n.format_amount(Decimal("1234.5")) == "1.234,50\xa0€"
        assert i18n.format_time_left(at + timedelta(hours=2), at) == "še 2 h"
        assert "zamuda" in i18n.format_time_left(at - timedelta(minutes=30), at)
    with i18n.language("en"):
        assert i18n.format_amount(Decimal("1234.5")) == "€1,234.50"
        assert i18n.format_time_left(at + timedelta(hours=2), at) == "2 hrs left"
    assert i18n.format_duration(3725) == "1:02:05" and i18n.format_duration(65) == "1:05"


async def test_each_user_gets_their_language_and_can_change_it(web: Web) -> None:
    from agent_ui.users import Role
    from tests.agent_ui import factories

    await factories.employee(web.store, "mija", Role.AGENT, "supplier", language="sl")
    slovenian, token = await web.signed_in("mija")
    english, _ = await web.signed_in("ana")

    assert "Moji zahtevki" in await (await slovenian.get("/")).text()
    assert "My tickets" in await (await english.get("/")).text()
    await slovenian.post(
        "/me/language",
        data={"csrf_token": token, "language": "en"},
        headers={"Referer": "http://evil.example/steal"},
    )
    assert "My tickets" in await (await slovenian.get("/")).text()
    bad = await slovenian.post("/me/language", data={"csrf_token": token, "language": "xx"})
    assert bad.status == 400

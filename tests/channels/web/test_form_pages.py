"""The customer form through real HTTP: what a customer sees, what the store keeps."""

import email
import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from interactions.models import Activity, ContactKind, ContactPoint, Document, Partner, Ticket
from interactions.store import Store
from interactions.types import utcnow
from tests.channels.web.helpers import (
    TICKET,
    WINDOWS_EXE,
    activity_count,
    csrf_token,
    form_data,
    minimal_pdf,
    running_app,
    submit,
)

COMPLAINT = {
    "name": "Žiga Čebašek-Šuštar",
    "email": "ziga@example.si",
    "message": "Račun za november je previsok; števec kaže manj.",
}


def today() -> str:
    return utcnow().date().isoformat()


async def test_complaint_gets_a_ticket_an_activity_and_an_acknowledgement(
    store: Store, tmp_path: Path
) -> None:
    async with store.sessions() as session, session.begin():
        partner = Partner(first_name="Žiga", last_name="Čebašek-Šuštar")
        partner.contact_points.append(ContactPoint(kind=ContactKind.EMAIL, value="ZIGA@example.si"))
        session.add(partner)
    async with running_app(store, tmp_path) as client:
        status, page = await submit(client, "complaint", COMPLAINT)

    assert status == 200
    ticket_number = TICKET.search(page).group(1)
    async with store.sessions() as session:
        activity = (await session.scalars(select(Activity))).one()
        ticket = (await session.scalars(select(Ticket))).one()
    assert activity.channel == "web"
    assert activity.partner_id == partner.id
    assert activity.sender_name == "Žiga Čebašek-Šuštar"
    assert "Račun za november je previsok" in activity.text
    assert ticket.number == ticket_number
    assert ticket.kind == "complaint"

    [mail_file] = list((tmp_path / "outbox").glob("*.eml"))
    mail = email.message_from_bytes(mail_file.read_bytes())
    assert mail["To"] == "ziga@example.si"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert ticket_number in mail["Subject"]
    assert ticket_number in mail.get_payload(decode=True).decode()


async def test_each_kind_of_form_is_accepted(store: Store, tmp_path: Path) -> None:
    forms = {
        "question": {"message": "Kdaj bo izklop na Šmartinski?"},
        "meter_reading": {
            "metering_point": "3345341",
            "reading_date": today(),
            "reading_vt": "12 345,6",
            "reading_mt": "6789",
        },
        "change": {
            "change_type": "bank_account",
            "iban": "SI56 1910 0000 0123 438",
            "message": "Prosim za nov TRR.",
        },
        "callback": {"phone": "041 123 456", "callback_time": "morning"},
    }
    async with running_app(store, tmp_path) as client:
        for kind, fields in forms.items():
            status, page = await submit(
                client, kind, {"name": "Ana Novak", "email": f"{kind}@example.si", **fields}
            )
            assert status == 200, (kind, page)
            assert TICKET.search(page)

    async with store.sessions() as session:
        rows = {a.meta["form"]["kind"]: a for a in await session.scalars(select(Activity))}
        kinds = {t.kind for t in await session.scalars(select(Ticket))}
    assert kinds == {"question", "meter_reading", "change", "request"}
    reading = rows["meter_reading"].meta["form"]
    assert reading["metering_point"] == "3-345341"
    assert reading["readings"] == {"vt": "12345.6", "mt": "6789"}
    assert reading["readings_kwh"] == {"vt": 12345, "mt": 6789}
    assert rows["change"].meta["form"]["iban"] == "SI56191000000123438"
    assert rows["callback"].meta["form"]["phone"] == "+38641123456"
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 4


async def test_every_problem_is_named_in_the_customers_language(
    store: Store, tmp_path: Path
) -> None:
    bad = {
        "name": "Ana Novak",
        "email": "ana@",
        "phone": "12",
        "metering_point": "383123456789012346",
        "customer_number": "!",
        "reading_date": (utcnow().date() + timedelta(days=3)).isoformat(),
        "reading_vt": "12.345",
        "reading_mt": "abc",
    }
    async with running_app(store, tmp_path) as client:
        status, page = await submit(client, "meter_reading", bad, lang="en")

    assert status == 422
    for words in (
        "This is not a valid email address",
        "This is not a valid phone number",
        "The check digit of the 18-digit metering point number is wrong",
        "A customer number has 4 to 20 digits or letters",
        "The reading cannot be dated in the future",
        "Enter the reading in kWh",
    ):
        assert words in page, words
    assert 'value="ana@"' in page and 'value="12.345"' in page  # input kept
    assert await activity_count(store) == 0


async def test_required_fields_and_slovenian_by_default(store: Store, tmp_path: Path) -> None:
    async with running_app(store, tmp_path) as client:
        status, page = await submit(client, "complaint", {"name": "", "email": ""})
    assert status == 422
    assert page.count("To polje je obvezno.") >= 3
    assert '<html lang="sl">' in page


async def test_errors_are_tied_to_their_fields(store: Store, tmp_path: Path) -> None:
    async with running_app(store, tmp_path) as client:
        status, page = await submit(client, "complaint", {**COMPLAINT, "email": "x"})
    assert status == 422
    field = re.search(r'<input id="f-email"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in field
    described = re.search(r'aria-describedby="([^"]+)"', field).group(1).split()
    for ident in described:
        assert f'id="{ident}"' in page
    assert '<label for="f-email">' in page
    assert 'href="#f-email"' in page


async def test_browser_language_and_the_switch(store: Store, tmp_path: Path) -> None:
    async def heading(**request: object) -> str:
        page = await (await client.get("/form/question", **request)).text()
        return re.search(r"<h1>(.*)</h1>", page).group(1)

    async with running_app(store, tmp_path) as client:
        assert await heading(headers={"Accept-Language": "en-GB,en;q=0.9"}) == "Question"
        assert await heading(headers={"Accept-Language": "sl-SI,en;q=0.5"}) == "Vprašanje"
        assert await heading(params={"lang": "en"}) == "Question"
        assert await heading() == "Question"  # the choice is remembered


async def test_reading_checks(store: Store, tmp_path: Path) -> None:
    base = {"name": "Ana", "email": "ana@example.si", "reading_date": today()}
    cases = {
        "missing register": ({"metering_point": "3-345341"}, "Vpišite stanji VT in MT"),
        "all three": (
            {"metering_point": "3-345341", "reading_vt": "1", "reading_mt": "2", "reading_et": "3"},
            "ne vseh treh",
        ),
        "bad metering point": (
            {"metering_point": "12345", "reading_et": "100"},
            "ima obliko 3-345341",
        ),
        "old reading": (
            {
                "metering_point": "3-345341",
                "reading_et": "100",
                "reading_date": (utcnow().date() - timedelta(days=90)).isoformat(),
            },
            "starejši od 60 dni",
        ),
    }
    async with running_app(store, tmp_path) as client:
        for name, (fields, words) in cases.items():
            status, page = await submit(client, "meter_reading", {**base, **fields})
            assert status == 422, name
            assert words in page, name
    assert await activity_count(store) == 0


async def test_csrf_missing_or_wrong_is_refused_with_input_kept(
    store: Store, tmp_path: Path
) -> None:
    async with running_app(store, tmp_path) as client:
        token = await csrf_token(client, "complaint")
        missing = await client.post("/form/complaint", data=form_data(COMPLAINT))
        forged = await client.post(
            "/form/complaint", data=form_data({**COMPLAINT, "csrf": token[:-2] + "xx"})
        )
        client.session.cookie_jar.clear()
        other_browser = await client.post(
            "/form/complaint", data=form_data({**COMPLAINT, "csrf": token})
        )
        for response in (missing, forged, other_browser):
            page = await response.text()
            assert response.status == 403
            assert "Obrazec je potekel" in page
            assert "Račun za november je previsok" in page
    assert await activity_count(store) == 0


async def test_honeypot_filled_is_refused(store: Store, tmp_path: Path) -> None:
    async with running_app(store, tmp_path) as client:
        status, page = await submit(client, "complaint", {**COMPLAINT, "website": "http://x"})
    assert status == 400
    assert "mora ostati prazno" in page
    assert await activity_count(store) == 0


async def test_rate_limits_per_address_and_per_email(store: Store, tmp_path: Path) -> None:
    async with running_app(
        store, tmp_path, web={"rate_per_address": 2, "rate_per_email": 1}
    ) as client:
        first, _ = await submit(client, "complaint", COMPLAINT)
        same_email, page = await submit(client, "complaint", {**COMPLAINT, "message": "Še to."})
        assert (first, same_email) == (200, 429)
        assert "preveč obrazcev" in page
        other_email, _ = await submit(client, "complaint", {**COMPLAINT, "email": "b@example.si"})
        assert other_email == 429  # the address's third post this window
    assert await activity_count(store) == 1


async def test_attachments_checked_by_content(store: Store, tmp_path: Path) -> None:
    pdf = minimal_pdf("Racun")
    async with running_app(store, tmp_path) as client:
        renamed_exe, page = await submit(
            client, "complaint", COMPLAINT, [("racun.pdf", WINDOWS_EXE, "application/pdf")]
        )
        assert renamed_exe == 422
        assert "Datoteka racun.pdf ni PDF, JPEG ali PNG" in page
        assert "jih izberite znova" in page
        big = (pdf + b" " * (6 * 1024 * 1024), "velik.pdf")
        oversized, page = await submit(
            client, "complaint", COMPLAINT, [(big[1], big[0], "application/pdf")]
        )
        assert oversized == 422
        assert "velik.pdf je večja od 5 MB" in page
        assert "Račun za november je previsok" in page
        accepted, _ = await submit(
            client, "complaint", COMPLAINT, [("račun.pdf", pdf, "application/octet-stream")]
        )
        assert accepted == 200
    async with store.sessions() as session:
        [document] = (await session.scalars(select(Document))).all()
    assert (document.filename, document.content_type) == ("račun.pdf", "application/pdf")


async def test_body_over_the_limit_is_refused_before_reading(store: Store, tmp_path: Path) -> None:
    async with running_app(store, tmp_path) as client:
        token = await csrf_token(client, "complaint")
        files = [
            (f"f{i}.pdf", minimal_pdf() + bytes(4 * 1024 * 1024), "application/pdf")
            for i in range(3)
        ]
        response = await client.post(
            "/form/complaint", data=form_data({"csrf": token, **COMPLAINT}, files)
        )
        assert response.status == 413
        assert "Poslano je večje od 10 MB" in await response.text()
    assert await activity_count(store) == 0


async def test_resubmitting_the_same_page_is_one_contact(store: Store, tmp_path: Path) -> None:
    async with running_app(store, tmp_path) as client:
        token = await csrf_token(client, "question")
        fields = {"csrf": token, "name": "Ana", "email": "a@example.si", "message": "Zakaj?"}
        first = await (await client.post("/form/question", data=form_data(fields))).text()
        again = await (await client.post("/form/question", data=form_data(fields))).text()
    assert TICKET.search(first).group(1) == TICKET.search(again).group(1)
    assert await activity_count(store) == 1
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


async def test_database_outage_says_try_again(tmp_path: Path) -> None:
    store = Store.open("postgresql://nobody@127.0.0.1:1/none")
    try:
        async with running_app(store, tmp_path) as client:
            status, page = await submit(client, "complaint", COMPLAINT)
    finally:
        await store.close()
    assert status == 503
    assert "Poskusite znova" in page

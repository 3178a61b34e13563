"""What a message quotes, read with the right values; never a crash on any text."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interactions.identifiers import InvalidIdentifier, normalize_iban
from interactions.triage.extract import Reading, extract

DAY = date(2026, 3, 2)


@pytest.mark.parametrize(
    ("text", "readings", "reading_date"),
    [
        ("Pošiljam stanje števca na dan 31. 3. 2026: VT 12456, MT 7834.",
         [("VT", 12456), ("MT", 7834)], date(2026, 3, 31)),
        ("odčitek 28.02.2026 višja tarifa 45123 kWh, nižja tarifa 23011 kWh",
         [("VT", 45123), ("MT", 23011)], date(2026, 2, 28)),
        ("stanje stevca mt 2211 vt 3456 lp", [("MT", 2211), ("VT", 3456)], None),
        ("števec kaže 30122 (VT) in 12884 (MT)", [("VT", 30122), ("MT", 12884)], None),
        ("na števcu piše 66120 višja in 31022 nižja tarifa", [("VT", 66120), ("MT", 31022)], None),
        ("VT: 004512, MT: 002371", [("VT", 4512), ("MT", 2371)], None),
        ("Stanje na števcu je 18.342 kWh, števec je enotarifni.", [("ET", 18342)], None),
        ("high tariff 23456, low tariff 11200, read on 1 April 2026",
         [("VT", 23456), ("MT", 11200)], date(2026, 4, 1)),
        ("Day rate 5012, night rate 3011.", [("VT", 5012), ("MT", 3011)], None),
        ("the reading from my meter no. 56781234: 20431", [("ET", 20431)], None),
        ("current reading is 8821 kWh on 31.03.2026", [("ET", 8821)], date(2026, 3, 31)),
        ("Enotna tarifa: 55012", [("ET", 55012)], None),
        ("Povečati želim moč s 7 kW na 11 kW.", [], None),
        ("Račun znaša 412,36 €.", [], None),
    ],
)  # fmt: skip
def test_meter_readings_with_register_and_date(text, readings, reading_date) -> None:
    found = extract(text, DAY)
    assert found.readings == [Reading(register, value) for register, value in readings]
    assert found.reading_date == reading_date


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("Račun v znesku 412,36 € je previsok.", ["412.36"]),
        ("Ne strinjam se z zneskom EUR 1.234,50.", ["1234.50"]),
        ("1.234,50 EUR in 56,20 €", ["1234.50", "56.20"]),
        ("The bill is 523.10 EUR.", ["523.10"]),
        ("€ 12 and 1.200 €", ["12.00", "1200.00"]),
        ("odplačam mesečno po 50 evrov", ["50.00"]),
        ("70 % popusta, 4000 kWh", []),
    ],
)
def test_amounts_in_euro(text: str, amounts: list[str]) -> None:
    assert extract(text, DAY).amounts_eur == [Decimal(a) for a in amounts]


@pytest.mark.parametrize(
    ("text", "dates"),
    [
        ("odklop 12. 5. 2026, plačal sem 15.03.2026", ["2026-05-12", "2026-03-15"]),
        ("from 2026-03-15 to 30/04/2026", ["2026-03-15", "2026-04-30"]),
        ("15. marca 2026 in 1. aprila", ["2026-03-15", "2026-04-01"]),
        ("on 20 May and May 3, 2027", ["2026-05-20", "2027-05-03"]),
        ("do 15. 8. sem odsoten", ["2026-08-15"]),
        ("31. 2. 2026 ni datum, 1.234,50 € tudi ne", []),
    ],
)
def test_dates_in_slovenian_and_english_forms(text: str, dates: list[str]) -> None:
    assert [d.isoformat() for d in extract(text, DAY).dates] == dates


def test_identifiers_are_kept_only_when_their_check_digit_holds() -> None:
    text = (
        "IBAN SI56 0201 0001 2345 641, napačen SI56 0201 0001 2345 678. "
        "Davčna številka: 12345679, ID za DDV SI 12345678. "
        "GSRN 383123456789012347 in 383123456789012348. "
        "Zadeva [#2026-000401], merilno mesto 3-345341 in MM 4123456."
    )
    found = extract(text, DAY)

    assert found.ibans == ["SI56020100012345641"]
    assert found.tax_numbers == ["12345679"]
    assert found.gsrns == ["383123456789012347"]
    assert found.ticket_numbers == ["2026-000401"]
    assert found.metering_points == ["3-345341", "4-123456"]


def test_numbers_without_a_check_are_taken_only_after_their_words() -> None:
    text = (
        "Števec št. 81234567 kaže 21034. Številka kupca: 1002345. "
        "Meter serial: AB-771234. Pokličite me na 3345341."
    )
    found = extract(text, DAY)

    assert found.meter_serials == ["81234567", "AB-771234"]
    assert found.customer_numbers == ["1002345"]
    assert found.metering_points == []  # a bare 7-digit number is not a metering point
    assert found.readings == [Reading("ET", 21034)]


def test_iban_normaliser_refuses_a_wrong_check() -> None:
    assert normalize_iban("si56 1910 0000 0123 438") == "SI56191000000123438"
    with pytest.raises(InvalidIdentifier):
        normalize_iban("SI56 1910 0000 0123 439")


def test_results_serialise_as_the_cli_promises() -> None:
    found = extract("VT 100 MT 200 dne 1. 3. 2026, 12,50 €", DAY).as_json()
    assert found["readings"] == [{"register": "VT", "value": 100}, {"register": "MT", "value": 200}]
    assert found["dates"] == ["2026-03-01"]
    assert found["amounts_eur"] == [12.5]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_extraction_never_raises_on_any_text(text: str) -> None:
    extract(text, DAY).as_json()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["VT", "MT", "ET", "12.345", "1,5", "€", "EUR", "SI56", "3-", "2026-", "15.", "3.",
             "2026", " ", "\n", "št.", "kupca", "števec", "0000", "383", "davčna", "31.02."]
        ),
        max_size=40,
    )
)  # fmt: skip
def test_extraction_never_raises_on_near_miss_numbers(parts: list[str]) -> None:
    extract("".join(parts), DAY).as_json()

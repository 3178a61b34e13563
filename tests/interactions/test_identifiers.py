"""Identifiers customers quote: real valid and invalid values, and hostile input."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interactions.identifiers import (
    InvalidIdentifier,
    format_ticket_number,
    gsrn_check_digit,
    normalize_email,
    normalize_gsrn,
    normalize_metering_point,
    normalize_phone,
    normalize_registration_number,
    normalize_tax_number,
    parse_ticket_number,
    split_email,
)

NORMALIZERS = [
    normalize_tax_number,
    normalize_registration_number,
    normalize_metering_point,
    normalize_gsrn,
    normalize_phone,
    normalize_email,
    parse_ticket_number,
]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("15012557", "15012557"),  # a real company's tax number
        ("SI15012557", "15012557"),
        ("SI 1501 2557", "15012557"),
    ],
)
def test_valid_tax_numbers(given: str, expected: str) -> None:
    assert normalize_tax_number(given) == expected


@pytest.mark.parametrize("bad", ["15012556", "1501255", "SI1501255X", "", "00000000"])
def test_invalid_tax_numbers_say_why(bad: str) -> None:
    with pytest.raises(InvalidIdentifier) as err:
        normalize_tax_number(bad)
    assert err.value.kind == "tax number"
    assert err.value.reason


def test_registration_number_check_digit() -> None:
    assert normalize_registration_number("5300231") == "5300231"
    with pytest.raises(InvalidIdentifier):
        normalize_registration_number("5300232")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("3-345341", "3-345341"),
        ("3345341", "3-345341"),
        ("2-1234567", "2-1234567"),
        ("21234567", "2-1234567"),
        (" 3 345 341 ", "3-345341"),
    ],
)
def test_metering_point_short_number(given: str, expected: str) -> None:
    assert normalize_metering_point(given) == expected


@pytest.mark.parametrize("bad", ["0-345341", "3-34534", "3-345341234", "D-345341", "abc"])
def test_metering_point_rejects(bad: str) -> None:
    with pytest.raises(InvalidIdentifier):
        normalize_metering_point(bad)


def test_gsrn_check_digit() -> None:
    body = "38300000012345678"
    valid = body + gsrn_check_digit(body)
    assert normalize_gsrn(valid) == valid
    wrong = body + str((int(valid[-1]) + 1) % 10)
    with pytest.raises(InvalidIdentifier, match="check digit"):
        normalize_gsrn(wrong)


@pytest.mark.parametrize(
    "given",
    ["01/234 56 78", "+386 (0)1 234-56-78", "00386 1 2345678", "012345678", "+38612345678"],
)
def test_landline_forms_normalise_to_one_e164(given: str) -> None:
    assert normalize_phone(given) == "+38612345678"


def test_mobile_and_foreign_numbers() -> None:
    assert normalize_phone("041 123 456") == "+38641123456"
    assert normalize_phone("+386 41 123 456") == "+38641123456"
    assert normalize_phone("0049 30 123456") == "+4930123456"


@pytest.mark.parametrize("bad", ["", "12", "anonymous", "+386 1"])
def test_phone_rejects(bad: str) -> None:
    with pytest.raises(InvalidIdentifier):
        normalize_phone(bad)


def test_email_display_name_split_and_case() -> None:
    assert split_email('"Novak, Ana" <Ana.Novak+racun@Example.SI>') == (
        "Novak, Ana",
        "ana.novak+racun@example.si",
    )
    with pytest.raises(InvalidIdentifier):
        normalize_email("not an address")


def test_ticket_numbers() -> None:
    assert format_ticket_number(2026, 123) == "2026-000123"
    assert parse_ticket_number("2026-000123") == (2026, 123)
    with pytest.raises(InvalidIdentifier):
        parse_ticket_number("2026-123")


@pytest.mark.parametrize("normalize", NORMALIZERS)
@given(text=st.text(max_size=60))
def test_normalizers_accept_or_refuse_any_text(normalize, text: str) -> None:
    try:
        first = normalize(text)
    except InvalidIdentifier:
        return
    if isinstance(first, str):  # canonical forms are fixed points
        assert normalize(first) == first

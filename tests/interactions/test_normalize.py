"""Normalisers: the forms customers and switchboards produce, and arbitrary text."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interactions.matching import make_query, query_keys, record_keys, score_record
from interactions.normalize import (
    Identifier,
    email_key,
    find_identifiers,
    find_phones,
    fold,
    make_address,
    name_tokens,
    normalize_address,
    normalize_house_number,
    normalize_name,
    normalize_street,
    parse_address,
    phone_key,
)

anything = st.one_of(st.text(), st.none(), st.integers(), st.binary())


@pytest.mark.parametrize(
    ("given_as", "e164"),
    [
        ("041 123 456", "+38641123456"),
        ("+386 41 123 456", "+38641123456"),
        ("00386 41123456", "+38641123456"),
        ("(01) 234 56 78", "+38612345678"),
        ("01/234 56 78", "+38612345678"),
        ("+386 (0)1 234-56-78", "+38612345678"),
        ("012345678", "+38612345678"),
        ("0049 151 12345678", "+4915112345678"),
        ("+43 664 1234567", "+436641234567"),
        ("anonymous", None),
        ("", None),
        ("12", None),
    ],
)
def test_phone_forms(given_as: str, e164: str | None) -> None:
    assert phone_key(given_as) == e164


def test_phones_in_text() -> None:
    text = "Lep pozdrav, Ana\nTel.: 041 123 456, služba (01) 234-56-78, račun 2026-000401"

    assert find_phones(text) == ("+38641123456", "+38612345678")


def test_names_fold_diacritics_titles_and_legal_forms() -> None:
    assert name_tokens("Dr. Šime ĐURIĆ") == ("sime", "djuric")
    assert normalize_name("ELEKTRO GRADNJE d.o.o.") == "elektro gradnje"
    assert normalize_name("Kovač Marko s.p.") == "kovac marko"
    assert fold("Žiga Čeč") == "ziga cec"


def test_addresses_abbreviations_house_letters_postcode_and_settlement() -> None:
    place = parse_address("Slovenska c. 12 A, Zg. Pirniče, SI-1215 Medvode")

    assert place.street == "slovenska cesta"
    assert place.number == "12a"
    assert (place.postcode, place.city, place.settlement) == ("1215", "medvode", "zg pirnice")
    assert normalize_street("Ul. bratov Učakar") == "ulica bratov ucakar"
    assert normalize_house_number("12 a") == normalize_house_number("12A") == "12a"
    assert make_address("Trg 1", "5", "SI-1000", "Ljubljana").postcode == "1000"


def test_email_display_name_split_and_plus_tag_loose() -> None:
    assert email_key('"Ana Kos" <Ana.Kos+racuni@Example.SI>') == "ana.kos@example.si"
    assert email_key("not an address") is None


def test_identifiers_in_text_are_checked() -> None:
    found = find_identifiers(
        "MM 3-1234567, GSRN 383123456789012348, davčna SI 15012557, zadeva 2026-000401"
    )

    assert Identifier("metering_point", "3-1234567") in found
    assert Identifier("tax_number", "15012557") in found
    assert Identifier("ticket", "2026-000401") in found
    assert not any(i.kind == "gsrn" for i in found), "check digit of that GSRN fails"
    assert Identifier("gsrn", "383123456789012347") in find_identifiers("383123456789012347")
    assert not any(i.kind == "tax_number" for i in find_identifiers("račun 15012558"))


@given(anything)
def test_normalisers_never_raise_and_are_idempotent(value: object) -> None:
    folded = fold(value)
    assert fold(folded) == folded
    name = normalize_name(value)
    assert normalize_name(name) == name
    street = normalize_street(value)
    assert normalize_street(street) == street
    number = normalize_house_number(value)
    assert normalize_house_number(number) == number
    line = normalize_address(value)
    assert normalize_address(line) == line
    e164 = phone_key(value)
    assert e164 is None or phone_key(e164) == e164
    loose = email_key(value)
    assert loose is None or email_key(loose) == loose
    find_identifiers(value)
    find_phones(value)


@given(st.text(), st.text(), st.text(), st.text(), st.text())
def test_queries_and_scores_never_raise(
    phone: str, email: str, name: str, address: str, text: str
) -> None:
    query = make_query(phone=phone, email=email, name=name, address=address, text=text)
    keys = query_keys(query)
    record = {"id": 1, "n": [[name, normalize_name(name)]], "a": [], "m": [], "p": [], "e": []}
    assert all(len(k) < 400 for k in keys)
    assert isinstance(record_keys(record), set)
    score_record(query, record)

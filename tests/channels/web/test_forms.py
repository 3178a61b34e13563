"""Validation of the forms as pure functions, including hostile input."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.web import i18n
from channels.web.forms import FormKind, Upload, parse_reading, validate
from channels.web.security import CsrfSigner

TODAY = date(2026, 12, 3)


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("12345", Decimal(12345)),
        ("12345,6", Decimal("12345.6")),
        ("12 345.67", Decimal("12345.67")),
    ],
)
def test_readings_as_customers_write_them(written: str, value: Decimal) -> None:
    assert parse_reading(written) == value


@pytest.mark.parametrize("written", ["12.345.678", "12,3456", "-5", "1e5", "١٢٣"])
def test_ambiguous_or_foreign_readings_are_refused(written: str) -> None:
    _, problems = validate(
        FormKind.METER_READING,
        {
            "name": "A",
            "email": "a@b.si",
            "metering_point": "3-345341",
            "reading_date": "2026-12-01",
            "reading_et": written,
        },
        [],
        TODAY,
    )
    assert "reading_et" in problems


def test_unicode_names_are_kept_and_normalised() -> None:
    decomposed = "Z\u030ciga C\u030cebas\u030cek"  # Ž, Č and š as combining marks
    submission, problems = validate(
        FormKind.QUESTION,
        {"name": f"  {decomposed}  ", "email": "Ziga@Example.SI", "message": "Kdaj?"},
        [],
        TODAY,
    )
    assert problems == {}
    assert submission.name == "Žiga Čebašek"
    assert submission.email == "ziga@example.si"


def test_names_with_control_characters_are_refused() -> None:
    _, problems = validate(
        FormKind.QUESTION, {"name": "Ana\u202eNovak", "email": "a@b.si", "message": "?"}, [], TODAY
    )
    assert problems["name"][0].code == "invalid_name"


def test_every_problem_code_has_words_in_both_languages() -> None:
    for key in i18n.TEXTS:
        assert set(i18n.TEXTS[key]) == {"sl", "en"}, key


def test_accept_language() -> None:
    assert i18n.from_accept_language("en-US,en;q=0.9,sl;q=0.8") == "en"
    assert i18n.from_accept_language("de-DE, sl;q=0.3, en;q=0.2") == "sl"
    assert i18n.from_accept_language("fr, en;q=bogus") == "sl"
    assert i18n.from_accept_language("") == "sl"


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(list(FormKind)),
    values=st.dictionaries(
        st.sampled_from(
            [
                "name",
                "email",
                "phone",
                "metering_point",
                "customer_number",
                "message",
                "reading_date",
                "reading_vt",
                "reading_mt",
                "reading_et",
                "change_type",
                "iban",
                "callback_time",
                "website",
            ]
        ),
        st.text(max_size=60),
    ),
    blobs=st.lists(st.tuples(st.text(max_size=20), st.binary(max_size=64)), max_size=7),
)
def test_hostile_values_give_a_submission_or_worded_problems(
    kind: FormKind, values: dict[str, str], blobs: list[tuple[str, bytes]]
) -> None:
    uploads = [Upload(name, data) for name, data in blobs]
    submission, problems = validate(kind, values, uploads, TODAY)
    assert (submission is None) == bool(problems)
    for items in problems.values():
        for problem in items:
            for language in i18n.LANGUAGES:
                assert i18n.text(f"err_{problem.code}", language, **problem.values)


@settings(max_examples=200, deadline=None)
@given(cookie=st.text(max_size=30), token=st.text(max_size=60))
def test_forged_csrf_tokens_are_refused(cookie: str, token: str) -> None:
    signer = CsrfSigner(b"secret")
    assert not signer.check(cookie, token)
    assert not signer.check(cookie, "²." + token)


def test_csrf_token_round_trip_and_expiry() -> None:
    signer = CsrfSigner(b"secret")
    token = signer.token("cookie-a", now=1_000_000)
    assert signer.check("cookie-a", token, now=1_000_100)
    assert not signer.check("cookie-b", token, now=1_000_100)
    assert not signer.check("cookie-a", token, now=1_000_000 + 5 * 3600)

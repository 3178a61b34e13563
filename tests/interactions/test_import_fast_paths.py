"""The importer's fast paths give exactly what the full parsers and stdnum give."""

from datetime import datetime

import phonenumbers
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from stdnum import ean
from stdnum.si import ddv

from interactions.identifiers import (
    InvalidIdentifier,
    gsrn_check_digit,
    normalize_email,
    normalize_phone,
)
from interactions.importer import RowError, email_address, parse_date, phone, tax_check_digit

DIGITS = st.text(alphabet="0123456789", min_size=7, max_size=7)
SEPARATORS = st.sampled_from(["", "", "", " ", "-", "/", ".", "  ", "(", ")", "\u00a0"])
PREFIXES = st.sampled_from(["+386", "00386", "0", "+3860", "386", "+386 (0)", "", "+385", "00"])


def outcome(function, value: str) -> str:
    """Return the function's answer, or the kind of refusal."""
    try:
        return function(value)
    except (InvalidIdentifier, RowError):
        return "refused"


@st.composite
def written_phones(draw: st.DrawFn) -> str:
    """Phone numbers as people type them: prefixes, separators, odd lengths, odd digits."""
    digits = draw(st.text(alphabet="0123456789", min_size=6, max_size=10))
    if draw(st.booleans()):
        digits = draw(st.sampled_from("1234567")) + digits[1:]
    parts = [draw(PREFIXES), draw(SEPARATORS)]
    for digit in digits:
        parts.append(digit)
        parts.append(draw(SEPARATORS))
    text = "".join(parts).strip()
    if draw(st.integers(0, 20)) == 0:  # other scripts' digits, letters
        text += draw(st.sampled_from(["\u0664", "\uff11", "x", "ext 5", "²"]))
    return text


@settings(max_examples=3000, deadline=None)
@given(written_phones())
@example("041 123 456")
@example("01/234 56 78")
@example("+386 1 234-56-78")
@example("00386 1 2345678")
@example("+386 (0)1 234-56-78")
@example("+386\u0664\u0661123456")
@example("0 41 123 456")
@example("+386-41-123-456")
def test_phone_fast_path_equals_phonenumbers(value: str) -> None:
    assert outcome(phone, value) == outcome(normalize_phone, value)


def test_every_four_digit_prefix_decides_validity_of_eight_digit_numbers() -> None:
    """The premise of the phone cache, checked against the installed metadata."""
    for prefix in range(1000, 10_000):
        answers = {
            phonenumbers.is_valid_number(phonenumbers.parse(f"+386{prefix}{tail}", "SI"))
            for tail in ("0000", "5555", "9999", "1357", "8642")
        }
        assert len(answers) == 1, prefix


LOCAL = st.text(alphabet="abcXYZ019._%+-!#$&'*/=?^`{|}~\"(), ", min_size=0, max_size=12)
DOMAIN = st.text(alphabet="abcXYZ019.-_[]", min_size=0, max_size=12)


@settings(max_examples=3000, deadline=None)
@given(LOCAL, DOMAIN, st.sampled_from(["si", "com", "S", "x1", "", "SI "]), st.booleans())
@example("a..b", "example", "si", False)
@example(".a", "example", "si", False)
@example("a", "-x.", "com", False)
@example("Ana.Novak", "Example", "SI", False)
def test_email_fast_path_equals_the_parser(local: str, domain: str, tld: str, at: bool) -> None:
    value = f"{local}@{domain}.{tld}" if not at else f"{local}@@{domain}.{tld}"
    assert outcome(email_address, value) == outcome(normalize_email, value)


@given(DIGITS)
@example("0000000")
@example("9999999")
def test_tax_check_digit_equals_stdnum(first_seven: str) -> None:
    assert tax_check_digit(first_seven) == ddv.calc_check_digit(first_seven)


@given(st.text(alphabet="0123456789", min_size=0, max_size=20))
def test_gsrn_check_digit_equals_stdnum(digits: str) -> None:
    assert gsrn_check_digit(digits) == ean.calc_check_digit(digits)


def slow_date(value: str) -> str:
    for pattern in ("%Y-%m-%d", "%d.%m.%Y", "%d. %m. %Y"):
        try:
            return datetime.strptime(value, pattern).date().isoformat()
        except ValueError:
            continue
    raise RowError("not a date")


@settings(max_examples=1000)
@given(
    st.from_regex(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,3}", fullmatch=True)
    | st.from_regex(r"[0-9]{1,2}\.[0-9]{1,2}\. ?[0-9]{4}", fullmatch=True)
    | st.dates().map(str)
)
def test_date_fast_path_equals_strptime(value: str) -> None:
    assert outcome(lambda v: parse_date(v, "installed_on"), value) == outcome(slow_date, value)


@pytest.mark.parametrize("value", ["1234567\u0664", "1234567²", "SI １２３４５６７８"])
def test_tax_number_refuses_digits_of_other_scripts(value: str) -> None:
    from interactions.importer import tax_number

    with pytest.raises(RowError, match="expected 8 digits"):
        tax_number(value)

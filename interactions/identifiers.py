"""Validation and normalisation of the identifiers customers quote.

Each `normalize_*` function returns the canonical form or raises `InvalidIdentifier`
with a reason a person can act on. The checks are the real ones: python-stdnum for
tax and registration numbers, phonenumbers for phones, the GS1 check digit for GSRN.
"""

import re
from email.utils import parseaddr

import phonenumbers
from stdnum import iban
from stdnum.exceptions import ValidationError
from stdnum.si import ddv, maticna

DEFAULT_REGION = "SI"

_EIMM = re.compile(r"^([1-9])-?(\d{6,7})$")
_TICKET = re.compile(r"^(\d{4})-(\d{6})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")


class InvalidIdentifier(ValueError):
    """An identifier that fails its format or check digit."""

    def __init__(self, kind: str, value: str, reason: str) -> None:
        super().__init__(f"{kind} {value!r}: {reason}")
        self.kind = kind
        self.value = value
        self.reason = reason


def normalize_tax_number(value: str) -> str:
    """Return the 8-digit Slovenian tax number, with or without its `SI` VAT prefix."""
    try:
        return ddv.validate(value)
    except ValidationError as exc:
        raise InvalidIdentifier("tax number", value, str(exc)) from None


def is_tax_number(value: str) -> bool:
    try:
        normalize_tax_number(value)
    except InvalidIdentifier:
        return False
    return True


def normalize_registration_number(value: str) -> str:
    """Return a company registration number (matična številka), 7 or 10 digits."""
    try:
        return maticna.validate(value)
    except ValidationError as exc:
        raise InvalidIdentifier("registration number", value, str(exc)) from None


def normalize_metering_point(value: str) -> str:
    """Return a metering point short number (EIMM) in its hyphenated form, e.g. `3-345341`."""
    compact = re.sub(r"[\s.]", "", value.strip())
    match = _EIMM.match(compact)
    if match is None:
        raise InvalidIdentifier(
            "metering point", value, "expected a distribution-area digit and 6 or 7 digits"
        )
    return f"{match.group(1)}-{match.group(2)}"


def gsrn_check_digit(first_17: str) -> str:
    """Return the GS1 mod-10 check digit (as `stdnum.ean`), weights 3 and 1 from the right."""
    codes = first_17.encode("ascii")
    odd = sum(codes[-1::-2]) - 48 * len(codes[-1::-2])
    even = sum(codes[-2::-2]) - 48 * len(codes[-2::-2])
    return str((10 - (3 * odd + even)) % 10)


def normalize_gsrn(value: str) -> str:
    """Return an 18-digit GSRN whose GS1 mod-10 check digit holds."""
    compact = re.sub(r"[\s-]", "", value)
    if not (len(compact) == 18 and compact.isascii() and compact.isdigit()):
        raise InvalidIdentifier("GSRN", value, "expected 18 digits")
    if gsrn_check_digit(compact[:17]) != compact[17]:
        raise InvalidIdentifier("GSRN", value, "check digit does not match")
    return compact


def normalize_phone(value: str, region: str = DEFAULT_REGION) -> str:
    """Return a phone number in E.164, reading national forms in `region` (trunk 0, intl 00)."""
    text = value.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentifier("phone", value, str(exc)) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentifier("phone", value, "not a valid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def split_email(value: str) -> tuple[str, str]:
    """Split `"Name" <addr>` into (display name, normalised address)."""
    name, address = parseaddr(value.strip())
    address = address.strip().lower()
    if not _EMAIL.match(address):
        raise InvalidIdentifier("email", value, "not an email address")
    return name.strip(), address


def normalize_email(value: str) -> str:
    """Return the address part of `value`, lower-cased, display name dropped."""
    return split_email(value)[1]


def normalize_iban(value: str) -> str:
    """Return an IBAN in its compact upper-case form after the ISO 7064 mod 97 check."""
    try:
        return iban.validate(value)
    except ValidationError as exc:
        raise InvalidIdentifier("IBAN", value, str(exc)) from None


def is_gsrn(value: str) -> bool:
    try:
        normalize_gsrn(value)
    except InvalidIdentifier:
        return False
    return True


def format_ticket_number(year: int, sequence: int) -> str:
    return f"{year:04d}-{sequence:06d}"


def parse_ticket_number(value: str) -> tuple[int, int]:
    match = _TICKET.match(value.strip())
    if match is None:
        raise InvalidIdentifier("ticket number", value, "expected YYYY-NNNNNN")
    return int(match.group(1)), int(match.group(2))

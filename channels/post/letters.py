"""What a letter's text says about its sender: the keys the matcher works with.

Pure functions over the OCR text: the name and address block, a quoted metering
point or customer number, a tax number, an email address or phone number, the subject.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from interactions.identifiers import (
    InvalidIdentifier,
    normalize_email,
    normalize_gsrn,
    normalize_metering_point,
    normalize_phone,
    normalize_tax_number,
)

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_EIMM = re.compile(r"(?<![\d-])([1-9]-\d{6,7})(?![\d-])")
_EIMM_QUOTED = re.compile(
    r"(?:merilno\s+mesto|merilnega\s+mesta|MM|metering\s+point)\D{0,25}([1-9]-?\d{6,7})(?!\d)",
    re.IGNORECASE,
)
_GSRN = re.compile(r"(?<!\d)(\d{18})(?!\d)")
_CUSTOMER = re.compile(
    r"(?:številka\s+odjemalca|št\.\s*odjemalca|številka\s+kupca|customer\s+number)"
    r"\s*[:.]?\s*([0-9A-Z][0-9A-Z-]{2,18}[0-9A-Z])",
    re.IGNORECASE,
)
_TAX = re.compile(
    r"(?:davčna\s+številka|ID\s+za\s+DDV|tax\s+number)\D{0,12}((?:SI)?\s?\d{8})", re.IGNORECASE
)
_PHONE = re.compile(
    r"(?:tel\.?|telefon|gsm|mobitel|phone|fax|faks)\s*[:.]?\s*(\+?[\d\s/().-]{6,20}\d)",
    re.IGNORECASE,
)
_POSTCODE_LINE = re.compile(r"^(?:SI-)?([1-9]\d{3})\s+(\D.{1,60})$")
_SUBJECT = re.compile(r"^\s*(?:zadeva|subject|re)\s*:\s*(.+)$", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Sender:
    """The sender's keys as the letter states them; any may be missing."""

    name: str | None = None
    street: str | None = None
    postcode: str | None = None
    city: str | None = None
    metering_points: tuple[str, ...] = ()
    gsrn: tuple[str, ...] = ()
    customer_number: str | None = None
    tax_number: str | None = None
    email: str | None = None
    phone: str | None = None
    subject: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "address": {"street": self.street, "postcode": self.postcode, "city": self.city},
            "metering_points": list(self.metering_points),
            "gsrn": list(self.gsrn),
            "customer_number": self.customer_number,
            "tax_number": self.tax_number,
            "email": self.email,
            "phone": self.phone,
        }


def read_sender(text: str) -> Sender:
    """Find the sender's keys in a letter's text."""
    name, street, postcode, city = _address_block(text)
    return Sender(
        name=name,
        street=street,
        postcode=postcode,
        city=city,
        metering_points=_metering_points(text),
        gsrn=tuple(dict.fromkeys(g for g in _GSRN.findall(text) if _valid(normalize_gsrn, g))),
        customer_number=_first(_CUSTOMER, text),
        tax_number=_checked(_TAX, text, normalize_tax_number),
        email=_checked(_EMAIL, text, normalize_email, group=0),
        phone=_checked(_PHONE, text, normalize_phone),
        subject=_first(_SUBJECT, text),
    )


def _address_block(text: str) -> tuple[str | None, str | None, str | None, str | None]:
    """The first `postcode town` line near the top, with the name and street above it."""
    lines = [line.strip() for line in text.splitlines() if line.strip()][:15]
    for index, line in enumerate(lines):
        match = _POSTCODE_LINE.match(line)
        if match is None or index == 0:
            continue
        above = lines[max(0, index - 2) : index]
        name = above[0] if len(above) == 2 else None
        street = above[-1]
        return name, street, match.group(1), match.group(2).strip()
    return None, None, None, None


def _metering_points(text: str) -> tuple[str, ...]:
    found = [m for m in _EIMM_QUOTED.findall(text)] + _EIMM.findall(text)
    points = []
    for value in found:
        try:
            points.append(normalize_metering_point(value))
        except InvalidIdentifier:
            continue
    return tuple(dict.fromkeys(points))


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return match.group(1).strip() if match else None


def _checked(pattern: re.Pattern[str], text: str, check: Any, group: int = 1) -> str | None:
    for match in pattern.finditer(text):
        try:
            return str(check(match.group(group).strip()))
        except InvalidIdentifier:
            continue
    return None


def _valid(check: Any, value: str) -> bool:
    try:
        check(value)
    except InvalidIdentifier:
        return False
    return True

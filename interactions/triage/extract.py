"""What a written contact quotes: identifiers, meter readings, amounts and dates.

Every identifier with a check digit is kept only when the check holds (through
`interactions.identifiers`); numbers without a check (EIMM short numbers written
without a hyphen, customer numbers, meter serials) are taken only after the words
that announce them. Matching runs on folded text (no diacritics, lower case) whose
offsets are those of the original, so amounts and IBANs are read from the original.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import Any

from interactions.identifiers import (
    InvalidIdentifier,
    normalize_gsrn,
    normalize_iban,
    normalize_metering_point,
    normalize_tax_number,
    parse_ticket_number,
)
from interactions.triage.text import fold

MAX_TEXT = 20_000
MAX_READING = 10_000_000
MAX_MATCHES = 200

Span = tuple[int, int]


@dataclass(frozen=True)
class Reading:
    register: str  # VT, MT or ET
    value: int

    def as_json(self) -> dict[str, Any]:
        return {"register": self.register, "value": self.value}


@dataclass
class Extracted:
    """The values one message quotes, each list in order of appearance, no duplicates."""

    metering_points: list[str] = field(default_factory=list)
    gsrns: list[str] = field(default_factory=list)
    tax_numbers: list[str] = field(default_factory=list)
    ibans: list[str] = field(default_factory=list)
    customer_numbers: list[str] = field(default_factory=list)
    meter_serials: list[str] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)
    reading_date: date | None = None
    amounts_eur: list[Decimal] = field(default_factory=list)
    dates: list[date] = field(default_factory=list)
    ticket_numbers: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "metering_points": self.metering_points,
            "gsrns": self.gsrns,
            "tax_numbers": self.tax_numbers,
            "ibans": self.ibans,
            "customer_numbers": self.customer_numbers,
            "meter_serials": self.meter_serials,
            "readings": [r.as_json() for r in self.readings],
            "reading_date": self.reading_date.isoformat() if self.reading_date else None,
            "amounts_eur": [float(a) for a in self.amounts_eur],
            "dates": [d.isoformat() for d in self.dates],
            "ticket_numbers": self.ticket_numbers,
        }


def meter_reading(found: Extracted, received: date) -> dict[str, Any] | None:
    """Return a meter reading submission as billing takes it, or None without readings."""
    if not found.readings:
        return None
    return {
        "metering_point": found.metering_points[0] if found.metering_points else None,
        "gsrn": found.gsrns[0] if found.gsrns else None,
        "meter_serial": found.meter_serials[0] if found.meter_serials else None,
        "read_on": (found.reading_date or received).isoformat(),
        "read_on_given": found.reading_date is not None,
        "registers": {reading.register: reading.value for reading in found.readings},
    }


def _add(values: list[Any], value: Any) -> None:
    if value not in values:
        values.append(value)


class _Taken:
    """Characters of the text already read as some value, so no number counts twice."""

    def __init__(self, length: int) -> None:
        self.mask = bytearray(length)

    def add(self, span: Span) -> None:
        self.mask[span[0] : span[1]] = b"\x01" * (span[1] - span[0])

    def overlaps(self, span: Span) -> bool:
        return any(self.mask[span[0] : span[1]])


def _matches(
    pattern: re.Pattern[str], text: str, start: int = 0, end: int | None = None
) -> Iterator[re.Match[str]]:
    """The first MAX_MATCHES matches: a message quoting more is not a letter to a utility."""
    return islice(pattern.finditer(text, start, len(text) if end is None else end), MAX_MATCHES)


# Identifiers ----------------------------------------------------------------------

_IBAN = re.compile(r"(?<![a-z0-9])[a-z]{2}\d{2}(?:[ ]?[a-z0-9]){11,30}")
_GSRN = re.compile(r"(?<![\d])\d(?:[ ]?\d){17}(?!\d)")
_TICKET = re.compile(r"(?<![\w-])(20\d\d-\d{6})(?![\w-])")
_EIMM_HYPHEN = re.compile(r"(?<![\w-])[1-9]-\d{6,7}(?![\w-])")
_EIMM_CONTEXT = re.compile(
    r"(?:merilno mesto|merilnega mesta|merilnem mestu|merilnim mestom|"
    r"metering point|\bmm\b|\beimm\b|\bmp\b)(?:[\s:#,]|st\.|stevilk\w*|no\.|number)*?"
    r"([1-9]\d{6,7})(?!\d)"
)
_TAX_PREFIXED = re.compile(r"\bsi[ ]?(\d{8})(?!\d)")
_TAX_CONTEXT = re.compile(
    r"(?:davcn\w*(?: stevilk\w*)?|\bds\b|d\.s\.|id za ddv|tax (?:number|no\.?|id)|vat(?: id)?)"
    r"[\s:.,#]{0,6}(\d{8})(?!\d)"
)
_TOKEN = r"([a-z0-9][a-z0-9/-]{3,19})"
_SERIAL = re.compile(
    r"(?:(?:stev\w*|meter|merilne? naprav\w*)\s+(?:st\.|stevilka|stevilke|no\.?|number|nr\.?|#)"
    r"|serijsk\w* stevilk\w*(?: stevca)?|tovarnisk\w* stevilk\w*(?: stevca)?"
    r"|serial(?: number| no\.?)?(?: of the meter)?)\s*:?\s*" + _TOKEN
)
_CUSTOMER = re.compile(
    r"(?:stevilk\w* (?:kupca|odjemalca|placnika|uporabnika)|st\. (?:kupca|odjemalca|placnika)"
    r"|(?:kupec|odjemalec|placnik) st\.?|sifra (?:kupca|odjemalca)"
    r"|customer (?:number|no\.?|id|account(?: number)?)|account (?:number|no\.?))"
    r"\s*:?\s*" + _TOKEN
)


def _identifiers(folded: str, original: str, out: Extracted, taken: _Taken) -> None:
    for match in _matches(_IBAN, folded):
        compact = _longest_valid_iban(original[match.start() : match.end()])
        if compact is not None:
            _add(out.ibans, compact)
            taken.add(match.span())
    for match in _matches(_GSRN, folded):
        if not taken.overlaps(match.span()):
            try:
                _add(out.gsrns, normalize_gsrn(match.group()))
                taken.add(match.span())
            except InvalidIdentifier:
                pass
    for match in _matches(_TICKET, folded):
        parse_ticket_number(match.group(1))
        _add(out.ticket_numbers, match.group(1))
        taken.add(match.span())
    _metering_points(folded, out, taken)
    _tax_numbers(folded, out, taken)
    _labelled(folded, original, _SERIAL, out.meter_serials, taken)
    _labelled(folded, original, _CUSTOMER, out.customer_numbers, taken)


def _longest_valid_iban(candidate: str) -> str | None:
    compact = re.sub(r"\s", "", candidate).upper()
    for end in range(len(compact), 14, -1):
        try:
            return normalize_iban(compact[:end])
        except InvalidIdentifier:
            continue
    return None


def _metering_points(folded: str, out: Extracted, taken: _Taken) -> None:
    found: list[tuple[int, str, Span]] = []
    for match in _matches(_EIMM_HYPHEN, folded):
        found.append((match.start(), match.group(), match.span()))
    for match in _matches(_EIMM_CONTEXT, folded):
        found.append((match.start(1), match.group(1), match.span(1)))
    for _, value, span in sorted(found):
        if taken.overlaps(span):
            continue
        _add(out.metering_points, normalize_metering_point(value))
        taken.add(span)


def _tax_numbers(folded: str, out: Extracted, taken: _Taken) -> None:
    for pattern in (_TAX_PREFIXED, _TAX_CONTEXT):
        for match in _matches(pattern, folded):
            if taken.overlaps(match.span(1)):
                continue
            try:
                _add(out.tax_numbers, normalize_tax_number(match.group(1)))
                taken.add(match.span(1))
            except InvalidIdentifier:
                pass


def _labelled(
    folded: str, original: str, pattern: re.Pattern[str], values: list[str], taken: _Taken
) -> None:
    for match in _matches(pattern, folded):
        value = match.group(1).rstrip("/-")
        if sum(char.isdigit() for char in value) < 4 or taken.overlaps(match.span(1)):
            continue
        _add(values, original[match.start(1) : match.start(1) + len(value)].upper())
        taken.add(match.span(1))


# Dates ----------------------------------------------------------------------------

_MONTHS = {
    "januar": 1, "februar": 2, "marec": 3, "marc": 3, "april": 4, "maj": 5, "junij": 6,
    "julij": 7, "avgust": 8, "septemb": 9, "oktob": 10, "novemb": 11, "decemb": 12,
    "january": 1, "february": 2, "march": 3, "may": 5, "june": 6, "july": 7,
    "august": 8, "october": 10,
}  # fmt: skip
_MONTH_WORD = r"(januar\w*|februar\w*|marec|marc\w*|april\w*|maj\w*|junij\w*|julij\w*|avgust\w*|septemb\w*|oktob\w*|novemb\w*|decemb\w*|january|march|may|june|july|august|october)"  # noqa: E501
_DATE_NUMERIC = re.compile(
    r"(?<![\d.,])(\d{1,2})\s?[./]\s?(\d{1,2})\s?[./]\s?(\d{4}|\d{2})(?!\d|[.,]\d)"
)
_DATE_NO_YEAR = re.compile(r"(?<![\d.,])(\d{1,2})\.\s?(\d{1,2})\.(?!\s?\d)")
_DATE_ISO = re.compile(r"(?<![\d-])(\d{4})-(\d{2})-(\d{2})(?![\d-])")
_DATE_WORDS = re.compile(
    r"(?<!\d)(\d{1,2})(?:st|nd|rd|th)?\.?\s" + _MONTH_WORD + r"(?:,?\s(\d{4}))?(?!\d)"
)
_DATE_WORDS_EN = re.compile(_MONTH_WORD + r"\s(\d{1,2})(?:st|nd|rd|th)?,?\s(\d{4})(?!\d)")


def _month_number(word: str) -> int | None:
    return next((n for stem, n in _MONTHS.items() if word.startswith(stem)), None)


def _make_date(year: int, month: int, day: int) -> date | None:
    if year < 100:
        year += 2000
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _dates(folded: str, reference: date, out: Extracted, taken: _Taken) -> None:
    found: list[tuple[int, date, Span]] = []

    def keep(span: Span, value: date | None) -> None:
        if value is not None and not taken.overlaps(span) and 1990 <= value.year <= 2100:
            found.append((span[0], value, span))

    for match in _matches(_DATE_NUMERIC, folded):
        day, month, year = (int(g) for g in match.groups())
        keep(match.span(), _make_date(year, month, day))
    for match in _matches(_DATE_ISO, folded):
        year, month, day = (int(g) for g in match.groups())
        keep(match.span(), _make_date(year, month, day))
    for match in _matches(_DATE_WORDS, folded):
        named = _month_number(match.group(2))
        year = int(match.group(3)) if match.group(3) else reference.year
        keep(match.span(), _make_date(year, named or 0, int(match.group(1))))
    for match in _matches(_DATE_WORDS_EN, folded):
        named = _month_number(match.group(1))
        keep(match.span(), _make_date(int(match.group(3)), named or 0, int(match.group(2))))
    claimed = list(found)
    for match in _matches(_DATE_NO_YEAR, folded):
        if not any(match.start() < s[1] and s[0] < match.end() for _, _, s in claimed):
            day, month = int(match.group(1)), int(match.group(2))
            keep(match.span(), _make_date(reference.year, month, day))

    for _, value, span in sorted(found, key=lambda item: item[0]):
        if taken.overlaps(span):
            continue
        _add(out.dates, value)
        taken.add(span)


RELATIVE_DAYS = {
    "danes": 0, "today": 0, "nocoj": 0, "tonight": 0, "jutri": 1, "tomorrow": 1,
    "pojutrisnjem": 2,
}  # fmt: skip


# Amounts --------------------------------------------------------------------------

_NUMBER = r"(\d{1,3}(?:[.\s]\d{3}){1,4}(?:,\d{1,2})?|\d{1,12}(?:[.,]\d{1,2})?)"
_AMOUNT_BEFORE = re.compile(r"(?:€|\beur\b|\beur\.)\s?" + _NUMBER + r"(?![\d])")
_AMOUNT_AFTER = re.compile(r"(?<![\d.,])" + _NUMBER + r"\s?(?:€|eur\b|eur\w*|evr\w*)")


def _parse_amount(text: str) -> Decimal | None:
    text = text.strip()
    if "," in text:
        text = text.replace(".", "").replace(" ", "").replace(",", ".")
    elif re.fullmatch(r"\d{1,3}(?:[.\s]\d{3})+", text):
        text = text.replace(".", "").replace(" ", "")
    try:
        return Decimal(text).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def _amounts(folded: str, out: Extracted, taken: _Taken) -> None:
    found: list[tuple[int, Decimal, Span]] = []
    for pattern in (_AMOUNT_BEFORE, _AMOUNT_AFTER):
        for match in _matches(pattern, folded):
            if taken.overlaps(match.span(1)):
                continue
            value = _parse_amount(match.group(1))
            if value is not None:
                found.append((match.start(1), value, match.span(1)))
    for _, value, span in sorted(found, key=lambda item: item[0]):
        if not taken.overlaps(span):
            _add(out.amounts_eur, value)
            taken.add(span)


# Readings -------------------------------------------------------------------------

_REGISTER_WORDS = {
    "VT": r"vt|visj\w* tarif\w*|visok\w* tarif\w*|visj\w*|high(?:er)? (?:tariff|rate)|high|"
    r"day (?:tariff|rate)|peak",
    "MT": r"mt|nizj\w* tarif\w*|mal\w* tarif\w*|nizj\w*|low(?:er)? (?:tariff|rate)|low|"
    r"night (?:tariff|rate)|off-peak",
    "ET": r"et|enotn\w* tarif\w*|single (?:tariff|rate)|ena tarifa",
}
_READING_NUMBER = r"(\d{1,3}(?:\.\d{3})+|\d{1,8})(?:,\d{1,3})?"
_UNIT_GUARD = r"(?!\s?(?:kw\b|kva|%|€|eur|evr|v\b|a\b|mwh))"


def _register_patterns() -> list[tuple[str, re.Pattern[str]]]:
    """Patterns with the register word first, then those with the number first."""
    befores, afters = [], []
    for register, word in _REGISTER_WORDS.items():
        before = re.compile(
            r"(?<![a-z])(?:"
            + word
            + r")(?![a-z])\s*(?:tarifa\s*)?(?:[:=(]|je|is)?\s*"
            + _READING_NUMBER
            + r"(?!\d)"
            + _UNIT_GUARD
        )
        after = re.compile(
            r"(?<![\d.,])" + _READING_NUMBER + r"(?:\s?kwh)?\s*\(?(?:" + word + r")(?![a-z])"
        )
        befores.append((register, before))
        afters.append((register, after))
    return befores + afters


_REGISTERS = _register_patterns()
_SINGLE_TRIGGER = re.compile(
    r"(?:stanj\w*|odcit\w*|samoodcit\w*|stev\w* kaz\w*|kaze|reading\w*|shows)"
    r"(?![a-z])"
)
_SINGLE_VALUE = re.compile(r"(?<![\d.,/-])" + _READING_NUMBER + r"(?![\d/-])" + _UNIT_GUARD)


def _to_int(text: str) -> int:
    return int(text.replace(".", ""))


def _readings(folded: str, out: Extracted, taken: _Taken) -> None:
    found: list[tuple[int, Reading, Span]] = []
    claimed = _Taken(len(folded))
    for register, pattern in _REGISTERS:
        for match in _matches(pattern, folded):
            span = match.span(1)
            if taken.overlaps(span) or claimed.overlaps(span):
                continue
            value = _to_int(match.group(1))
            if value < MAX_READING:
                found.append((span[0], Reading(register, value), span))
                claimed.add(span)
    if not found:
        found = _single_register(folded, taken)
    for _, reading, span in sorted(found, key=lambda item: item[0]):
        if all(r.register != reading.register for r in out.readings):
            out.readings.append(reading)
            taken.add(span)


def _single_register(folded: str, taken: _Taken) -> list[tuple[int, Reading, Span]]:
    for trigger in _matches(_SINGLE_TRIGGER, folded):
        window_end = min(len(folded), trigger.end() + 80)
        for match in _matches(_SINGLE_VALUE, folded, trigger.end(), window_end):
            if taken.overlaps(match.span(1)):
                continue
            value = _to_int(match.group(1))
            if 0 < value < MAX_READING and len(match.group(1)) >= 3:
                return [(match.start(1), Reading("ET", value), match.span(1))]
    return []


# Entry point ------------------------------------------------------------------------


def extract(text: str, reference: date | None = None) -> Extracted:
    """Return the values `text` quotes; `reference` is the day it was received."""
    original = text[:MAX_TEXT]
    folded = fold(original)
    reference = reference or date.today()
    out = Extracted()
    taken = _Taken(len(folded))

    _identifiers(folded, original, out, taken)
    _dates(folded, reference, out, taken)
    _amounts(folded, out, taken)
    _readings(folded, out, taken)

    if out.readings and out.dates:
        out.reading_date = out.dates[0]
    return out


def relative_dates(folded_words: list[str], reference: date) -> list[date]:
    """Return the days that words like "jutri" or "tomorrow" point to."""
    return [
        reference + timedelta(days=RELATIVE_DAYS[word])
        for word in folded_words
        if word in RELATIVE_DAYS
    ]

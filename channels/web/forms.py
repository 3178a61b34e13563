"""The customer forms and their validation: pure functions, no HTTP, no database.

`validate` takes the submitted fields and files and returns either a `Submission`
or the problems by field, as codes that `i18n` words in the customer's language.
"""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from urllib.parse import unquote

from stdnum import iban
from stdnum.exceptions import ValidationError

from channels.web.uploads import FORM_TYPES, sniff
from interactions.identifiers import (
    InvalidIdentifier,
    normalize_email,
    normalize_gsrn,
    normalize_metering_point,
    normalize_phone,
)
from interactions.models import TicketKind

MAX_FILES = 5
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_FILES_BYTES = 10 * 1024 * 1024
MAX_NAME = 200
MAX_MESSAGE = 5000
MAX_FIELD = 300
READING_MAX_AGE_DAYS = 60

_READING = re.compile(r"^([0-9]{1,9})(?:[.,]([0-9]{1,2}))?$")
_CUSTOMER_NUMBER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{2,18}[0-9A-Za-z]$")
_DMY = re.compile(r"^(\d{1,2})\.\s*(\d{1,2})\.\s*(\d{4})$")


class FormKind(StrEnum):
    COMPLAINT = "complaint"
    METER_READING = "meter_reading"
    QUESTION = "question"
    CHANGE = "change"
    CALLBACK = "callback"


TICKET_KINDS = {
    FormKind.COMPLAINT: TicketKind.COMPLAINT,
    FormKind.METER_READING: TicketKind.METER_READING,
    FormKind.QUESTION: TicketKind.QUESTION,
    FormKind.CHANGE: TicketKind.CHANGE,
    FormKind.CALLBACK: TicketKind.REQUEST,
}
CHANGE_TYPES = ("address", "payer", "bank_account", "e_invoice")
CALLBACK_TIMES = ("morning", "afternoon", "any")
REGISTERS = ("vt", "mt", "et")

#: The fields each form shows, in order; the common ones come first.
COMMON_FIELDS = ("name", "email", "phone", "metering_point", "customer_number")
KIND_FIELDS: dict[FormKind, tuple[str, ...]] = {
    FormKind.COMPLAINT: ("message",),
    FormKind.METER_READING: ("reading_date", "reading_vt", "reading_mt", "reading_et", "message"),
    FormKind.QUESTION: ("message",),
    FormKind.CHANGE: ("change_type", "iban", "message"),
    FormKind.CALLBACK: ("callback_time", "message"),
}
REQUIRED: dict[FormKind, frozenset[str]] = {
    FormKind.COMPLAINT: frozenset({"name", "email", "message"}),
    FormKind.METER_READING: frozenset({"name", "email", "metering_point", "reading_date"}),
    FormKind.QUESTION: frozenset({"name", "email", "message"}),
    FormKind.CHANGE: frozenset({"name", "email", "change_type", "message"}),
    FormKind.CALLBACK: frozenset({"name", "email", "phone", "callback_time"}),
}


@dataclass(frozen=True)
class Upload:
    """A file as the customer sent it; `oversized` when reading stopped at the limit."""

    filename: str
    data: bytes
    oversized: bool = False


@dataclass(frozen=True)
class Problem:
    """One reason a field was refused: an i18n code and the values its words need."""

    code: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AcceptedFile:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Submission:
    """A valid form, normalised."""

    kind: FormKind
    name: str
    email: str
    phone: str | None = None
    metering_point: str | None = None
    customer_number: str | None = None
    message: str = ""
    reading_date: date | None = None
    readings: dict[str, Decimal] = field(default_factory=dict)
    change_type: str | None = None
    iban: str | None = None
    callback_time: str | None = None
    files: tuple[AcceptedFile, ...] = ()

    @property
    def ticket_kind(self) -> TicketKind:
        return TICKET_KINDS[self.kind]

    def as_json(self) -> dict[str, Any]:
        """The structured content, for the activity's meta (files described, not embedded)."""
        return {
            "kind": self.kind.value,
            "phone": self.phone,
            "metering_point": self.metering_point,
            "customer_number": self.customer_number,
            "reading_date": self.reading_date.isoformat() if self.reading_date else None,
            "readings": {k: str(v) for k, v in self.readings.items()},
            "readings_kwh": {k: int(v) for k, v in self.readings.items()},
            "change_type": self.change_type,
            "iban": self.iban,
            "callback_time": self.callback_time,
            "files": [
                {"filename": f.filename, "content_type": f.content_type, "size": len(f.data)}
                for f in self.files
            ],
        }


Problems = dict[str, list[Problem]]


def fields_of(kind: FormKind) -> tuple[str, ...]:
    return COMMON_FIELDS + KIND_FIELDS[kind]


def validate(
    kind: FormKind, values: dict[str, str], uploads: list[Upload], today: date
) -> tuple[Submission | None, Problems]:
    """Check one form; return the submission, or None and every problem by field."""
    problems: Problems = {}
    clean: dict[str, Any] = {}

    def refuse(name: str, code: str, **extra: Any) -> None:
        problems.setdefault(name, []).append(Problem(code, extra))

    for name in fields_of(kind):
        raw = unicodedata.normalize("NFC", values.get(name, "") or "").strip()
        if not raw:
            if name in REQUIRED[kind]:
                refuse(name, "required")
            continue
        limit = MAX_MESSAGE if name == "message" else MAX_FIELD
        if len(raw) > limit:
            refuse(name, "too_long")
            continue
        try:
            clean[name] = _CHECKS.get(name, _plain)(raw, today)
        except _Refused as exc:
            refuse(name, exc.code)

    if kind is FormKind.METER_READING:
        _check_registers(clean, problems)
    wants_iban = kind is FormKind.CHANGE and clean.get("change_type") == "bank_account"
    if wants_iban and "iban" not in clean and "iban" not in problems:
        refuse("iban", "required")

    files = _check_files(uploads, problems)
    if problems:
        return None, problems

    readings = {r: clean.pop(f"reading_{r}") for r in REGISTERS if f"reading_{r}" in clean}
    return Submission(kind=kind, readings=readings, files=files, **clean), {}


class _Refused(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _plain(value: str, today: date) -> str:
    if any(unicodedata.category(c) == "Cc" and c not in "\r\n\t" for c in value):
        raise _Refused("invalid_name")
    return value


def _name(value: str, today: date) -> str:
    if len(value) > MAX_NAME:
        raise _Refused("too_long")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") for c in value):
        raise _Refused("invalid_name")
    if not any(c.isalpha() for c in value):
        raise _Refused("invalid_name")
    return " ".join(value.split())


def _email(value: str, today: date) -> str:
    if "<" in value or "," in value or " " in value:
        raise _Refused("invalid_email")
    try:
        return normalize_email(value)
    except InvalidIdentifier:
        raise _Refused("invalid_email") from None


def _phone(value: str, today: date) -> str:
    try:
        return normalize_phone(value)
    except InvalidIdentifier:
        raise _Refused("invalid_phone") from None


def _metering_point(value: str, today: date) -> str:
    compact = re.sub(r"[\s.-]", "", value)
    if len(compact) == 18 and compact.isdigit():
        try:
            return normalize_gsrn(compact)
        except InvalidIdentifier:
            raise _Refused("metering_point_check_digit") from None
    try:
        return normalize_metering_point(value)
    except InvalidIdentifier:
        raise _Refused("invalid_metering_point") from None


def _customer_number(value: str, today: date) -> str:
    compact = value.replace(" ", "")
    if not _CUSTOMER_NUMBER.match(compact):
        raise _Refused("invalid_customer_number")
    return compact.upper()


def parse_reading(value: str) -> Decimal:
    """Read a meter register as written: spaces ignored, a decimal comma or point."""
    compact = value.replace(" ", "").replace("\u00a0", "")
    match = _READING.match(compact)
    if match is None:
        raise _Refused("invalid_reading")
    whole, decimals = match.groups()
    return Decimal(f"{int(whole)}.{decimals}") if decimals else Decimal(int(whole))


def _reading(value: str, today: date) -> Decimal:
    return parse_reading(value)


def parse_date(value: str) -> date:
    """Read a date as 2026-12-31 (what browsers send) or 31. 12. 2026 (as Slovenians write)."""
    try:
        match = _DMY.match(value)
        if match:
            day, month, year = (int(g) for g in match.groups())
            return date(year, month, day)
        return date.fromisoformat(value)
    except ValueError:
        raise _Refused("invalid_date") from None


def _reading_date(value: str, today: date) -> date:
    when = parse_date(value)
    if when > today:
        raise _Refused("date_in_future")
    if when < today - timedelta(days=READING_MAX_AGE_DAYS):
        raise _Refused("date_too_old")
    return when


def _iban(value: str, today: date) -> str:
    try:
        return iban.validate(value)
    except ValidationError:
        raise _Refused("invalid_iban") from None


def _choice(options: tuple[str, ...]) -> Any:
    def check(value: str, today: date) -> str:
        if value not in options:
            raise _Refused("invalid_choice")
        return value

    return check


_CHECKS: dict[str, Any] = {
    "name": _name,
    "email": _email,
    "phone": _phone,
    "metering_point": _metering_point,
    "customer_number": _customer_number,
    "reading_date": _reading_date,
    "reading_vt": _reading,
    "reading_mt": _reading,
    "reading_et": _reading,
    "iban": _iban,
    "change_type": _choice(CHANGE_TYPES),
    "callback_time": _choice(CALLBACK_TIMES),
}


def _check_registers(clean: dict[str, Any], problems: Problems) -> None:
    if any(f"reading_{r}" in problems for r in REGISTERS):
        return
    given = {r for r in REGISTERS if f"reading_{r}" in clean}
    if given in ({"vt", "mt"}, {"et"}):
        return
    field_name = "reading_et" if "et" in given else "reading_vt"
    code = "reading_mixed" if given == {"vt", "mt", "et"} or given > {"et"} else "reading_missing"
    problems.setdefault(field_name, []).append(Problem(code))


def _check_files(uploads: list[Upload], problems: Problems) -> tuple[AcceptedFile, ...]:
    accepted: list[AcceptedFile] = []
    refusals: list[Problem] = []
    uploads = [u for u in uploads if u.filename or u.data]
    if len(uploads) > MAX_FILES:
        refusals.append(Problem("too_many_files", {"limit": MAX_FILES}))
    total = 0
    for upload in uploads:
        name = _display_filename(upload.filename)
        total += len(upload.data)
        if upload.oversized or len(upload.data) > MAX_FILE_BYTES:
            refusals.append(Problem("file_too_large", {"file": name, "limit": _mb(MAX_FILE_BYTES)}))
            continue
        content_type = sniff(upload.data)
        if content_type not in FORM_TYPES:
            refusals.append(Problem("file_type", {"file": name}))
            continue
        accepted.append(AcceptedFile(name, content_type, upload.data))
    if total > MAX_FILES_BYTES:
        refusals.append(Problem("files_too_large", {"limit": _mb(MAX_FILES_BYTES)}))
    if refusals:
        problems["attachments"] = refusals
    return tuple(accepted)


def _display_filename(filename: str) -> str:
    """The name to show and keep: no folders, no control characters, percent-escapes read."""
    if re.search(r"%[0-9A-Fa-f]{2}", filename or "") and _unquotable(filename):
        filename = unquote(filename)
    base = re.split(r"[\\/]", filename or "")[-1]
    cleaned = "".join(c for c in base if unicodedata.category(c)[0] not in "CZ" or c == " ")
    return cleaned.strip()[:120] or "?"


def _unquotable(filename: str) -> bool:
    try:
        unquote(filename, errors="strict")
    except UnicodeDecodeError:
        return False
    return True


def _mb(size: int) -> int:
    return size // (1024 * 1024)

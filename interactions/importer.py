"""Import partners and metering points from an ERP export: CSV or JSON lines.

A file is CSV with a header line (delimiter `,`, `;` or tab, sniffed from the header)
or JSON lines (one object per line), told apart by its extension (`.csv`, `.txt`;
`.jsonl`, `.ndjson`, `.json`) or else by its first character. It is read as UTF-8;
a file that is not UTF-8 is read as windows-1250 (or ISO-8859-2 where its bytes say
so), and a line that still cannot be decoded is refused with its line number.

Partners (`stik import partners FILE`), one row per partner:

    external_id          the ERP's partner number; required, the key of the upsert
    kind                 person | organisation (default: organisation when only
                         organisation_name is given, else person)
    first_name, last_name, organisation_name
    tax_number           davčna številka, 8 digits, `SI` prefix allowed; check digit
    registration_number  matična številka, 7 or 10 digits; check digit
    segment              household | small_business | business | public
    language             e.g. sl, en, it, hu (default sl)
    phone, phone2        any usual form; stored in E.164 (default region SI)
    email                stored lower-cased
    street, house_number, postcode, city
                         postal address; the postcode must be a Slovenian one, the
                         city defaults to its post office
    contact_for          external_id of an organisation this person is a contact
                         person for

Metering points (`stik import metering-points FILE`), one row per metering point;
the partners they name must be imported first:

    eimm                 metering point number, `D-NNNNNN[N]`; required, the key
    gsrn                 18 digits, GS1 check digit
    street, house_number, postcode, city
    dso_area             the distribution area, e.g. Elektro Ljubljana
    connection_power_kw  e.g. 11 or 17,3
    tariff_model         free text, e.g. "gospodinjstvo VT/MT"
    status               active | inactive | disconnected (default active)
    customer, owner, payer
                         external_id of the partner in that role
    meter_serial, meter_type
    registers            VT and MT, or ET (separated by space, comma, / or +)
    installed_on         the meter's installation date, YYYY-MM-DD or D.M.YYYY
    network_contract     number of the network-access contract (with the DSO)
    supply_contract, supply_product
                         number and product of the supply contract (the supplier)

Each row is validated and normalised in Python, staged in bulk (COPY into a
temporary table on PostgreSQL, batched executemany on SQLite) and written with
set-based upserts that touch only what changed, so running a file twice changes
nothing the second time. A bad row is reported with its line number and reason and
the import goes on; a later row with an external_id (or tax number, GSRN) already
seen in the file is refused as a duplicate of the earlier line.

Large files are validated chunk by chunk in forked worker processes (when the
machine has an idle core) while the main process copies the last chunks into the
staging table. On PostgreSQL, a load of at least BULK_ROWS rows into empty tables
takes the bulk path: the target tables' secondary indexes and keys are dropped,
the rows are inserted with ids reserved from the sequences, and every index and key
is rebuilt once, all in the import's transaction (see `interactions.bulkload`).
The usual forms of phones, emails, tax numbers and dates skip the full parsers by
fast paths that give the same answers (tests compare both).
"""

import asyncio
import codecs
import csv
import json
import multiprocessing
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

import structlog
from sqlalchemy import bindparam, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from tqdm import tqdm

from interactions import bulkload, match_index
from interactions.identifiers import (
    InvalidIdentifier,
    normalize_email,
    normalize_gsrn,
    normalize_metering_point,
    normalize_phone,
    normalize_registration_number,
)
from interactions.models import PartnerKind, RoleKind, Segment
from interactions.places import post_offices
from interactions.store import Store
from interactions.types import UtcDateTime, utcnow

log = structlog.get_logger(__name__)

BATCH = 20_000
#: Lines per validation job, and from what file size the jobs go to worker processes.
CHUNK_LINES = 10_000
PARALLEL_BYTES = 4 << 20
MAX_WORKERS = 2
#: From this many staged rows on, a load into empty tables on PostgreSQL takes the
#: bulk path (indexes and keys rebuilt after the load).
BULK_ROWS = 50_000
#: Memory for the session's staging table (settable before its first temporary table).
TEMP_BUFFERS = "256MB"
SAMPLE_BYTES = 1 << 20
KEPT_REJECTIONS = 10_000
MAX_LINE = 64 * 1024

PARTNER_FIELDS = (
    "external_id",
    "kind",
    "first_name",
    "last_name",
    "organisation_name",
    "tax_number",
    "registration_number",
    "segment",
    "language",
    "phone",
    "phone2",
    "email",
    "street",
    "house_number",
    "postcode",
    "city",
    "contact_for",
)
METERING_POINT_FIELDS = (
    "eimm",
    "gsrn",
    "street",
    "house_number",
    "postcode",
    "city",
    "dso_area",
    "connection_power_kw",
    "tariff_model",
    "status",
    "customer",
    "owner",
    "payer",
    "meter_serial",
    "meter_type",
    "registers",
    "installed_on",
    "network_contract",
    "supply_contract",
    "supply_product",
)
MP_ROLES = (RoleKind.CUSTOMER, RoleKind.OWNER, RoleKind.PAYER)
MP_STATUSES = frozenset({"active", "inactive", "disconnected"})


class RowError(ValueError):
    """A row that cannot be imported, with the reason a person can act on."""


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportReport:
    """What one import did: counts by outcome, and the refused lines with reasons."""

    entity: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    encoding: str = "utf-8"
    file_format: str = "csv"
    error: str | None = None
    seconds: float = 0.0
    #: "bulk" (empty tables, indexes rebuilt) or "upsert" (staged, merged row by key)
    path: str = "upsert"
    #: seconds by step: validate, stage (COPY), write, index, foreign_key, analyze
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "encoding": self.encoding,
            "format": self.file_format,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "path": self.path,
            "timings": {step: round(s, 3) for step, s in self.timings.items()},
        }

    def summary(self) -> str:
        head = (
            f"{self.entity}: {self.rows} rows, {self.inserted} inserted,"
            f" {self.updated} updated, {self.unchanged} unchanged, {self.rejected} rejected"
        )
        if self.error:
            head += f"; file refused: {self.error}"
        return f"{head} ({self.file_format}, {self.encoding}, {self.seconds:.1f} s)"


# -- reading ------------------------------------------------------------------------


def choose_encoding(sample: bytes) -> str:
    """Return utf-8 unless the sample's non-ASCII lines are mostly not UTF-8.

    Legacy Slovenian files are windows-1250; ISO-8859-2 is chosen when the sample
    has none of windows-1250's š/ž/Š/Ž bytes (0x8A-0x9E) but has ISO-8859-2's.
    """
    good = bad = 0
    for line in sample.split(b"\n")[:-1] or [sample]:
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            good += 1
        except UnicodeDecodeError:
            bad += 1
    if bad <= good:
        return "utf-8"
    if not re.search(rb"[\x80-\x9f]", sample) and re.search(rb"[\xa9\xae\xb9\xbe]", sample):
        return "iso-8859-2"
    return "windows-1250"


def sniff_format(path: Path, first_line: str) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    return "jsonl" if first_line.lstrip().startswith("{") else "csv"


def sniff_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def decoded_lines(
    raw_lines: Iterable[bytes], encoding: str, reject: Callable[[Rejection], None], start: int = 1
) -> Iterator[tuple[int, str]]:
    """Yield (line number, text) for each decodable line; refuse the others."""
    for number, raw in enumerate(raw_lines, start=start):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[3:]
        if len(raw) > MAX_LINE:
            reject(Rejection(number, f"line longer than {MAX_LINE} bytes"))
            continue
        try:
            line = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            reject(Rejection(number, f"not valid {encoding}: byte {exc.object[exc.start]:#04x}"))
            continue
        if "\x00" in line:
            reject(Rejection(number, "line contains a NUL byte"))
            continue
        yield number, line.rstrip("\r\n")


def csv_header(line: str) -> tuple[tuple[str, ...], str]:
    """Return the column names of a CSV header line and its delimiter."""
    delimiter = sniff_delimiter(line)
    names = next(csv.reader([line], delimiter=delimiter), [])
    return tuple(h.strip().lower() for h in names), delimiter


def csv_rows(
    lines: Iterable[tuple[int, str]],
    header: Sequence[str],
    delimiter: str,
    reject: Callable[[Rejection], None],
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield the rows of CSV lines, one record per line."""
    width = len(header)
    for number, line in lines:
        if not line.strip():
            continue
        if '"' in line:
            try:
                fields = next(csv.reader([line], delimiter=delimiter, strict=True))
            except (csv.Error, StopIteration) as exc:
                reject(Rejection(number, f"malformed line: {exc}"))
                continue
        else:
            fields = line.split(delimiter)
        if len(fields) != width:
            reject(
                Rejection(number, f"malformed line: {len(fields)} fields, the header has {width}")
            )
            continue
        yield number, dict(zip(header, fields, strict=True))


def jsonl_rows(
    lines: Iterable[tuple[int, str]], reject: Callable[[Rejection], None]
) -> Iterator[tuple[int, dict[str, str]]]:
    for number, line in lines:
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            reject(Rejection(number, f"malformed JSON: {exc}"))
            continue
        if not isinstance(value, dict):
            reject(Rejection(number, "malformed line: expected a JSON object"))
            continue
        row: dict[str, str] = {}
        for key, item in value.items():
            if item is None:
                continue
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                reject(Rejection(number, f"field {key!r} is not a plain value"))
                break
            row[str(key).strip().lower()] = str(item)
        else:
            yield number, row


# -- validation ---------------------------------------------------------------------


def clean(row: dict[str, str], name: str, limit: int = 200) -> str | None:
    """Return the stripped value of `name`, None when blank; refuse an over-long one."""
    value = row.get(name)
    if not value:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > limit:
        raise RowError(f"{name} longer than {limit} characters")
    if not value.isprintable():
        value = " ".join("".join(c if c.isprintable() else " " for c in value).split())
    return value


def cleaned(row: dict[str, str], limits: dict[str, int]) -> dict[str, str]:
    """Return `clean` of every known field of `row` that is not blank, in one pass."""
    values: dict[str, str] = {}
    for name, value in row.items():
        if not value or name not in limits:
            continue
        value = value.strip()
        if not value:
            continue
        if len(value) > limits[name] or not value.isprintable():
            value = clean(row, name, limits[name])  # type: ignore[assignment]
            if value is None:
                continue
        values[name] = value
    return values


_SI_PREFIX_VALID: dict[str, bool] = {}
#: A Slovenian number as people usually write it: +386, 00386 or the trunk 0, then
#: eight ASCII digits with at most one space, dot, slash or hyphen between any two.
_SI_PHONE = re.compile(r"(?:\+386|00386|0)[ ./-]?([1-9](?:[ ./-]?[0-9]){7})")
_PHONE_SEPARATORS = str.maketrans("", "", " ./-")


def phone(value: str) -> str:
    """Return `value` in E.164; the usual Slovenian forms skip phonenumbers' parser.

    Slovenia's numbering plan decides an 8-digit number's validity by its first four
    digits (a test holds phonenumbers' metadata to that), so phonenumbers' answer for
    one number holds for its prefix; anything unusual goes to `normalize_phone`.
    """
    match = _SI_PHONE.fullmatch(value)
    if match is None:
        return normalize_phone(value)
    national = match.group(1).translate(_PHONE_SEPARATORS)
    valid = _SI_PREFIX_VALID.get(national[:4])
    if valid is None:
        try:
            normalize_phone("+386" + national)
            valid = True
        except InvalidIdentifier:
            valid = False
        _SI_PREFIX_VALID[national[:4]] = valid
    if not valid:
        raise InvalidIdentifier("phone", value, "not a valid number")
    return "+386" + national


#: A bare dot-atom address; anything else (display names, quotes, comments) is parsed.
_PLAIN_EMAIL = re.compile(
    r"[A-Za-z0-9_%+\-]+(?:\.[A-Za-z0-9_%+\-]+)*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
)


def email_address(value: str) -> str:
    """Return the normalised address; a plain `local@domain` skips the full parser."""
    if _PLAIN_EMAIL.fullmatch(value):
        return value.lower()
    return normalize_email(value)


def tax_check_digit(first_seven: str) -> str:
    """Return the mod-11 check digit of a Slovenian tax number, as `stdnum.si.ddv` does.

    Integer arithmetic on the ASCII codes; a remainder that leaves 11 gives "11", which
    no single digit matches, as in stdnum.
    """
    b = first_seven.encode("ascii")
    total = 8 * b[0] + 7 * b[1] + 6 * b[2] + 5 * b[3] + 4 * b[4] + 3 * b[5] + 2 * b[6] - 1680
    check = 11 - total % 11
    return "0" if check == 10 else str(check)


def tax_number(value: str) -> str:
    compact = value.replace(" ", "").upper().removeprefix("SI")
    if not (len(compact) == 8 and compact.isascii() and compact.isdigit() and compact[0] != "0"):
        raise RowError(f"tax number {value!r}: expected 8 digits")
    if tax_check_digit(compact[:7]) != compact[7]:
        raise RowError(f"tax number {value!r}: check digit does not match")
    return compact


ADDRESS_LIMITS = {"street": 200, "house_number": 20, "postcode": 10, "city": 100}
_POSTCODES: dict[str, tuple[str, str] | None] = {}


def postal_address(values: dict[str, str]) -> tuple[str | None, ...]:
    """Return (value, display, street, house number, postcode, city), all None if absent.

    `values` are a row's `cleaned` fields.
    """
    street = values.get("street")
    house_number = values.get("house_number")
    postcode = values.get("postcode")
    city = values.get("city")
    if not (street or house_number or postcode or city):
        return (None,) * 6
    if postcode is None:
        raise RowError("address without a postcode")
    known = _POSTCODES.get(postcode, ())
    if known == ():
        code = postcode.upper().removeprefix("SI-").removeprefix("SI").strip()
        office = post_offices().get(code)
        known = _POSTCODES[postcode] = (code, office.name) if office else None
    if known is None:
        raise RowError(f"unknown postcode {postcode!r}")
    code, office_name = known
    city = city or office_name
    display = f"{street or ''} {house_number or ''}".strip()
    display = f"{display}, {code} {city}" if display else f"{code} {city}"
    return " ".join(display.casefold().split()), display, street, house_number, code, city


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    if _ISO_DATE.fullmatch(value):  # the usual form, without strptime
        try:
            return date(int(value[:4]), int(value[5:7]), int(value[8:])).isoformat()
        except ValueError:
            pass
    for pattern in ("%Y-%m-%d", "%d.%m.%Y", "%d. %m. %Y"):
        try:
            return datetime.strptime(value, pattern).date().isoformat()
        except ValueError:
            continue
    raise RowError(f"{name} {value!r} is not a date (YYYY-MM-DD or D.M.YYYY)")


PARTNER_LIMITS = {
    "external_id": 40,
    "kind": 20,
    "first_name": 100,
    "last_name": 100,
    "organisation_name": 300,
    "tax_number": 20,
    "registration_number": 20,
    "segment": 20,
    "language": 5,
    "phone": 40,
    "phone2": 40,
    "email": 320,
    **ADDRESS_LIMITS,
    "contact_for": 40,
}
_SEGMENTS = frozenset(Segment.__members__.values())
_LANGUAGE = re.compile(r"[a-z]{2}")


def validate_partner(row: dict[str, str]) -> tuple[Any, ...]:
    """Return the staged form of a partner row, or raise `RowError`."""
    values = cleaned(row, PARTNER_LIMITS)
    get = values.get
    external_id = get("external_id")
    if external_id is None:
        raise RowError("external_id is missing")
    first_name = get("first_name")
    last_name = get("last_name")
    organisation_name = get("organisation_name")

    kind = get("kind", "").lower()
    if not kind:
        only_org = organisation_name and not (first_name or last_name)
        kind = PartnerKind.ORGANISATION if only_org else PartnerKind.PERSON
    if kind not in (PartnerKind.PERSON, PartnerKind.ORGANISATION):
        raise RowError(f"kind {kind!r}: expected person or organisation")
    if kind == PartnerKind.PERSON and not (first_name or last_name):
        raise RowError("a person needs a first or last name")
    if kind == PartnerKind.ORGANISATION and not organisation_name:
        raise RowError("an organisation needs organisation_name")

    tax = get("tax_number")
    registration = get("registration_number")
    tax = tax_number(tax) if tax else None
    registration = normalize_registration_number(registration) if registration else None
    segment = get("segment", "").lower() or (
        Segment.HOUSEHOLD if kind == PartnerKind.PERSON else Segment.BUSINESS
    )
    if segment not in _SEGMENTS:
        raise RowError(f"segment {segment!r}: expected one of {', '.join(Segment)}")
    language = get("language", "sl").lower()
    if not _LANGUAGE.fullmatch(language):
        raise RowError(f"language {language!r}: expected a two-letter code")

    phone1_display = get("phone")
    phone2_display = get("phone2")
    email_display = get("email")
    phone1 = phone(phone1_display) if phone1_display else None
    phone2 = phone(phone2_display) if phone2_display else None
    if phone2 == phone1:
        phone2 = phone2_display = None
    email = email_address(email_display) if email_display else None
    address = postal_address(values)
    return (
        external_id,
        kind,
        first_name,
        last_name,
        organisation_name,
        tax,
        registration,
        segment,
        language,
        phone1,
        phone1_display,
        phone2,
        phone2_display,
        email,
        email_display,
        *address,
        get("contact_for"),
    )


METERING_POINT_LIMITS = {
    "eimm": 20,
    "gsrn": 30,
    **ADDRESS_LIMITS,
    "dso_area": 40,
    "connection_power_kw": 20,
    "tariff_model": 40,
    "status": 16,
    "customer": 40,
    "owner": 40,
    "payer": 40,
    "meter_serial": 40,
    "meter_type": 60,
    "registers": 40,
    "installed_on": 20,
    "network_contract": 40,
    "supply_contract": 40,
    "supply_product": 100,
}
_REGISTER_SPLIT = re.compile(r"[\s,/+;|]+")
_POWERS: dict[str, str] = {}
_REGISTERS: dict[str, list[str]] = {}


def connection_power(power: str) -> str:
    """Return a connection power in kW with two decimals ("17,3" -> "17.30")."""
    known = _POWERS.get(power)
    if known is not None:
        return known
    try:
        amount = Decimal(power.replace(",", "."))
    except InvalidOperation:
        raise RowError(f"connection_power_kw {power!r} is not a number") from None
    if not (amount.is_finite() and 0 <= amount < 10_000_000):
        raise RowError(f"connection_power_kw {power!r} is out of range")
    if len(_POWERS) < 10_000:
        _POWERS[power] = str(amount.quantize(Decimal("0.01")))
    return str(amount.quantize(Decimal("0.01")))


def meter_registers(text: str) -> list[str]:
    """Return the registers named in `text` (VT and MT, or ET), or raise."""
    known = _REGISTERS.get(text)
    if known is not None:
        return known
    registers = [r for r in _REGISTER_SPLIT.split(text.upper()) if r]
    if any(r not in ("VT", "MT", "ET") for r in registers) or len(set(registers)) < len(registers):
        raise RowError(f"registers {text!r}: expected VT and MT, or ET")
    if len(_REGISTERS) < 1000:
        _REGISTERS[text] = registers
    return registers


def validate_metering_point(row: dict[str, str]) -> tuple[Any, ...]:
    """Return the staged form of a metering-point row, or raise `RowError`."""
    values = cleaned(row, METERING_POINT_LIMITS)
    get = values.get
    eimm = get("eimm")
    if eimm is None:
        raise RowError("eimm is missing")
    eimm = normalize_metering_point(eimm)
    gsrn = get("gsrn")
    gsrn = normalize_gsrn(gsrn) if gsrn else None
    _value, _display, street, house_number, postcode, city = postal_address(values)
    dso_area = get("dso_area")

    power = get("connection_power_kw")
    if power is not None:
        power = connection_power(power)
    tariff_model = get("tariff_model")
    status = get("status", "active").lower()
    if status not in MP_STATUSES:
        raise RowError(f"status {status!r}: expected one of {', '.join(sorted(MP_STATUSES))}")

    parties = [get("customer"), get("owner"), get("payer")]
    if not any(parties):
        raise RowError("no customer, owner or payer given")
    serial = get("meter_serial")
    meter_type = get("meter_type")
    registers_text = get("registers")
    registers = meter_registers(registers_text) if registers_text else []
    if (registers or meter_type) and not serial:
        raise RowError("meter data without meter_serial")
    installed_on = parse_date(get("installed_on"), "installed_on")
    return (
        eimm,
        gsrn,
        street,
        house_number,
        postcode,
        city,
        dso_area,
        power,
        tariff_model,
        status,
        *parties,
        serial,
        meter_type,
        ("[" + ", ".join(f'"{r}"' for r in registers) + "]") if serial else None,
        installed_on,
        get("network_contract"),
        get("supply_contract"),
        get("supply_product"),
    )


# -- the import ---------------------------------------------------------------------


@dataclass(frozen=True)
class Entity:
    """One importable kind of row: its fields, staging table, validation and keys."""

    name: str
    fields: tuple[str, ...]
    required: str
    stage: str
    columns: tuple[str, ...]
    validate: Callable[[dict[str, str]], tuple[Any, ...]]
    #: (position in the staged tuple, what it is) of values unique within a file
    unique: tuple[tuple[int, str], ...]


PARTNERS = Entity(
    name="partners",
    fields=PARTNER_FIELDS,
    required="external_id",
    stage="stage_partner",
    columns=(
        "external_id",
        "kind",
        "first_name",
        "last_name",
        "organisation_name",
        "tax_number",
        "registration_number",
        "segment",
        "language",
        "phone",
        "phone_display",
        "phone2",
        "phone2_display",
        "email",
        "email_display",
        "address",
        "address_display",
        "street",
        "house_number",
        "postcode",
        "city",
        "contact_for",
    ),
    validate=validate_partner,
    unique=((0, "external_id"), (5, "tax number")),
)
METERING_POINTS = Entity(
    name="metering points",
    fields=METERING_POINT_FIELDS,
    required="eimm",
    stage="stage_metering_point",
    columns=(
        "eimm",
        "gsrn",
        "street",
        "house_number",
        "postcode",
        "city",
        "dso_area",
        "connection_power_kw",
        "tariff_model",
        "status",
        "customer",
        "owner",
        "payer",
        "meter_serial",
        "meter_type",
        "registers",
        "installed_on",
        "network_contract",
        "supply_contract",
        "supply_product",
    ),
    validate=validate_metering_point,
    unique=((0, "eimm"), (1, "GSRN")),
)


ENTITIES = {entity.name: entity for entity in (PARTNERS, METERING_POINTS)}


@dataclass(frozen=True, slots=True)
class Chunk:
    """A run of a file's raw lines to validate, self-contained for a worker process."""

    entity: str
    encoding: str
    file_format: str
    header: tuple[str, ...]
    delimiter: str
    first: int  # line number of lines[0]
    lines: list[bytes]


@dataclass(slots=True)
class ChunkResult:
    """The staged rows of a chunk, its refused lines, and how many rows it held."""

    staged: list[tuple[Any, ...]]
    rejections: list[Rejection]
    rows: int


def read_chunk(chunk: Chunk) -> ChunkResult:
    """Decode, parse and validate one chunk: the work that runs in worker processes."""
    entity = ENTITIES[chunk.entity]
    refused_lines: list[Rejection] = []
    lines = decoded_lines(chunk.lines, chunk.encoding, refused_lines.append, chunk.first)
    if chunk.file_format == "csv":
        rows = csv_rows(lines, chunk.header, chunk.delimiter, refused_lines.append)
    else:
        rows = jsonl_rows(lines, refused_lines.append)

    staged: list[tuple[Any, ...]] = []
    refused_rows: list[Rejection] = []
    parsed = 0
    validate = entity.validate
    for number, row in rows:
        parsed += 1
        try:
            staged.append((number, *validate(row)))
        except (RowError, InvalidIdentifier) as exc:
            refused_rows.append(Rejection(number, str(exc)))
    rejections = sorted(refused_lines + refused_rows, key=lambda r: r.line)
    return ChunkResult(staged, rejections, parsed + len(refused_lines))


class Importer:
    """Reads one file, stages its valid rows and writes them in set-based statements."""

    def __init__(
        self,
        store: Store,
        entity: Entity,
        *,
        progress: bool = False,
        on_reject: Callable[[Rejection], None] | None = None,
        bulk_rows: int = BULK_ROWS,
        workers: int | None = None,
    ) -> None:
        self.store = store
        self.entity = entity
        self.progress = progress
        self.on_reject = on_reject
        self.bulk_rows = bulk_rows
        self.workers = workers
        self.report = ImportReport(entity.name)
        self.sql = Dialect(store.dialect)
        self.staged = 0  # rows in the staging table
        self.last_line = 0

    def time(self, step: str, seconds: float) -> None:
        self.report.timings[step] = self.report.timings.get(step, 0.0) + seconds

    def reject(self, rejection: Rejection) -> None:
        self.report.rejected += 1
        if len(self.report.rejections) < KEPT_REJECTIONS:
            self.report.rejections.append(rejection)
        if self.on_reject is not None:
            self.on_reject(rejection)

    def reject_line(self, rejection: Rejection) -> None:
        """Refuse a line before it became a row (undecodable, malformed): still a row."""
        self.report.rows += 1
        self.reject(rejection)

    async def run(self, path: Path) -> ImportReport:
        started = time.perf_counter()
        try:
            with path.open("rb") as fh:
                sample = fh.read(SAMPLE_BYTES)
                fh.seek(0)
                self.report.encoding = choose_encoding(sample)
                await self._import(path, fh, os.fstat(fh.fileno()).st_size)
        except OSError as exc:
            self.report.error = f"cannot read the file: {exc.strerror or exc}"
        self.report.rejections.sort(key=lambda r: r.line)
        self.report.seconds = time.perf_counter() - started
        log.info(
            "import.done",
            entity=self.entity.name,
            **{k: v for k, v in self.report.as_dict().items() if k != "entity"},
        )
        return self.report

    async def _import(self, path: Path, fh: BinaryIO, size: int) -> None:
        bar = tqdm(
            total=size,
            unit="B",
            unit_scale=True,
            desc=f"reading {self.entity.name}",
            disable=not self.progress,
            mininterval=0.5,
        )
        try:
            chunks = self._chunks(path, fh, bar)
            if chunks is None:
                return
            async with self.store.engine.begin() as conn:
                await self.sql.create_stage(conn, self.entity)
                await self._stage(conn, chunks, self._worker_count(size))
                bar.close()
                await self._write(conn)
        finally:
            bar.close()

    def _chunks(self, path: Path, fh: BinaryIO, bar: tqdm) -> Iterator[Chunk] | None:
        """Read up to the first line with text, then return the chunks of the rest.

        Returns None (with the report's error set) for an empty file or a CSV header
        without the required column.
        """
        numbered = enumerate(fh, start=1)
        for number, raw in numbered:
            bar.update(len(raw))
            decoded = list(decoded_lines([raw], self.report.encoding, self.reject_line, number))
            if decoded and decoded[0][1].strip():
                first, first_raw, first_text = number, raw, decoded[0][1]
                break
        else:
            self.report.error = "the file is empty"
            return None

        self.report.file_format = sniff_format(path, first_text)
        header: tuple[str, ...] = ()
        delimiter = ","
        if self.report.file_format == "csv":
            header, delimiter = csv_header(first_text)
            if self.entity.required not in header:
                self.report.error = f"the header has no {self.entity.required} column"
                return None
        spec = partial(
            Chunk,
            self.entity.name,
            self.report.encoding,
            self.report.file_format,
            header,
            delimiter,
        )

        def chunks() -> Iterator[Chunk]:
            lines = [] if header else [first_raw]
            start = first + 1 if header else first
            size = 0
            for number, raw in numbered:
                if not lines:
                    start = number
                lines.append(raw)
                size += len(raw)
                if len(lines) >= CHUNK_LINES:
                    bar.update(size)
                    yield spec(start, lines)
                    lines, size = [], 0
            bar.update(size)
            if lines:
                yield spec(start, lines)

        return chunks()

    def _worker_count(self, size: int) -> int:
        """Return how many worker processes to validate with: none for small files,
        and none on a machine without an idle core, where they only add copying."""
        if self.workers is not None:
            return self.workers
        cpus = os.cpu_count() or 1
        if size < PARALLEL_BYTES or cpus - os.getloadavg()[0] < 1:
            return 0
        return min(MAX_WORKERS, cpus)

    async def _stage(self, conn: AsyncConnection, chunks: Iterator[Chunk], workers: int) -> None:
        """Validate the chunks (in worker processes when `workers`) and stage their rows.

        Workers validate the next chunks while this process copies the last ones into
        the staging table; results are taken in file order, so duplicates within the
        file are found in order here.
        """
        seen: list[dict[str, int]] = [{} for _ in self.entity.unique]
        batch: list[tuple[Any, ...]] = []
        pool = None
        if workers:  # fork: the workers inherit the loaded modules, nothing is re-run
            context = multiprocessing.get_context("fork")
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        loop = asyncio.get_running_loop()
        pending: deque[tuple[Chunk, asyncio.Future[ChunkResult] | None]] = deque()
        started = time.perf_counter()

        async def take_next() -> ChunkResult:
            nonlocal pool
            chunk, future = pending.popleft()
            if future is None:
                return read_chunk(chunk)
            try:
                return await future
            except BrokenProcessPool:  # a worker died (killed, out of memory): go on here
                log.warning("import.workers_lost", entity=self.entity.name, line=chunk.first)
                if pool is not None:
                    pool.shutdown(cancel_futures=True)
                    pool = None
                return read_chunk(chunk)

        try:
            for chunk in chunks:
                if pool is None and not pending:
                    batch = await self._take(conn, read_chunk(chunk), seen, batch)
                    continue
                future = pool and loop.run_in_executor(pool, read_chunk, chunk)
                pending.append((chunk, future))
                if len(pending) > 2 * workers:
                    batch = await self._take(conn, await take_next(), seen, batch)
            while pending:
                batch = await self._take(conn, await take_next(), seen, batch)
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
        if batch:
            await self._stage_batch(conn, batch)
        await self.sql.analyze(conn, self.entity.stage)
        stage_s = self.report.timings.get("stage", 0.0)
        self.time("validate", time.perf_counter() - started - stage_s)

    async def _take(
        self,
        conn: AsyncConnection,
        result: ChunkResult,
        seen: list[dict[str, int]],
        batch: list[tuple[Any, ...]],
    ) -> list[tuple[Any, ...]]:
        """Count and report a chunk's refusals, queue its new rows; return the batch."""
        self.report.rows += result.rows
        for rejection in result.rejections:
            self.reject(rejection)
        for staged in result.staged:
            duplicate = self._duplicate(seen, staged, staged[0])
            if duplicate is not None:
                self.reject(Rejection(staged[0], duplicate))
                continue
            batch.append(staged)
            if len(batch) >= BATCH:
                await self._stage_batch(conn, batch)
                batch = []
        return batch

    async def _stage_batch(self, conn: AsyncConnection, batch: list[tuple[Any, ...]]) -> None:
        started = time.perf_counter()
        await self.sql.stage_rows(conn, self.entity, batch)
        self.staged += len(batch)
        self.last_line = batch[-1][0]
        self.time("stage", time.perf_counter() - started)

    def _duplicate(
        self, seen: list[dict[str, int]], staged: tuple[Any, ...], number: int
    ) -> str | None:
        for (position, what), earlier in zip(self.entity.unique, seen, strict=True):
            key = staged[position + 1]
            if key is None:
                continue
            first = earlier.get(key)
            if first is not None:
                return f"duplicate: {what} {key} already on line {first}"
        for (position, _what), earlier in zip(self.entity.unique, seen, strict=True):
            if staged[position + 1] is not None:
                earlier[staged[position + 1]] = number
        return None

    async def _write(self, conn: AsyncConnection) -> None:
        writer = PartnerWriter if self.entity is PARTNERS else MeteringPointWriter
        started = time.perf_counter()
        await writer(conn, self.sql, self).write()
        self.time("write", time.perf_counter() - started)


# -- SQL ----------------------------------------------------------------------------


class Dialect:
    """The few statements that differ between PostgreSQL and SQLite."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.postgres = name == "postgresql"

    def date(self, expr: str) -> str:
        return f"CAST({expr} AS date)" if self.postgres else expr

    def json(self, expr: str) -> str:
        return f"CAST({expr} AS jsonb)" if self.postgres else f"json({expr})"

    async def create_stage(self, conn: AsyncConnection, entity: Entity) -> None:
        columns = ", ".join(f"{c} text" for c in entity.columns)
        if self.postgres:
            # set-based statements over many rows look costly enough to the planner
            # to compile them (JIT), which takes longer than running them
            await conn.exec_driver_sql("SET LOCAL jit = off")
            # room for a large staging table in memory, where allowed
            try:
                async with conn.begin_nested():
                    await conn.exec_driver_sql(f"SET temp_buffers = '{TEMP_BUFFERS}'")
            except DBAPIError:
                log.debug("import.temp_buffers_kept")
        await conn.exec_driver_sql(f"DROP TABLE IF EXISTS {entity.stage}")
        suffix = " ON COMMIT DROP" if self.postgres else ""
        await conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {entity.stage} (line integer, {columns}){suffix}"
        )

    async def stage_rows(
        self, conn: AsyncConnection, entity: Entity, rows: Sequence[tuple[Any, ...]]
    ) -> None:
        if self.postgres:
            raw = (await conn.get_raw_connection()).driver_connection
            await raw.copy_records_to_table(
                entity.stage, records=rows, columns=("line", *entity.columns)
            )
            return
        marks = ", ".join("?" for _ in range(len(entity.columns) + 1))
        await conn.exec_driver_sql(f"INSERT INTO {entity.stage} VALUES ({marks})", list(rows))

    async def analyze(self, conn: AsyncConnection, table: str) -> None:
        await conn.exec_driver_sql(f"ANALYZE {table}")


def changed(target: str, source: str, columns: Iterable[str], cast: dict[str, str]) -> str:
    """Return SQL telling whether any of `columns` differs between two row aliases."""
    return " OR ".join(
        f"{target}.{c} IS DISTINCT FROM {cast.get(c, '{}').format(f'{source}.{c}')}"
        for c in columns
    )


class Writer:
    """Runs the set-based statements of one entity inside the import's transaction."""

    def __init__(self, conn: AsyncConnection, sql: Dialect, importer: Importer) -> None:
        self.conn = conn
        self.sql = sql
        self.importer = importer
        self.report = importer.report
        self.stage = importer.entity.stage

    async def execute(self, statement: str, **params: Any) -> Any:
        query = text(statement)
        if "now" in params:
            query = query.bindparams(bindparam("now", type_=UtcDateTime))
        started = time.perf_counter()
        result = await self.conn.execute(query, params)
        log.debug(
            "import.statement",
            statement=statement[:60],
            seconds=round(time.perf_counter() - started, 3),
        )
        return result

    async def refuse(self, statement: str, reason: Callable[[Any], str]) -> None:
        """Refuse the staged rows `statement` selects (line first) and unstage them."""
        found = (await self.execute(statement)).all()
        if not found:
            return
        for row in found:
            self.importer.reject(Rejection(row[0], reason(row)))
        self.importer.staged -= len(found)
        lines = [row[0] for row in found]
        for start in range(0, len(lines), 5000):
            chunk = ", ".join(str(n) for n in lines[start : start + 5000])
            await self.execute(f"DELETE FROM {self.stage} WHERE line IN ({chunk})")

    async def bulk_ready(self, tables: Sequence[str], empty: Sequence[str]) -> bool:
        """Tell whether to take the bulk path; if so, keep other writers of `tables` out.

        Dropping the indexes also keeps readers out until the commit: fine for the
        first load of an installation, which is what the path is for.
        """
        # TODO(#2): a large file into nearly empty tables (a few rows typed in before
        # the first ERP load) still takes the upsert; bulk-inserting the new keys and
        # upserting only the existing ones would serve it.
        staged = self.importer.staged
        if not self.sql.postgres or staged == 0 or staged < self.importer.bulk_rows:
            return False
        if not await bulkload.is_empty(self.conn, empty):
            return False
        await bulkload.lock(self.conn, tables)
        return await bulkload.is_empty(self.conn, empty)

    def bulk_done(self, timings: bulkload.Timings) -> None:
        self.report.path = "bulk"
        self.report.inserted = self.importer.staged
        self.importer.time("index", timings.index_s)
        self.importer.time("foreign_key", timings.foreign_key_s)
        self.importer.time("analyze", timings.analyze_s)

    async def classify(self, key_join: str, differs: str) -> None:
        """Count staged rows as inserted (no target row), updated (differs) or unchanged."""
        counts = (
            await self.execute(
                f"SELECT count(*), coalesce(sum(CASE WHEN t.id IS NULL THEN 1 ELSE 0 END), 0),"
                f" coalesce(sum(CASE WHEN t.id IS NOT NULL AND ({differs}) THEN 1 ELSE 0 END), 0)"
                f" FROM {self.stage} s LEFT JOIN {key_join}"
            )
        ).one()
        total, inserted, updated = (int(n) for n in counts)
        self.report.inserted = inserted
        self.report.updated = updated
        self.report.unchanged = total - inserted - updated


PARTNER_COLUMNS = (
    "kind",
    "first_name",
    "last_name",
    "organisation_name",
    "tax_number",
    "registration_number",
    "segment",
    "language",
)
CONTACTS = (  # kind, staged value, staged display, primary
    ("phone", "phone", "phone_display", True),
    ("phone", "phone2", "phone2_display", False),
    ("email", "email", "email_display", True),
    ("address", "address", "address_display", True),
)


PARTNER_TABLES = ("partner", "contact_point", "partner_role")


class PartnerWriter(Writer):
    async def write(self) -> None:
        await self.refuse_conflicts()
        if await self.bulk_ready(PARTNER_TABLES, ("partner",)):
            await self.bulk_write()
            return
        await self.classify("partner t ON t.external_id = s.external_id", self.partner_differs())
        if self.report.inserted + self.report.updated == 0:
            return
        now = utcnow()

        columns = ", ".join(PARTNER_COLUMNS)
        await self.execute(
            f"INSERT INTO partner (external_id, {columns}, created_at, updated_at)"
            f" SELECT external_id, {columns}, :now, :now FROM {self.stage} WHERE true"
            f" ON CONFLICT (external_id) DO UPDATE SET"
            f" {', '.join(f'{c} = excluded.{c}' for c in PARTNER_COLUMNS)},"
            f" updated_at = excluded.updated_at"
            f" WHERE {changed('partner', 'excluded', PARTNER_COLUMNS, {})}",
            now=now,
        )
        for kind, value, display, primary in CONTACTS:
            if primary and self.report.updated:
                await self.demote(kind, value)
            extra = ", street, house_number, postcode, city" if kind == "address" else ""
            staged = ", s.street, s.house_number, s.postcode, s.city" if kind == "address" else ""
            await self.execute(
                f"INSERT INTO contact_point (partner_id, kind, value, display, is_primary{extra})"
                f" SELECT p.id, '{kind}', s.{value}, s.{display}, {str(primary).upper()}{staged}"
                f" FROM {self.stage} s JOIN partner p ON p.external_id = s.external_id"
                f" WHERE s.{value} IS NOT NULL"
                f" ON CONFLICT (partner_id, kind, value) DO NOTHING"
            )
        await self.add_contact_roles()

    async def bulk_write(self) -> None:
        """Insert the staged partners, contact points and roles into empty tables.

        Ids are reserved from the sequences and computed from the line number, so
        contact points and roles need no join back to the partner and no row draws
        from a sequence one by one.
        """
        lines = self.importer.last_line
        async with bulkload.rebuilt(self.conn, PARTNER_TABLES, ("partner",)) as timings:
            base = await bulkload.reserve_ids(self.conn, "partner", lines)
            per_line = len(CONTACTS)
            contact_base = await bulkload.reserve_ids(self.conn, "contact_point", per_line * lines)
            columns = ", ".join(PARTNER_COLUMNS)
            await self.execute(
                f"INSERT INTO partner (id, external_id, {columns}, created_at, updated_at)"
                f" SELECT {base} + line, external_id, {columns}, :now, :now FROM {self.stage}",
                now=utcnow(),
            )

            address = "s.street, s.house_number, s.postcode, s.city"
            kinds = ", ".join(
                f"({k}, '{kind}', s.{value}, s.{display}, {str(primary).upper()},"
                f" {address if kind == 'address' else 'NULL, NULL, NULL, NULL'})"
                for k, (kind, value, display, primary) in enumerate(CONTACTS, start=1)
            )
            fields = "kind, value, display, is_primary, street, house_number, postcode, city"
            await self.execute(
                f"INSERT INTO contact_point (id, partner_id, {fields})"
                f" SELECT {contact_base} + {per_line} * (s.line - 1) + v.k, {base} + s.line,"
                f" {', '.join(f'v.{f}' for f in fields.split(', '))}"
                f" FROM {self.stage} s CROSS JOIN LATERAL (VALUES {kinds}) AS v(k, {fields})"
                " WHERE v.value IS NOT NULL"
            )
            await self.execute(
                f"INSERT INTO partner_role (partner_id, role, for_partner_id)"
                f" SELECT {base} + s.line, 'contact_person', {base} + o.line"
                f" FROM {self.stage} s JOIN {self.stage} o ON o.external_id = s.contact_for"
            )
        self.bulk_done(timings)

    def partner_differs(self) -> str:
        parts = [changed("t", "s", PARTNER_COLUMNS, {})]
        for kind, value, _display, _primary in CONTACTS:
            parts.append(
                f"(s.{value} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM contact_point c"
                f" WHERE c.partner_id = t.id AND c.kind = '{kind}' AND c.value = s.{value}))"
            )
        parts.append(
            "(s.contact_for IS NOT NULL AND NOT EXISTS (SELECT 1 FROM partner_role r"
            " JOIN partner o ON o.id = r.for_partner_id WHERE r.partner_id = t.id"
            " AND r.role = 'contact_person' AND r.valid_to IS NULL"
            " AND o.external_id = s.contact_for))"
        )
        return " OR ".join(parts)

    async def refuse_conflicts(self) -> None:
        await self.refuse(
            f"SELECT s.line, p.external_id, p.id FROM {self.stage} s"
            f" JOIN partner p ON p.tax_number = s.tax_number"
            f" WHERE p.external_id IS DISTINCT FROM s.external_id",
            lambda r: f"tax number already belongs to partner {r[1] or f'#{r[2]}'}",
        )
        await self.refuse(
            f"SELECT s.line, s.contact_for FROM {self.stage} s WHERE s.contact_for IS NOT NULL"
            f" AND NOT EXISTS (SELECT 1 FROM {self.stage} o WHERE o.external_id = s.contact_for)"
            f" AND NOT EXISTS (SELECT 1 FROM partner o WHERE o.external_id = s.contact_for)",
            lambda r: f"contact_for {r[1]!r} is not a known partner",
        )

    async def demote(self, kind: str, value: str) -> None:
        """Make an existing partner's older primary phone, email or address secondary."""
        await self.execute(
            f"UPDATE contact_point SET is_primary = FALSE FROM {self.stage} s"
            f" JOIN partner p ON p.external_id = s.external_id"
            f" WHERE contact_point.partner_id = p.id AND contact_point.kind = '{kind}'"
            f" AND contact_point.is_primary AND s.{value} IS NOT NULL"
            f" AND contact_point.value <> s.{value}"
        )

    async def add_contact_roles(self) -> None:
        await self.execute(
            f"INSERT INTO partner_role (partner_id, role, for_partner_id)"
            f" SELECT p.id, 'contact_person', o.id FROM {self.stage} s"
            f" JOIN partner p ON p.external_id = s.external_id"
            f" JOIN partner o ON o.external_id = s.contact_for"
            f" WHERE NOT EXISTS (SELECT 1 FROM partner_role r WHERE r.partner_id = p.id"
            f" AND r.role = 'contact_person' AND r.for_partner_id = o.id AND r.valid_to IS NULL)"
        )


MP_COLUMNS = (
    "gsrn",
    "street",
    "house_number",
    "postcode",
    "city",
    "dso_area",
    "connection_power_kw",
    "tariff_model",
    "status",
)
CONTRACTS = (  # staged number column, kind, legal entity, staged product column
    ("network_contract", "network_access", "dso", None),
    ("supply_contract", "supply", "supplier", "supply_product"),
)


METERING_POINT_TABLES = (
    "metering_point",
    "meter_device",
    "partner_role",
    "contract",
    "contract_metering_point",
)


class MeteringPointWriter(Writer):
    async def write(self) -> None:
        await self.refuse_conflicts()
        if await self.bulk_ready(METERING_POINT_TABLES, ("metering_point", "contract")):
            await self.bulk_write()
            return
        cast = {"connection_power_kw": "CAST({} AS numeric)"}
        await self.classify(
            "metering_point t ON t.eimm = s.eimm", self.metering_point_differs(cast)
        )
        if self.report.inserted + self.report.updated == 0:
            return

        columns = ", ".join(MP_COLUMNS)
        staged = ", ".join(cast.get(c, "{}").format(f"s.{c}") for c in MP_COLUMNS)
        await self.execute(
            f"INSERT INTO metering_point (eimm, {columns}) SELECT s.eimm, {staged}"
            f" FROM {self.stage} s WHERE true ON CONFLICT (eimm) DO UPDATE SET"
            f" {', '.join(f'{c} = excluded.{c}' for c in MP_COLUMNS)}"
            f" WHERE {changed('metering_point', 'excluded', MP_COLUMNS, {})}"
        )
        await self.write_devices()
        for role in MP_ROLES:
            await self.write_role(role)
        for number, kind, entity, product in CONTRACTS:
            await self.write_contract(number, kind, entity, product)

    async def bulk_write(self) -> None:
        """Insert the staged metering points, meters, roles and contracts into empty tables.

        Gives the same rows as the upsert would: a contract number named as both a
        network and a supply contract is one contract of the network kind that
        carries the supply contract's holder and product.
        """
        stage = self.stage
        async with bulkload.rebuilt(
            self.conn, METERING_POINT_TABLES, ("metering_point", "contract")
        ) as timings:
            lines = self.importer.last_line
            base = await bulkload.reserve_ids(self.conn, "metering_point", lines)
            device_base = await bulkload.reserve_ids(self.conn, "meter_device", lines)
            per_line = len(MP_ROLES)
            role_base = await bulkload.reserve_ids(self.conn, "partner_role", per_line * lines)
            columns = ", ".join(MP_COLUMNS)
            staged = ", ".join(
                "CAST(connection_power_kw AS numeric)" if c == "connection_power_kw" else c
                for c in MP_COLUMNS
            )
            await self.execute(
                f"INSERT INTO metering_point (id, eimm, {columns})"
                f" SELECT {base} + line, eimm, {staged} FROM {stage}"
            )
            await self.execute(
                "INSERT INTO meter_device (id, metering_point_id, serial, type, registers,"
                f" installed_on) SELECT {device_base} + line, {base} + line, meter_serial,"
                " meter_type,"
                f" CAST(registers AS jsonb), CAST(installed_on AS date) FROM {stage}"
                " WHERE meter_serial IS NOT NULL"
            )
            roles = ", ".join(
                f"({k}, '{role}', s.{role})" for k, role in enumerate(MP_ROLES, start=1)
            )
            await self.execute(
                "INSERT INTO partner_role (id, partner_id, role, metering_point_id)"
                f" SELECT {role_base} + {per_line} * (s.line - 1) + v.k, p.id, v.role,"
                f" {base} + s.line FROM {stage} s"
                f" CROSS JOIN LATERAL (VALUES {roles}) AS v(k, role, external_id)"
                " JOIN partner p ON p.external_id = v.external_id"
            )
            await self.bulk_contracts(base)
        self.bulk_done(timings)

    async def bulk_contracts(self, base: int) -> None:
        (network, network_kind, network_entity, _), (supply, kind, entity, product) = CONTRACTS
        at_most = len(CONTRACTS) * self.importer.last_line
        contract_base = await bulkload.reserve_ids(self.conn, "contract", at_most)
        await self.execute(
            "WITH holder AS MATERIALIZED (SELECT s.network_contract, s.supply_contract,"
            f" s.{product}, p.id AS partner_id FROM {self.stage} s JOIN partner p"
            " ON p.external_id = coalesce(s.customer, s.payer, s.owner)),"
            f" network AS (SELECT {network} AS number, min(partner_id) AS partner_id"
            f" FROM holder WHERE {network} IS NOT NULL GROUP BY {network}),"
            f" supply AS (SELECT {supply} AS number, min(partner_id) AS partner_id,"
            f" min({product}) AS product FROM holder WHERE {supply} IS NOT NULL"
            f" GROUP BY {supply})"
            " INSERT INTO contract (id, number, kind, legal_entity, partner_id, product,"
            f" status, source) SELECT {contract_base} + row_number() OVER (),"
            " coalesce(n.number, s.number),"
            f" CASE WHEN n.number IS NULL THEN '{kind}' ELSE '{network_kind}' END,"
            f" CASE WHEN n.number IS NULL THEN '{entity}' ELSE '{network_entity}' END,"
            " coalesce(s.partner_id, n.partner_id), s.product, 'active', 'erp'"
            " FROM network n FULL JOIN supply s ON s.number = n.number"
        )
        await self.execute(
            "INSERT INTO contract_metering_point (contract_id, metering_point_id)"
            f" SELECT c.id, {base} + s.line FROM {self.stage} s CROSS JOIN LATERAL (VALUES"
            f" ({network}), (CASE WHEN {supply} IS DISTINCT FROM {network} THEN {supply} END))"
            " AS v(number) JOIN contract c ON c.number = v.number"
        )

    def metering_point_differs(self, cast: dict[str, str]) -> str:
        parts = [changed("t", "s", MP_COLUMNS, cast)]
        parts.append(
            f"(s.meter_serial IS NOT NULL AND NOT EXISTS (SELECT 1 FROM meter_device d"
            f" WHERE d.metering_point_id = t.id AND d.removed_on IS NULL"
            f" AND d.serial = s.meter_serial AND d.type IS NOT DISTINCT FROM s.meter_type"
            f" AND {self.sql.json('d.registers')} = {self.sql.json('s.registers')}))"
        )
        for role in MP_ROLES:
            parts.append(
                f"(s.{role} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM partner_role r"
                f" JOIN partner p ON p.id = r.partner_id WHERE r.metering_point_id = t.id"
                f" AND r.role = '{role}' AND r.valid_to IS NULL AND p.external_id = s.{role}))"
            )
        for number, _kind, _entity, product in CONTRACTS:
            same_product = f" AND c.product IS NOT DISTINCT FROM s.{product}" if product else ""
            parts.append(
                f"(s.{number} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM contract_metering_point"
                f" cm JOIN contract c ON c.id = cm.contract_id WHERE cm.metering_point_id = t.id"
                f" AND c.number = s.{number}{same_product}))"
            )
        return " OR ".join(parts)

    async def refuse_conflicts(self) -> None:
        for role in MP_ROLES:
            await self.refuse(
                f"SELECT s.line, s.{role} FROM {self.stage} s WHERE s.{role} IS NOT NULL"
                f" AND NOT EXISTS (SELECT 1 FROM partner p WHERE p.external_id = s.{role})",
                lambda r, role=role: f"{role} {r[1]!r} is not a known partner",
            )
        await self.refuse(
            f"SELECT s.line, m.eimm FROM {self.stage} s JOIN metering_point m"
            f" ON m.gsrn = s.gsrn WHERE m.eimm <> s.eimm",
            lambda r: f"GSRN already belongs to metering point {r[1]}",
        )
        for number, kind, _entity, _product in CONTRACTS:
            await self.refuse(
                f"SELECT s.line, s.{number}, c.kind FROM {self.stage} s JOIN contract c"
                f" ON c.number = s.{number} WHERE c.kind <> '{kind}'",
                lambda r: f"contract {r[1]} exists as a {r[2]} contract",
            )

    async def write_devices(self) -> None:
        """Retire a meter the file no longer names, update the named one, add new ones."""
        source = f"{self.stage} s JOIN metering_point m ON m.eimm = s.eimm"
        if self.report.updated:
            await self.execute(
                f"UPDATE meter_device SET removed_on = {self.sql.date(':today')} FROM {source}"
                f" WHERE meter_device.metering_point_id = m.id AND meter_device.removed_on IS NULL"
                f" AND s.meter_serial IS NOT NULL AND meter_device.serial <> s.meter_serial",
                today=date.today().isoformat(),
            )
            await self.execute(
                f"UPDATE meter_device SET type = s.meter_type,"
                f" registers = {self.sql.json('s.registers')} FROM {source}"
                f" WHERE meter_device.metering_point_id = m.id AND meter_device.removed_on IS NULL"
                f" AND meter_device.serial = s.meter_serial AND (meter_device.type IS DISTINCT"
                f" FROM s.meter_type OR {self.sql.json('meter_device.registers')}"
                f" <> {self.sql.json('s.registers')})"
            )
        await self.execute(
            f"INSERT INTO meter_device (metering_point_id, serial, type, registers, installed_on)"
            f" SELECT m.id, s.meter_serial, s.meter_type, {self.sql.json('s.registers')},"
            f" {self.sql.date('s.installed_on')} FROM {source} WHERE s.meter_serial IS NOT NULL"
            f" AND NOT EXISTS (SELECT 1 FROM meter_device d WHERE d.metering_point_id = m.id"
            f" AND d.serial = s.meter_serial AND d.removed_on IS NULL)"
        )

    async def write_role(self, role: str) -> None:
        """End the current role holders the file replaces, then add the named ones."""
        source = (
            f"{self.stage} s JOIN metering_point m ON m.eimm = s.eimm"
            f" JOIN partner p ON p.external_id = s.{role}"
        )
        if self.report.updated:
            today = self.sql.date(":today")
            await self.execute(
                f"UPDATE partner_role SET valid_to = CASE WHEN partner_role.valid_from > {today}"
                f" THEN partner_role.valid_from ELSE {today} END FROM {source}"
                f" WHERE partner_role.metering_point_id = m.id AND partner_role.role = '{role}'"
                f" AND partner_role.valid_to IS NULL AND partner_role.partner_id <> p.id",
                today=date.today().isoformat(),
            )
        await self.execute(
            f"INSERT INTO partner_role (partner_id, role, metering_point_id)"
            f" SELECT p.id, '{role}', m.id FROM {source}"
            f" WHERE NOT EXISTS (SELECT 1 FROM partner_role r WHERE r.metering_point_id = m.id"
            f" AND r.role = '{role}' AND r.partner_id = p.id AND r.valid_to IS NULL)"
        )

    async def write_contract(
        self, number: str, kind: str, entity: str, product: str | None
    ) -> None:
        """Upsert the contracts the file names and tie each to its metering points."""
        product_value = f"min(s.{product})" if product else "NULL"
        await self.execute(
            f"INSERT INTO contract (number, kind, legal_entity, partner_id, product, status,"
            f" source) SELECT s.{number}, '{kind}', '{entity}', min(p.id), {product_value},"
            f" 'active', 'erp' FROM {self.stage} s"
            f" JOIN partner p ON p.external_id = coalesce(s.customer, s.payer, s.owner)"
            f" WHERE s.{number} IS NOT NULL GROUP BY s.{number}"
            f" ON CONFLICT (number) DO UPDATE SET partner_id = excluded.partner_id,"
            f" product = excluded.product WHERE contract.partner_id <> excluded.partner_id"
            f" OR contract.product IS DISTINCT FROM excluded.product"
        )
        await self.execute(
            f"INSERT INTO contract_metering_point (contract_id, metering_point_id)"
            f" SELECT c.id, m.id FROM {self.stage} s JOIN contract c ON c.number = s.{number}"
            f" JOIN metering_point m ON m.eimm = s.eimm WHERE true"
            f" ON CONFLICT (contract_id, metering_point_id) DO NOTHING"
        )


async def import_file(
    store: Store,
    entity: Entity,
    path: Path | str,
    *,
    progress: bool = False,
    on_reject: Callable[[Rejection], None] | None = None,
    bulk_rows: int = BULK_ROWS,
    workers: int | None = None,
) -> ImportReport:
    """Import `path` as `entity` rows (PARTNERS or METERING_POINTS) and report.

    On PostgreSQL, `bulk_rows` or more valid rows going into empty tables are
    written by the bulk path; fewer, or into tables that hold rows, by the upsert.
    `workers` processes validate (default: up to two for files of 4 MB or more, when
    the machine has an idle core).
    """
    importer = Importer(
        store,
        entity,
        progress=progress,
        on_reject=on_reject,
        bulk_rows=bulk_rows,
        workers=workers,
    )
    report = await importer.run(Path(path))
    if report.inserted or report.updated:
        # The import wrote partners, contact points and roles past the ORM, so the
        # matcher's index is rebuilt to see them.
        # TODO(#3): refresh only the partners the import touched; a full rebuild of
        # 1M partners takes minutes.
        started = time.perf_counter()
        async with store.engine.begin() as conn:
            await match_index.rebuild(conn)
        report.timings["match_index"] = round(time.perf_counter() - started, 2)
    return report

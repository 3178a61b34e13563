"""A realistic Slovenian book of business for demonstrations, tests and benchmarks.

`write_demo_files` writes the partners and metering points an ERP would export, in
the importer's CSV columns; `load_demo_data` imports them through the bulk importer
and seeds the staff, calendars, SLA policies and queues of both legal entities.

Households and businesses (s.p., d.o.o., d.d., public bodies) carry valid and unique
tax numbers; surnames and first names are drawn with their real frequencies (SURS);
addresses use real postcode-post office pairs and Faker's sl_SI street names; phones
follow the Slovenian numbering plan (mobiles 030-071, landlines with the area code of
the address). Some households share a landline, some have no email, some metering
points are owned by a landlord whose tenant is the customer and payer, and companies
name contact persons. The same seed gives the same book.
"""

import csv
import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Any

import structlog
from faker import Faker
from sqlalchemy import func, select
from stdnum.si import maticna

from interactions.identifiers import gsrn_check_digit
from interactions.importer import (
    METERING_POINT_FIELDS,
    METERING_POINTS,
    PARTNER_FIELDS,
    PARTNERS,
    ImportReport,
    import_file,
    tax_check_digit,
)
from interactions.models import (
    Calendar,
    Employee,
    OrgUnit,
    Partner,
    Queue,
    SlaPolicy,
)
from interactions.places import PostOffice, delivery_post_offices, read_reference_csv
from interactions.store import Store

log = structlog.get_logger(__name__)

MOBILE_PREFIXES = ("30", "31", "40", "41", "51", "64", "68", "70", "71")
#: Landline area code by the first digit of the postcode (Pomurje dials 02, Dolenjska 07).
AREA_CODE = {"1": "1", "2": "2", "3": "3", "4": "4", "5": "5", "6": "5", "8": "7", "9": "2"}
#: Distribution area by the first digit of the postcode, and the EIMM area digit used
#: for it in demo data (a demo convention, not the operators' official numbering).
DSO_AREA = {
    "1": ("Elektro Ljubljana", "1"),
    "8": ("Elektro Ljubljana", "1"),
    "2": ("Elektro Maribor", "2"),
    "9": ("Elektro Maribor", "2"),
    "3": ("Elektro Celje", "3"),
    "4": ("Elektro Gorenjska", "4"),
    "5": ("Elektro Primorska", "5"),
    "6": ("Elektro Primorska", "5"),
}
EMAIL_DOMAINS = ("gmail.com", "siol.net", "t-2.net", "amis.net", "telemach.net", "yahoo.com")
SUPPLY_PRODUCTS = ("Osnovna", "Zelena energija", "Fiksna cena 12", "Dinamična")
METER_TYPES = ("Iskraemeco AM550", "Landis+Gyr E450", "Iskraemeco ME382")
TRADES = ("Avtoservis", "Frizerstvo", "Gostilna", "Kmetija", "Mizarstvo", "Vodovodne inštalacije")
FIRMS = ("Gradnje", "Trgovina", "Elektro", "Storitve", "Les", "Kovinarstvo", "Transport")
CITIES_HEAVY = {"1000": 60, "2000": 25, "3000": 10, "4000": 8, "5000": 5, "6000": 6, "8000": 6}


@lru_cache(maxsize=1 << 16)
def fold(text: str) -> str:
    """Return `text` in lower-case ASCII for an email local part (č -> c)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in ascii_text.lower() if c.isalnum())


def spread(index: int, modulus: int, salt: int) -> int:
    """Map 0..modulus-1 onto itself one-to-one, scattered (a bijection mod `modulus`)."""
    return (index * 7_368_787 + salt) % modulus


def tax_number(index: int) -> str:
    """Return the index-th of a scattered sequence of distinct, valid tax numbers.

    Bases are even; where an even base has no valid check digit, base + 1 has one.
    """
    base = 1_000_000 + 2 * spread(index, 4_500_000, 4_321)
    check = tax_check_digit(str(base))
    if len(check) > 1:
        base += 1
        check = tax_check_digit(str(base))
    return f"{base}{check}"


def registration_number(index: int) -> str:
    """Return the index-th of a scattered sequence of distinct, valid matične številke."""
    base = 100_000 + 2 * spread(index, 450_000, 77)
    check = maticna.calc_check_digit(str(base))
    if check == "invalid":
        base += 1
        check = maticna.calc_check_digit(str(base))
    return f"{base}{check}"


def weighted(path: str) -> tuple[list[str], list[float]]:
    rows = read_reference_csv(path)
    return [r["name"] for r in rows], list(accumulate(float(r["count"]) for r in rows))


@dataclass
class Book:
    """The generator's state: random source, reference data and running counters."""

    seed: int
    rng: random.Random = field(init=False)
    offices: list[PostOffice] = field(init=False)
    office_weights: list[float] = field(init=False)
    streets: list[str] = field(init=False)
    counters: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        faker = Faker("sl_SI")
        faker.seed_instance(self.seed)
        self.streets = sorted({faker.street_name() for _ in range(3000)})
        self.offices = delivery_post_offices()
        self.office_weights = list(
            accumulate(CITIES_HEAVY.get(o.postcode, 1) for o in self.offices)
        )
        self.surnames = weighted("surnames.csv")
        self.female = weighted("first_names_female.csv")
        self.male = weighted("first_names_male.csv")

    def next(self, name: str) -> int:
        value = self.counters.get(name, 0)
        self.counters[name] = value + 1
        return value

    def surname(self) -> str:
        names, weights = self.surnames
        return self.rng.choices(names, cum_weights=weights)[0]

    def first_name(self) -> str:
        names, weights = self.female if self.rng.random() < 0.5 else self.male
        return self.rng.choices(names, cum_weights=weights)[0]

    def address(self) -> dict[str, str]:
        office = self.rng.choices(self.offices, cum_weights=self.office_weights)[0]
        number = str(self.rng.randint(1, 120))
        if self.rng.random() < 0.08:
            number += self.rng.choice("abc")
        return {
            "street": self.rng.choice(self.streets),
            "house_number": number,
            "postcode": office.postcode,
            "city": office.name,
        }

    def mobile(self) -> str:
        n = self.next("mobile")
        prefix = MOBILE_PREFIXES[n % len(MOBILE_PREFIXES)]
        number = f"{spread(n // len(MOBILE_PREFIXES), 1_000_000, 13):06d}"
        if self.rng.random() < 0.1:  # as typed by a person, not yet normalised
            return f"0{prefix} {number[:3]} {number[3:]}"
        return f"+386{prefix}{number}"

    def landline(self, postcode: str) -> str:
        area = AREA_CODE[postcode[0]]
        n = self.next("landline" + area)
        first = "2345678"[n % 7] if area != "4" else "245678"[n % 6]
        rest = f"{spread(n // 7, 1_000_000, 91):06d}"
        return f"+386{area}{first}{rest}"

    def email(self, first: str, last: str, n: int) -> str:
        return f"{fold(first)}.{fold(last)}{n}@{self.rng.choice(EMAIL_DOMAINS)}"


def empty_partner() -> dict[str, str]:
    return dict.fromkeys(PARTNER_FIELDS, "")


def empty_metering_point() -> dict[str, str]:
    return dict.fromkeys(METERING_POINT_FIELDS, "")


def generate(partners: int, seed: int = 1) -> Iterator[tuple[str, dict[str, str]]]:
    """Yield ("partner" | "metering_point", row) for about `partners` partners."""
    book = Book(seed)
    made = 0
    while made < partners:
        draw = book.rng.random()
        if draw < 0.86:
            rows = list(household(book, two=draw < 0.16 and partners - made >= 2))
        elif draw < 0.93:
            rows = list(sole_trader(book))
        elif draw < 0.99:
            rows = list(company(book, "d.o.o.", contacts=min(2, partners - made - 1)))
        elif draw < 0.995:
            rows = list(company(book, "d.d.", contacts=min(2, partners - made - 1)))
        else:
            rows = list(public_body(book))
        made += sum(1 for kind, _ in rows if kind == "partner")
        yield from rows


def person(book: Book, last: str | None = None) -> dict[str, str]:
    n = book.next("partner")
    first = book.first_name()
    last = last or book.surname()
    row = empty_partner()
    row.update(
        external_id=f"P{n + 1:08d}",
        kind="person",
        first_name=first,
        last_name=last,
        tax_number=tax_number(n),
        segment="household",
        language="sl" if book.rng.random() < 0.97 else book.rng.choice(("en", "it", "hu")),
        phone=book.mobile(),
    )
    if book.rng.random() < 0.75:
        row["email"] = book.email(first, last, n)
    return row


def household(book: Book, two: bool) -> Iterator[tuple[str, dict[str, str]]]:
    """One household: one or two partners at one address, each with a metering point."""
    home = book.address()
    first = person(book)
    first.update(home)
    members = [first]
    if two:  # partners sharing the household's landline
        second = person(book, last=first["last_name"] if book.rng.random() < 0.7 else None)
        second.update(home)
        landline = book.landline(home["postcode"])
        first["phone2"] = second["phone2"] = landline
        members.append(second)
    for member in members:
        yield "partner", member

    owner = first["external_id"]
    if book.rng.random() < 0.06:  # a tenant: the landlord owns the metering point
        landlord = person(book)
        landlord.update(book.address())
        yield "partner", landlord
        owner = landlord["external_id"]
    for member in members:
        yield "metering_point", metering_point(book, home, member["external_id"], owner=owner)
    if book.rng.random() < 0.08:  # a weekend house elsewhere
        yield "metering_point", metering_point(book, book.address(), owner)


def organisation(book: Book, name: str, segment: str) -> dict[str, str]:
    n = book.next("partner")
    row = empty_partner()
    row.update(
        external_id=f"P{n + 1:08d}",
        kind="organisation",
        organisation_name=name,
        tax_number=tax_number(n),
        registration_number=registration_number(book.next("organisation")),
        segment=segment,
        email=f"info@{fold(name.split(' d.')[0])[:30]}{n}.si",
    )
    row.update(book.address())
    row["phone"] = book.landline(row["postcode"])
    return row


def sole_trader(book: Book) -> Iterator[tuple[str, dict[str, str]]]:
    name = f"{book.rng.choice(TRADES)} {book.first_name()} {book.surname()} s.p."
    row = organisation(book, name, "small_business")
    row["phone2"] = book.mobile()
    yield "partner", row
    for _ in range(book.rng.choice((1, 1, 1, 2))):
        yield "metering_point", metering_point(book, row, row["external_id"], business=True)


def company(book: Book, form: str, contacts: int) -> Iterator[tuple[str, dict[str, str]]]:
    """A d.o.o. or d.d. with its metering points and contact persons."""
    name = f"{book.rng.choice(FIRMS)} {book.surname()} {form}"
    segment = "business" if form == "d.d." or book.rng.random() < 0.4 else "small_business"
    row = organisation(book, name, segment)
    yield "partner", row
    for _ in range(max(contacts, 0)):
        contact = person(book)
        contact.update(segment=segment, contact_for=row["external_id"])
        contact["email"] = (
            f"{fold(contact['first_name'])}.{fold(contact['last_name'])}@"
            + (row["email"].split("@")[1])
        )
        yield "partner", contact

    count = book.rng.randint(3, 8) if form == "d.d." else book.rng.randint(1, 4)
    supply = f"DOB-{book.next('contract') + 1:08d}"
    product = book.rng.choice(SUPPLY_PRODUCTS)
    for i in range(count):
        place = row if i == 0 else book.address()
        mp = metering_point(book, place, row["external_id"], business=True)
        if mp["supply_contract"]:
            mp["supply_contract"] = supply  # one supply contract for all its sites
            mp["supply_product"] = product
        yield "metering_point", mp


def public_body(book: Book) -> Iterator[tuple[str, dict[str, str]]]:
    office = book.rng.choice(book.offices)
    kind = book.rng.choice(("Občina", "Osnovna šola", "Zdravstveni dom"))
    row = organisation(book, f"{kind} {office.name.split(' - ')[0]}", "public")
    yield "partner", row
    for _ in range(book.rng.randint(1, 3)):
        yield "metering_point", metering_point(book, row, row["external_id"], business=True)


def metering_point(
    book: Book,
    place: dict[str, str],
    customer: str,
    owner: str | None = None,
    business: bool = False,
) -> dict[str, str]:
    """A metering point at `place` with its meter, network and (mostly) supply contract."""
    n = book.next("metering_point")
    area, digit = DSO_AREA[place["postcode"][0]]
    k = book.next("eimm" + digit)
    if k < 1_000_000:
        eimm = f"{digit}-{spread(k, 1_000_000, 5_077):06d}"
    else:
        eimm = f"{digit}-{1_000_000 + spread(k - 1_000_000, 9_000_000, 5_077):07d}"
    serial_base = f"3830001{n:010d}"
    two_tariff = book.rng.random() < 0.8
    row = empty_metering_point()
    row.update(
        eimm=eimm,
        gsrn=serial_base + gsrn_check_digit(serial_base),
        street=place["street"],
        house_number=place["house_number"],
        postcode=place["postcode"],
        city=place["city"],
        dso_area=area,
        connection_power_kw=str(
            book.rng.choice((17, 24, 35, 43, 86)) if business else book.rng.choice((7, 11, 14, 17))
        ),
        tariff_model=("poslovni odjem" if business else "gospodinjski odjem")
        + (" VT/MT" if two_tariff else " ET"),
        status="active" if book.rng.random() < 0.98 else "inactive",
        customer=customer,
        owner=owner or customer,
        payer=customer,
        meter_serial=f"{60_000_000 + n}",
        meter_type=book.rng.choice(METER_TYPES),
        registers="VT MT" if two_tariff else "ET",
        installed_on=f"20{book.rng.randint(10, 25)}-{book.rng.randint(1, 12):02d}-01",
        network_contract=f"POD-{n + 1:08d}",
    )
    if book.rng.random() < 0.65:  # the group's supplier supplies most, not all
        row["supply_contract"] = f"DOB-{book.next('contract') + 1:08d}"
        row["supply_product"] = book.rng.choice(SUPPLY_PRODUCTS)
    return row


def write_demo_files(folder: Path, partners: int, seed: int = 1) -> tuple[Path, Path, int, int]:
    """Write partners.csv and metering_points.csv; return their paths and row counts."""
    folder.mkdir(parents=True, exist_ok=True)
    partner_path = folder / "partners.csv"
    mp_path = folder / "metering_points.csv"
    counts = {"partner": 0, "metering_point": 0}
    with (
        partner_path.open("w", encoding="utf-8", newline="") as pf,
        mp_path.open("w", encoding="utf-8", newline="") as mf,
    ):
        writers = {
            "partner": csv.writer(pf, lineterminator="\n"),
            "metering_point": csv.writer(mf, lineterminator="\n"),
        }
        writers["partner"].writerow(PARTNER_FIELDS)
        writers["metering_point"].writerow(METERING_POINT_FIELDS)
        for kind, row in generate(partners, seed):
            writers[kind].writerow(row.values())
            counts[kind] += 1
    return partner_path, mp_path, counts["partner"], counts["metering_point"]


# -- staff and routing defaults ------------------------------------------------------

WEEKDAYS = ("0", "1", "2", "3", "4")
CALENDARS = (
    (
        "office",
        "Uradne ure, pon-pet 08:00-16:00",
        {d: [["08:00", "16:00"]] for d in WEEKDAYS},
        "SI",
    ),
    (
        "info-line",
        "Info linija, pon-pet 06:00-18:00",
        {d: [["06:00", "18:00"]] for d in WEEKDAYS},
        "SI",
    ),
    ("always", "Okvare, 24/7", {str(d): [["00:00", "24:00"]] for d in range(7)}, None),
)
DAY = 8 * 60  # one business day of office hours, in minutes
SLA_POLICIES: tuple[dict[str, Any], ...] = (
    dict(
        code="calls-call-centre",
        name="Klici: 80 % v 20 s",
        channel="phone",
        answer_target_seconds=20,
        answer_target_share=Decimal("0.800"),
    ),
    dict(
        code="calls-utility",
        name="Klici: 80 % v 60 s",
        channel="phone",
        answer_target_seconds=60,
        answer_target_share=Decimal("0.800"),
    ),
    dict(
        code="written-question",
        name="Vprašanje: odziv 1 dan, odgovor 8 dni",
        ticket_kind="question",
        first_response_minutes=DAY,
        resolution_minutes=8 * DAY,
    ),
    dict(
        code="written-complaint",
        name="Reklamacija: odziv 1 dan, odgovor 8 dni",
        ticket_kind="complaint",
        first_response_minutes=DAY,
        resolution_minutes=8 * DAY,
    ),
    dict(
        code="written-request",
        name="Vloga: odziv 1 dan, odgovor 8 dni",
        ticket_kind="request",
        first_response_minutes=DAY,
        resolution_minutes=8 * DAY,
    ),
    dict(
        code="supplier-switch",
        name="Menjava dobavitelja v 21 dneh",
        ticket_kind="change",
        category="supplier_switch",
        resolution_minutes=21 * 24 * 60,
        business_hours=False,
    ),
    dict(
        code="final-bill",
        name="Končni račun v 6 tednih",
        ticket_kind="change",
        category="final_bill",
        resolution_minutes=42 * 24 * 60,
        business_hours=False,
    ),
)
WRITTEN = ["email", "web", "post", "fax"]
QUEUES = (  # code, name, legal entity, org unit, channels, calendar, SLA policy
    (
        "dso-faults",
        "Okvare in izpadi",
        "dso",
        "call_centre",
        ["phone"],
        "always",
        "calls-call-centre",
    ),
    (
        "dso-info-line",
        "Info linija SODO",
        "dso",
        "call_centre",
        ["phone"],
        "info-line",
        "calls-utility",
    ),
    (
        "dso-back-office",
        "Zaledna pisarna SODO",
        "dso",
        "back_office",
        WRITTEN,
        "office",
        "written-request",
    ),
    (
        "dso-info-office",
        "Info pisarna SODO",
        "dso",
        "info_office",
        ["visit"],
        "office",
        "written-question",
    ),
    (
        "sup-call-centre",
        "Klicni center dobavitelja",
        "supplier",
        "call_centre",
        ["phone"],
        "info-line",
        "calls-call-centre",
    ),
    (
        "sup-back-office",
        "Zaledna pisarna dobavitelja",
        "supplier",
        "back_office",
        WRITTEN,
        "office",
        "written-question",
    ),
    (
        "sup-complaints",
        "Reklamacije",
        "supplier",
        "back_office",
        WRITTEN,
        "office",
        "written-complaint",
    ),
    (
        "sup-switching",
        "Menjava dobavitelja",
        "supplier",
        "back_office",
        WRITTEN,
        "office",
        "supplier-switch",
    ),
    (
        "sup-info-office",
        "Info pisarna dobavitelja",
        "supplier",
        "info_office",
        ["visit"],
        "office",
        "written-question",
    ),
)
STAFF_PER_UNIT = {OrgUnit.INFO_OFFICE: 3, OrgUnit.BACK_OFFICE: 5, OrgUnit.CALL_CENTRE: 8}


async def seed_routing_defaults(
    store: Store, seed: int = 1, password_hash: str | None = None
) -> dict[str, int]:
    """Create the calendars, SLA policies, queues and staff that are missing.

    With `password_hash`, the staff added can sign in with that password (the demo's
    sign-ins); without it they cannot sign in until someone sets one.
    """
    book = Book(seed)
    added = {"calendars": 0, "sla_policies": 0, "queues": 0, "employees": 0}
    async with store.sessions() as session, session.begin():
        calendars = {c.code: c for c in (await session.scalars(select(Calendar))).all()}
        for code, name, hours, country in CALENDARS:
            if code not in calendars:
                calendars[code] = Calendar(
                    code=code, name=name, hours=hours, holiday_country=country
                )
                session.add(calendars[code])
                added["calendars"] += 1
        policies = {p.code: p for p in (await session.scalars(select(SlaPolicy))).all()}
        for spec in SLA_POLICIES:
            if spec["code"] not in policies:
                policies[spec["code"]] = SlaPolicy(**spec)
                session.add(policies[spec["code"]])
                added["sla_policies"] += 1
        await session.flush()

        queues = set((await session.scalars(select(Queue.code))).all())
        for code, name, entity, unit, channels, calendar, policy in QUEUES:
            if code not in queues:
                session.add(
                    Queue(
                        code=code,
                        name=name,
                        legal_entity=entity,
                        org_unit=unit,
                        channels=channels,
                        calendar_id=calendars[calendar].id,
                        sla_policy_id=policies[policy].id,
                    )
                )
                added["queues"] += 1
        added["employees"] = await add_staff(session, book, password_hash)
    log.info("demo.routing_defaults", **added)
    return added


#: What each unit's demo agents take at once, in routing's terms (see
#: routing.assignment.capacity_limits): the info office's walk-ins are live contacts
#: like calls, besides its written work.
STAFF_CAPACITY = {
    OrgUnit.INFO_OFFICE: {"phone": 1, "written": 4},
    OrgUnit.BACK_OFFICE: {"written": 5},
    OrgUnit.CALL_CENTRE: {"phone": 1},
}


async def add_staff(session: Any, book: Book, password_hash: str | None = None) -> int:
    logins = set((await session.scalars(select(Employee.login))).all())
    added = 0
    for entity in ("dso", "supplier"):
        for unit, count in STAFF_PER_UNIT.items():
            for i in range(count):
                first, last = book.first_name(), book.surname()
                login = f"{entity}.{unit.value.split('_')[0]}{i + 1}"
                if login in logins:
                    continue
                role = "supervisor" if i == 0 else "agent"
                session.add(
                    Employee(
                        login=login,
                        full_name=f"{first} {last}",
                        email=f"{fold(first)}.{fold(last)}@{entity}.example.si",
                        org_unit=unit.value,
                        legal_entity=entity,
                        role=role,
                        skills={unit.value: 3, "sl": 5},
                        languages=["sl", "en"] if i % 2 == 0 else ["sl"],
                        capacity=dict(STAFF_CAPACITY[unit]),
                        password_hash=password_hash,
                    )
                )
                added += 1
    return added


async def count_staff(store: Store) -> int:
    async with store.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Employee)) or 0)


async def has_partners(store: Store) -> bool:
    async with store.sessions() as session:
        return bool(await session.scalar(select(func.count()).select_from(Partner).limit(1)))


async def load_demo_data(
    store: Store,
    folder: Path,
    partners: int,
    seed: int = 1,
    progress: bool = False,
    password_hash: str | None = None,
) -> tuple[ImportReport, ImportReport]:
    """Generate the demo book into `folder`, import it, and seed the routing defaults.

    `password_hash` is the demo staff's password, for the staff this call adds.
    """
    partner_file, mp_file, _, _ = write_demo_files(folder, partners, seed)
    partner_report = await import_file(store, PARTNERS, partner_file, progress=progress)
    mp_report = await import_file(store, METERING_POINTS, mp_file, progress=progress)
    await seed_routing_defaults(store, seed, password_hash)
    return partner_report, mp_report

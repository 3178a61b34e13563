"""Finding customers as the agent types: by identifier when the text is one, else by name.

A ticket number, tax number, metering point (EIMM or GSRN), phone or email is looked up
exactly; anything else is matched against names, addresses and metering point
addresses. Tickets are only found within the user's legal entity.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_ui.users import User
from interactions import identifiers
from interactions.identifiers import InvalidIdentifier
from interactions.models import (
    ContactKind,
    ContactPoint,
    MeteringPoint,
    Partner,
    PartnerRole,
    Ticket,
)

MIN_LENGTH = 2
MAX_QUERY = 200
LIMIT = 10


@dataclass
class PartnerHit:
    partner: Partner
    why: str
    metering_points: list[str] = field(default_factory=list)


@dataclass
class SearchResult:
    query: str
    found_by: str = "name"
    partners: list[PartnerHit] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)


async def search(db: AsyncSession, user: User, query: str) -> SearchResult:
    """Return up to ten partners and tickets for what the agent typed."""
    text = " ".join(query.split())[:MAX_QUERY]
    result = SearchResult(text)
    if len(text) < MIN_LENGTH:
        return result

    keys = identifier_keys(text)
    if not keys:
        result.partners = await _by_words(db, text)
    for kind, value in keys:
        tickets, partners = await _by_identifier(db, user, kind, value)
        if tickets or partners:
            result.found_by = kind
            result.tickets += tickets
            result.partners += [p for p in partners if p.partner not in _seen(result)]
    await _add_metering_points(db, result.partners)
    return result


def _seen(result: SearchResult) -> list[Partner]:
    return [hit.partner for hit in result.partners]


async def _by_identifier(
    db: AsyncSession, user: User, kind: str, value: str
) -> tuple[list[Ticket], list[PartnerHit]]:
    if kind == "ticket":
        ticket = await db.scalar(
            select(Ticket).where(Ticket.number == value, Ticket.legal_entity == user.legal_entity)
        )
        if ticket is None:
            return [], []
        found = await db.get(Partner, ticket.partner_id) if ticket.partner_id else None
        return [ticket], [PartnerHit(found, kind)] if found else []
    if kind == "metering_point":
        column = MeteringPoint.gsrn if len(value) == 18 else MeteringPoint.eimm
        ids = select(PartnerRole.partner_id).join(MeteringPoint).where(column == value)
        return [], await _partners(db, Partner.id.in_(ids), kind)
    if kind == "tax_number":
        return [], await _partners(db, Partner.tax_number == value, kind)
    kinds = [ContactKind.EMAIL] if kind == "email" else [ContactKind.PHONE, ContactKind.FAX]
    ids = select(ContactPoint.partner_id).where(
        ContactPoint.kind.in_(kinds), ContactPoint.value == value
    )
    return [], await _partners(db, Partner.id.in_(ids), kind)


def classify(text: str) -> tuple[str, str]:
    """Tell which identifier `text` is, with its normalised value, or ("name", text)."""
    keys = identifier_keys(text)
    return keys[0] if keys else ("name", text)


def identifier_keys(text: str) -> list[tuple[str, str]]:
    """Every identifier `text` could be (8 digits are a tax number and a metering point)."""
    compact = re.sub(r"[\s.\-/()]", "", text)
    checks = (
        ("ticket", lambda: _ticket(text)),
        ("email", lambda: identifiers.normalize_email(text) if "@" in text else _no()),
        ("metering_point", lambda: identifiers.normalize_metering_point(text)),
        ("metering_point", lambda: identifiers.normalize_gsrn(text)),
        ("tax_number", lambda: identifiers.normalize_tax_number(compact)),
        ("phone", lambda: _phone(text, compact)),
    )
    keys = []
    for kind, check in checks:
        try:
            keys.append((kind, check()))
        except InvalidIdentifier:
            continue
    return keys


def _ticket(text: str) -> str:
    year, sequence = identifiers.parse_ticket_number(text)
    return identifiers.format_ticket_number(year, sequence)


def _phone(text: str, compact: str) -> str:
    if not re.fullmatch(r"\+?\d{6,15}", compact):
        _no()
    return identifiers.normalize_phone(text)


def _no() -> str:
    raise InvalidIdentifier("search", "", "not this kind")


async def _partners(db: AsyncSession, condition: object, why: str) -> list[PartnerHit]:
    rows = await db.scalars(
        select(Partner)
        .where(condition, Partner.merged_into_id.is_(None))  # type: ignore[arg-type]
        .order_by(Partner.id)
        .limit(LIMIT)
    )
    return [PartnerHit(p, why) for p in rows]


async def _by_words(db: AsyncSession, text: str) -> list[PartnerHit]:
    """Partners whose name or address holds every word typed."""
    # TODO(#9): the matcher's search (trigram / fuzzy index) replaces this scan at scale.
    words = text.split()[:4]
    name = _joined(Partner.first_name, Partner.last_name, Partner.organisation_name)
    address = func.lower(func.coalesce(ContactPoint.value, ""))
    site = _joined(MeteringPoint.street, MeteringPoint.house_number, MeteringPoint.city)
    address_ids = select(ContactPoint.partner_id).where(
        ContactPoint.kind == ContactKind.ADDRESS, *[_holds(address, w) for w in words]
    )
    site_ids = (
        select(PartnerRole.partner_id).join(MeteringPoint).where(*[_holds(site, w) for w in words])
    )

    hits = await _partners(db, and_(*[_holds(name, w) for w in words]), "name")
    seen = {h.partner.id for h in hits}
    if len(hits) < LIMIT:
        for hit in await _partners(
            db, or_(Partner.id.in_(address_ids), Partner.id.in_(site_ids)), "address"
        ):
            if hit.partner.id not in seen:
                hits.append(hit)
    return hits[:LIMIT]


def _joined(*columns: Any) -> Any:
    joined = func.coalesce(columns[0], "")
    for column in columns[1:]:
        joined = joined + " " + func.coalesce(column, "")
    return func.lower(joined)


def _holds(haystack: Any, word: str) -> Any:
    """`haystack` (lower-cased) holds `word`, whatever its case.

    SQLite's lower() folds ASCII only, so "Šmartinska" stays capitalised there: the
    word is also tried with a capital first letter.
    """
    variants = {word.lower(), word[:1].upper() + word[1:].lower()}
    return or_(*[haystack.contains(v, autoescape=True) for v in sorted(variants)])


async def _add_metering_points(db: AsyncSession, hits: list[PartnerHit]) -> None:
    if not hits:
        return
    rows = await db.execute(
        select(PartnerRole.partner_id, MeteringPoint.eimm)
        .join(MeteringPoint)
        .where(PartnerRole.partner_id.in_([h.partner.id for h in hits]))
        .distinct()
    )
    by_partner: dict[int, list[str]] = {}
    for partner_id, eimm in rows:
        by_partner.setdefault(partner_id, []).append(eimm)
    for hit in hits:
        hit.metering_points = sorted(by_partner.get(hit.partner.id, []))

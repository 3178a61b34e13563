"""Partners at the door: creation with duplicate prevention, duplicate listing, merging."""

import json
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import structlog
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from interactions.match_index import candidate_records, refresh_partners
from interactions.matching import (
    DEFAULTS,
    MatchSettings,
    Query,
    Scored,
    make_query,
    probability,
    query_from_record,
    score_record,
)
from interactions.models import (
    Activity,
    AuditEntry,
    ContactKind,
    ContactPoint,
    Contract,
    Offer,
    Opportunity,
    Partner,
    PartnerKind,
    PartnerRole,
    Ticket,
)
from interactions.normalize import email_parts, parse_address, phone_key
from interactions.resolution import Candidate

log = structlog.get_logger(__name__)


class LikelyDuplicate(Exception):
    """A new partner looks like one already stored; confirm to create it anyway."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        super().__init__(f"likely duplicate of partner(s) {[c.partner_id for c in candidates]}")
        self.candidates = tuple(candidates)


@dataclass(frozen=True)
class NewPartner:
    """What is known about a partner about to be created."""

    first_name: str | None = None
    last_name: str | None = None
    organisation_name: str | None = None
    kind: PartnerKind = PartnerKind.PERSON
    external_id: str | None = None
    tax_number: str | None = None
    emso: str | None = None
    birth_date: date | None = None
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def query(self) -> Query:
        name = self.organisation_name or " ".join(p for p in (self.first_name, self.last_name) if p)
        base = make_query(
            name=name,
            address=self.addresses[0] if self.addresses else None,
            birth_date=self.birth_date.strftime("%Y%m%d") if self.birth_date else None,
            national_id=self.emso,
            text=" ".join(p for p in (self.tax_number,) if p),
        )
        phones = tuple(p for p in (phone_key(v) for v in self.phones) if p)
        emails = tuple(e[1] for e in (email_parts(v) for v in self.emails) if e)
        return Query(
            phones=phones,
            emails=emails,
            name=base.name,
            name_display=base.name_display,
            address=base.address,
            birth_date=base.birth_date,
            national_id=base.national_id,
            identifiers=base.identifiers,
        )


async def likely_duplicates(
    session: AsyncSession, new: NewPartner, settings: MatchSettings = DEFAULTS
) -> tuple[Candidate, ...]:
    """Return the stored partners that `new` is likely to be (for creation and import)."""
    query = new.query()
    if not query:
        return ()
    likely = _likely(query, await candidate_records(session, query), settings)
    return tuple(
        Candidate(
            partner_id=s.partner_id,
            score=s.score,
            reasons=tuple(s.reasons),
            external_id=s.external_id,
            metering_point_id=s.metering_point_id,
            metering_point=s.metering_point,
        )
        for s in likely
    )


def _likely(
    query: Query,
    records: Iterable[dict[str, Any]],
    settings: MatchSettings,
    other_than: int | None = None,
) -> list[Scored]:
    """Score `records` against `query`; keep those above auto-link with corroboration."""
    likely = []
    for record in records:
        if record["id"] == other_than:
            continue
        scored = score_record(query, record)
        scored.score = probability(scored.bits, settings)
        corroborated = scored.strong or len(scored.kinds) >= 2
        # Two people sharing a landline and an address differ in their first names.
        household = scored.name_conflict and not scored.identity
        if scored.score >= settings.auto_link and corroborated and not household:
            likely.append(scored)
    return sorted(likely, key=lambda s: -s.bits)


async def create_partner(
    session: AsyncSession,
    new: NewPartner,
    *,
    confirm: bool = False,
    settings: MatchSettings = DEFAULTS,
) -> Partner:
    """Create a partner with its contact points, refusing a likely duplicate unless confirmed."""
    if not confirm:
        likely = await likely_duplicates(session, new, settings)
        if likely:
            raise LikelyDuplicate(likely)

    partner = Partner(
        kind=new.kind,
        first_name=new.first_name,
        last_name=new.last_name,
        organisation_name=new.organisation_name,
        external_id=new.external_id,
        tax_number=new.tax_number,
        emso=new.emso,
        birth_date=new.birth_date,
    )
    for number in new.phones:
        value = phone_key(number) or number.strip()
        partner.contact_points.append(
            ContactPoint(kind=ContactKind.PHONE, value=value, display=number)
        )
    for address in new.emails:
        parts = email_parts(address)
        value = parts[1] if parts else address.strip().lower()
        partner.contact_points.append(
            ContactPoint(kind=ContactKind.EMAIL, value=value, display=address)
        )
    for line in new.addresses:
        place = parse_address(line)
        partner.contact_points.append(
            ContactPoint(
                kind=ContactKind.ADDRESS,
                value=place.display()[:400] or line.strip()[:400],
                display=line.strip()[:400],
            )
        )
    session.add(partner)
    await session.flush()
    session.add(
        AuditEntry(
            actor=new.extra.get("actor", "system"),
            action="create",
            entity="partner",
            entity_id=str(partner.id),
            partner_id=partner.id,
            details={"confirmed_duplicate": confirm},
        )
    )
    return partner


@dataclass(frozen=True)
class DuplicatePair:
    """Two partners that are likely one, with the evidence."""

    first_id: int
    second_id: int
    score: float
    reasons: tuple[str, ...]
    first_external_id: str | None = None
    second_external_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "partner_ids": [self.first_id, self.second_id],
            "external_ids": [self.first_external_id, self.second_external_id],
            "score": round(self.score, 4),
            "reasons": list(self.reasons),
        }


async def find_duplicates(
    session: AsyncSession, settings: MatchSettings = DEFAULTS, batch: int = 1000
) -> AsyncIterator[DuplicatePair]:
    """Yield pairs of stored partners that resolve to each other, each pair once.

    Every partner is resolved as if it were a contact, through the same index; a pair
    is reported when the other partner scores at the auto-link threshold with
    corroborated evidence, whatever other duplicates there are.
    """
    # TODO(#3): one lookup per partner, one after another: about an hour at 1M partners;
    # run batches concurrently on PostgreSQL when the data gets that large.
    seen: set[tuple[int, int]] = set()
    last = 0
    while True:
        rows = (
            await session.execute(
                text(
                    "SELECT partner_id, record FROM match_record WHERE partner_id > :last"
                    " ORDER BY partner_id LIMIT :batch"
                ),
                {"last": last, "batch": batch},
            )
        ).all()
        if not rows:
            return
        last = rows[-1][0]
        for _partner_id, raw in rows:
            record = json.loads(raw)
            for pair in await _duplicates_of(session, record, settings):
                key = (pair.first_id, pair.second_id)
                if key not in seen:
                    seen.add(key)
                    yield pair


async def _duplicates_of(
    session: AsyncSession, record: dict[str, Any], settings: MatchSettings
) -> list[DuplicatePair]:
    query = query_from_record(record)
    others = {r["id"]: r for r in await candidate_records(session, query)}
    pairs = []
    for scored in _likely(query, others.values(), settings, other_than=record["id"]):
        low, high = sorted((record, others[scored.partner_id]), key=lambda r: r["id"])
        pairs.append(
            DuplicatePair(
                low["id"],
                high["id"],
                scored.score,
                tuple(scored.reasons),
                low.get("x"),
                high.get("x"),
            )
        )
    return pairs


async def merge_partners(
    session: AsyncSession, keep_id: int, drop_id: int, actor: str = "system"
) -> dict[str, int]:
    """Merge partner `drop_id` into `keep_id`: its roles, contact points, activities, tickets.

    The merged partner stays as a record pointing at the kept one (`merged_into_id`),
    leaves the match index, and an audit entry says what moved.
    """
    if keep_id == drop_id:
        raise ValueError("a partner cannot be merged into itself")
    keep = await session.get(Partner, keep_id, with_for_update=True)
    drop = await session.get(Partner, drop_id, with_for_update=True)
    if keep is None or drop is None:
        raise LookupError(f"partner {keep_id if keep is None else drop_id} not found")
    if drop.merged_into_id is not None or keep.merged_into_id is not None:
        raise ValueError("one of the partners has already been merged")

    held = set(
        (
            await session.execute(
                select(ContactPoint.kind, ContactPoint.value).where(
                    ContactPoint.partner_id == keep_id
                )
            )
        ).all()
    )
    moved: dict[str, int] = {"contact_points": 0}
    points = (
        await session.scalars(select(ContactPoint).where(ContactPoint.partner_id == drop_id))
    ).all()
    for point in points:
        if (point.kind, point.value) in held:
            await session.delete(point)
        else:
            point.partner_id = keep_id
            moved["contact_points"] += 1
    await session.flush()

    for name, column in (
        ("roles", PartnerRole.partner_id),
        ("represented", PartnerRole.for_partner_id),
        ("activities", Activity.partner_id),
        ("tickets", Ticket.partner_id),
        ("contracts", Contract.partner_id),
        ("offers", Offer.partner_id),
        ("opportunities", Opportunity.partner_id),
    ):
        result = await session.execute(
            update(column.class_).where(column == drop_id).values({column.key: keep_id})
        )
        moved[name] = result.rowcount or 0

    for field_name in ("tax_number", "emso", "birth_date", "external_id", "first_name"):
        if getattr(keep, field_name) is None and getattr(drop, field_name) is not None:
            value = getattr(drop, field_name)
            if field_name in ("tax_number", "external_id"):
                setattr(drop, field_name, None)
                await session.flush()
            setattr(keep, field_name, value)
    drop.merged_into_id = keep_id
    session.add(
        AuditEntry(
            actor=actor,
            action="merge",
            entity="partner",
            entity_id=str(drop_id),
            partner_id=keep_id,
            details={"merged_into": keep_id, "moved": moved},
        )
    )
    await session.flush()
    await refresh_partners(session, [keep_id, drop_id])
    log.info("partners_merged", keep=keep_id, drop=drop_id, **moved)
    return moved


async def count_partners(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Partner)) or 0)

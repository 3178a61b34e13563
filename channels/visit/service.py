"""Walk-in visits at the info office: find the partner, record the visit as an activity.

TODO(#7): `find_partners` is a plain lookup by exact keys and name prefix; use the
matcher's search (issue 3) when it is merged.
"""

import uuid
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update

from interactions.contacts import InboundContact, RecordedContact, record_contact
from interactions.identifiers import (
    InvalidIdentifier,
    normalize_email,
    normalize_metering_point,
    normalize_phone,
    normalize_tax_number,
)
from interactions.models import (
    Activity,
    Channel,
    ContactPoint,
    MeteringPoint,
    Partner,
    PartnerRole,
)
from interactions.store import Store
from interactions.types import utcnow

MAX_RESULTS = 20


@dataclass(frozen=True)
class Found:
    """One partner a search found, with what the agent needs to tell them apart."""

    partner_id: int
    name: str
    metering_points: tuple[str, ...]


def _try(check: object, value: str) -> str | None:
    try:
        return check(value)  # type: ignore[operator,no-any-return]
    except InvalidIdentifier:
        return None


async def find_partners(store: Store, query: str) -> list[Found]:
    """Partners by tax number, metering point, email, phone, or the start of a name."""
    text = " ".join(query.split())[:100]
    if len(text) < 2:
        return []
    conditions = []
    if tax := _try(normalize_tax_number, text):
        conditions.append(Partner.tax_number == tax)
    if point := _try(normalize_metering_point, text):
        conditions.append(
            Partner.id.in_(
                select(PartnerRole.partner_id)
                .join(MeteringPoint, MeteringPoint.id == PartnerRole.metering_point_id)
                .where(MeteringPoint.eimm == point)
            )
        )
    keys = [k for k in (_try(normalize_email, text), _try(normalize_phone, text)) if k]
    if keys:
        conditions.append(
            Partner.id.in_(select(ContactPoint.partner_id).where(ContactPoint.value.in_(keys)))
        )
    pattern = text.lower().replace("%", "").replace("_", "") + "%"
    full_name = func.lower(
        func.coalesce(Partner.first_name, "") + " " + func.coalesce(Partner.last_name, "")
    )
    conditions += [
        func.lower(Partner.last_name).like(pattern),
        func.lower(Partner.organisation_name).like(pattern),
        full_name.like(pattern),
    ]
    async with store.sessions() as session:
        partners = (
            await session.scalars(
                select(Partner)
                .where(or_(*conditions), Partner.merged_into_id.is_(None))
                .order_by(Partner.last_name, Partner.first_name, Partner.id)
                .limit(MAX_RESULTS)
            )
        ).all()
        ids = [p.id for p in partners]
        rows = (
            await session.execute(
                select(PartnerRole.partner_id, MeteringPoint.eimm)
                .join(MeteringPoint, MeteringPoint.id == PartnerRole.metering_point_id)
                .where(PartnerRole.partner_id.in_(ids))
                .distinct()
            )
        ).all()
    points: dict[int, list[str]] = {}
    for partner_id, eimm in rows:
        points.setdefault(partner_id, []).append(eimm)
    return [Found(p.id, p.display_name, tuple(sorted(points.get(p.id, [])))) for p in partners]


async def register_visit(
    store: Store,
    partner_id: int,
    subject: str,
    note: str,
    agent: str | None = None,
    *,
    employee_id: int | None = None,
    legal_entity: str | None = None,
) -> RecordedContact:
    """Record a walk-in visit of `partner_id`, the partner the agent confirmed.

    `employee_id` is the agent at the desk, and the visit belongs to their legal entity.
    """
    contact = InboundContact(
        channel=Channel.VISIT,
        external_id=f"visit:{uuid.uuid4()}",
        occurred_at=utcnow(),
        subject=subject[:1000],
        text=note or None,
        legal_entity=legal_entity,
        meta={"registered_by": agent, "confirmed_partner_id": partner_id},
    )
    recorded = await record_contact(store, contact)
    async with store.sessions() as session, session.begin():
        await session.execute(
            update(Activity)
            .where(Activity.id == recorded.activity_id)
            .values(
                partner_id=partner_id,
                employee_id=employee_id,
                match_outcome="matched",
                match_score=1.0,
                match_reasons=["confirmed by the agent at the desk"],
            )
        )
    return recorded

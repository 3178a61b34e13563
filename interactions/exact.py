"""Resolution by exact, normalised contact point: the phone number or email address.

The fuzzy matcher replaces this as the store's resolver; this one is what Stik does
with no matcher configured, and the fast path the matcher itself starts from.
"""

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from interactions.contacts import InboundContact
from interactions.identifiers import InvalidIdentifier, normalize_email, normalize_phone
from interactions.models import Channel, ContactKind, ContactPoint, PartnerRole
from interactions.resolution import UNKNOWN, Candidate, Outcome, Resolution


def contact_key(contact: InboundContact) -> tuple[ContactKind, str] | None:
    """Return the (kind, normalised value) under which the sender would be stored."""
    address = (contact.sender_address or "").strip()
    if not address:
        return None
    try:
        if contact.channel is Channel.EMAIL or "@" in address:
            return ContactKind.EMAIL, normalize_email(address)
        kind = ContactKind.FAX if contact.channel is Channel.FAX else ContactKind.PHONE
        return kind, normalize_phone(address)
    except InvalidIdentifier:
        return None


async def resolve_exact(session: AsyncSession, contact: InboundContact) -> Resolution:
    key = contact_key(contact)
    if key is None:
        return UNKNOWN
    kind, value = key
    kinds = [ContactKind.PHONE, ContactKind.FAX] if kind is not ContactKind.EMAIL else [kind]
    partner_ids = (
        await session.scalars(
            select(ContactPoint.partner_id)
            .where(ContactPoint.kind.in_(kinds), ContactPoint.value == value)
            .distinct()
            .order_by(ContactPoint.partner_id)
        )
    ).all()
    if not partner_ids:
        return UNKNOWN

    metering = await sole_metering_points(session, list(partner_ids))
    reason = f"{kind.value} {value} is on the partner's record"
    candidates = tuple(
        Candidate(partner_id=pid, score=1.0, reasons=(reason,), metering_point_id=metering.get(pid))
        for pid in partner_ids
    )
    outcome = Outcome.MATCHED if len(candidates) == 1 else Outcome.AMBIGUOUS
    return Resolution(outcome, candidates)


async def sole_metering_points(session: AsyncSession, partner_ids: list[int]) -> dict[int, int]:
    """Return, for each partner with exactly one metering point in a current role, that one."""
    rows = (
        await session.execute(
            select(PartnerRole.partner_id, PartnerRole.metering_point_id)
            .where(
                PartnerRole.partner_id.in_(partner_ids),
                PartnerRole.metering_point_id.is_not(None),
                or_(PartnerRole.valid_to.is_(None), PartnerRole.valid_to >= date.today()),
            )
            .distinct()
        )
    ).all()
    seen: dict[int, set[int]] = {}
    for partner_id, mp_id in rows:
        seen.setdefault(partner_id, set()).add(mp_id)
    return {pid: next(iter(mps)) for pid, mps in seen.items() if len(mps) == 1}

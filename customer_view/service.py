"""The single view of one partner, assembled for one viewer's legal entity.

Master data (identity, roles, contact points, metering points) is shared between the
DSO and the supplier; work (tickets, activities, documents) and commercial data are
shown only to the entity that owns them: offers, prices and opportunities to the
supplier alone, and a metering point's meter data to the supplier only where it
supplies that point. The result is plain JSON-ready data; pages and the API render it.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from customer_view.postgres import fetch_view
from interactions.models import (
    Activity,
    ContactPoint,
    Contract,
    Document,
    LegalEntity,
    MeterDevice,
    MeteringPoint,
    Offer,
    Opportunity,
    Partner,
    PartnerRole,
    Ticket,
    TicketStatus,
    contract_metering_point,
)
from interactions.types import UtcDateTime, utcnow

TIMELINE_PAGE = 50
RECENT_TICKETS = 10
DOCUMENTS = 20
EXCERPT = 240
OPEN = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING_CUSTOMER)
#: Which contract kinds each kind of legal entity sees.
CONTRACT_KINDS = {"dso": ("connection", "network_access"), "supplier": ("supply",)}


@dataclass(frozen=True)
class Viewer:
    """Whose eyes: a legal entity (its code and kind, dso or supplier)."""

    legal_entity: str
    entity_kind: str


async def viewer_for(db: AsyncSession, legal_entity: str) -> Viewer:
    entity = await db.get_one(LegalEntity, legal_entity)
    return Viewer(entity.code, entity.kind)


Cursor = tuple[datetime, int]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_cursor(value: str | None) -> Cursor | None:
    """Read a timeline cursor (`<microseconds since 1970>-<activity id>`); None if bad."""
    micros, _, activity_id = (value or "").partition("-")
    if not (micros.isdigit() and activity_id.isdigit()) or len(value or "") > 40:
        return None
    return _EPOCH + timedelta(microseconds=int(micros)), int(activity_id)


def _cursor(occurred_at: str, activity_id: int) -> str:
    micros = (datetime.fromisoformat(occurred_at) - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}-{activity_id}"


async def assemble_view(
    db: AsyncSession, partner_id: int, viewer: Viewer, *, before: Cursor | None = None
) -> dict[str, Any] | None:
    """Return the partner's single view as `viewer` may see it, or None if there is none.

    `before` pages the timeline: the contacts older than that cursor. On PostgreSQL the
    database assembles the document in one statement; elsewhere it is built here.
    """
    if db.bind.dialect.name == "postgresql":
        raw = await fetch_view(
            db,
            partner_id,
            entity=viewer.legal_entity,
            kind=viewer.entity_kind,
            kinds=CONTRACT_KINDS.get(viewer.entity_kind, ()),
            before=before,
            page=TIMELINE_PAGE,
            recent=RECENT_TICKETS,
            documents=DOCUMENTS,
            excerpt=EXCERPT,
        )
    else:
        raw = await assemble_portable(db, partner_id, viewer, before=before)
    return None if raw is None else _finish(raw, viewer)


async def assemble_portable(
    db: AsyncSession, partner_id: int, viewer: Viewer, *, before: Cursor | None = None
) -> dict[str, Any] | None:
    """Build the view with one query per part; works on every database."""
    partner = await db.get(Partner, partner_id)
    if partner is None:
        return None

    roles = await _roles(db, partner_id)
    point_ids = sorted({r["metering_point"]["id"] for r in roles if r["metering_point"]})
    supplier = viewer.entity_kind == "supplier"
    return {
        "partner": _partner(partner),
        "roles": roles,
        "acting_for_this_partner": await _acting_for(db, partner_id),
        "contact_points": await _contact_points(db, partner_id),
        "metering_points": await _metering_points(db, point_ids, viewer),
        "contracts": await _contracts(db, partner_id, viewer),
        "offers": await _offers(db, partner_id, viewer) if supplier else [],
        "opportunities": await _opportunities(db, partner_id, viewer) if supplier else [],
        "tickets": await _tickets(db, partner_id, viewer),
        "timeline": await _timeline(db, partner_id, viewer, before),
        "documents": await _documents(db, partner_id, viewer),
    }


def _finish(raw: dict[str, Any], viewer: Viewer) -> dict[str, Any]:
    """Add what depends on the clock and the page: SLA states and the next page's cursor."""
    now = utcnow()
    for group in ("open", "recent"):
        for ticket in raw["tickets"][group]:
            due = datetime.fromisoformat(ticket["due"]) if ticket["due"] else None
            done = ticket["status"] not in OPEN
            ticket["sla_state"] = "done" if done else _sla_state(due, now, ticket["breaches"])
    items = raw["timeline"]["items"]
    last = items[-1] if len(items) == TIMELINE_PAGE else None
    raw["timeline"]["next_before"] = _cursor(last["occurred_at"], last["id"]) if last else None
    raw["viewer"] = {"legal_entity": viewer.legal_entity, "kind": viewer.entity_kind}
    return raw


def _partner(p: Partner) -> dict[str, Any]:
    return {
        "id": p.id,
        "external_id": p.external_id,
        "kind": p.kind,
        "display_name": p.display_name,
        "first_name": p.first_name,
        "last_name": p.last_name,
        "organisation_name": p.organisation_name,
        "tax_number": p.tax_number,
        "registration_number": p.registration_number,
        "segment": p.segment,
        "language": p.language,
        "merged_into_id": p.merged_into_id,
    }


async def _roles(db: AsyncSession, partner_id: int) -> list[dict[str, Any]]:
    other = Partner.__table__.alias("other")
    rows = await db.execute(
        select(
            PartnerRole.role,
            PartnerRole.valid_from,
            PartnerRole.valid_to,
            MeteringPoint.id.label("mp_id"),
            MeteringPoint.eimm,
            Contract.number.label("contract"),
            other.c.id.label("for_id"),
            func.coalesce(
                other.c.organisation_name,
                func.coalesce(other.c.first_name, "") + " " + func.coalesce(other.c.last_name, ""),
            ).label("for_name"),
        )
        .select_from(PartnerRole)
        .outerjoin(MeteringPoint, MeteringPoint.id == PartnerRole.metering_point_id)
        .outerjoin(Contract, Contract.id == PartnerRole.contract_id)
        .outerjoin(other, other.c.id == PartnerRole.for_partner_id)
        .where(PartnerRole.partner_id == partner_id)
        .order_by(PartnerRole.role, PartnerRole.id)
    )
    return [
        {
            "role": r.role,
            "metering_point": {"id": r.mp_id, "eimm": r.eimm} if r.mp_id else None,
            "contract": r.contract,
            "for_partner": {"id": r.for_id, "name": r.for_name.strip()} if r.for_id else None,
            "valid_from": _iso(r.valid_from),
            "valid_to": _iso(r.valid_to),
            "current": r.valid_to is None or r.valid_to >= date.today(),
        }
        for r in rows
    ]


async def _acting_for(db: AsyncSession, partner_id: int) -> list[dict[str, Any]]:
    rows = await db.execute(
        select(
            PartnerRole.role,
            Partner.id,
            Partner.first_name,
            Partner.last_name,
            Partner.organisation_name,
        )
        .join(Partner, Partner.id == PartnerRole.partner_id)
        .where(PartnerRole.for_partner_id == partner_id)
        .order_by(PartnerRole.id)
    )
    return [
        {
            "role": r.role,
            "partner": {
                "id": r.id,
                "name": r.organisation_name or f"{r.first_name or ''} {r.last_name or ''}".strip(),
            },
        }
        for r in rows
    ]


async def _contact_points(db: AsyncSession, partner_id: int) -> list[dict[str, Any]]:
    rows = await db.scalars(
        select(ContactPoint)
        .where(ContactPoint.partner_id == partner_id)
        .order_by(ContactPoint.kind, ContactPoint.is_primary.desc(), ContactPoint.id)
    )
    return [
        {
            "kind": c.kind,
            "value": c.value,
            "display": c.display,
            "is_primary": c.is_primary,
            "valid_to": _iso(c.valid_to),
        }
        for c in rows
    ]


async def _metering_points(
    db: AsyncSession, point_ids: list[int], viewer: Viewer
) -> list[dict[str, Any]]:
    if not point_ids:
        return []
    points = list(
        await db.scalars(
            select(MeteringPoint)
            .where(MeteringPoint.id.in_(point_ids))
            .order_by(MeteringPoint.eimm)
        )
    )
    links = (
        await db.execute(
            select(
                contract_metering_point.c.metering_point_id,
                Contract.number,
                Contract.kind,
                Contract.status,
                Contract.legal_entity,
                LegalEntity.name.label("entity_name"),
                LegalEntity.kind.label("entity_kind"),
            )
            .join(Contract, Contract.id == contract_metering_point.c.contract_id)
            .join(LegalEntity, LegalEntity.code == Contract.legal_entity)
            .where(contract_metering_point.c.metering_point_id.in_(point_ids))
            .order_by(Contract.number)
        )
    ).all()
    supplied_by_viewer = {
        link.metering_point_id
        for link in links
        if link.kind == "supply"
        and link.legal_entity == viewer.legal_entity
        and link.status == "active"
    }
    devices: dict[int, list[MeterDevice]] = {}
    for device in await db.scalars(
        select(MeterDevice)
        .where(MeterDevice.metering_point_id.in_(point_ids))
        .order_by(MeterDevice.id)
    ):
        devices.setdefault(device.metering_point_id, []).append(device)

    result = []
    for mp in points:
        grid_visible = viewer.entity_kind == "dso" or mp.id in supplied_by_viewer
        mine = [link for link in links if link.metering_point_id == mp.id]
        supplier = next(
            (
                link.entity_name
                for link in mine
                if link.kind == "supply" and link.status == "active"
            ),
            None,
        )
        result.append(
            {
                "id": mp.id,
                "eimm": mp.eimm,
                "gsrn": mp.gsrn,
                "address": _address(mp.street, mp.house_number, mp.postcode, mp.city),
                "dso_area": mp.dso_area,
                "status": mp.status,
                "tariff_model": mp.tariff_model,
                "supplier": supplier,
                "contracts": sorted(
                    link.number
                    for link in mine
                    if link.kind in CONTRACT_KINDS.get(viewer.entity_kind, ())
                ),
                "grid_data_visible": grid_visible,
                "connection_power_kw": _num(mp.connection_power_kw) if grid_visible else None,
                "meters": [_device(d) for d in devices.get(mp.id, [])] if grid_visible else [],
            }
        )
    return result


def _device(d: MeterDevice) -> dict[str, Any]:
    return {
        "serial": d.serial,
        "type": d.type,
        "registers": d.registers,
        "installed_on": _iso(d.installed_on),
        "removed_on": _iso(d.removed_on),
        "last_reading": d.last_reading,
        "last_reading_on": _iso(d.last_reading_on),
    }


async def _contracts(db: AsyncSession, partner_id: int, viewer: Viewer) -> list[dict[str, Any]]:
    rows = await db.scalars(
        select(Contract)
        .where(
            Contract.partner_id == partner_id,
            Contract.kind.in_(CONTRACT_KINDS.get(viewer.entity_kind, ())),
        )
        .order_by(Contract.starts_on.desc().nulls_last(), Contract.id)
    )
    return [
        {
            "number": c.number,
            "kind": c.kind,
            "legal_entity": c.legal_entity,
            "product": c.product,
            "status": c.status,
            "starts_on": _iso(c.starts_on),
            "ends_on": _iso(c.ends_on),
            "source": c.source,
        }
        for c in rows
    ]


async def _offers(db: AsyncSession, partner_id: int, viewer: Viewer) -> list[dict[str, Any]]:
    rows = await db.scalars(
        select(Offer)
        .where(Offer.partner_id == partner_id, Offer.legal_entity == viewer.legal_entity)
        .order_by(Offer.id.desc())
    )
    return [
        {
            "id": o.id,
            "product": o.product,
            "price_eur_kwh": _num(o.price_eur_kwh),
            "status": o.status,
            "valid_until": _iso(o.valid_until),
        }
        for o in rows
    ]


async def _opportunities(db: AsyncSession, partner_id: int, viewer: Viewer) -> list[dict[str, Any]]:
    rows = await db.scalars(
        select(Opportunity)
        .where(
            Opportunity.partner_id == partner_id, Opportunity.legal_entity == viewer.legal_entity
        )
        .order_by(Opportunity.id.desc())
    )
    return [
        {"id": o.id, "stage": o.stage, "expected_value_eur": _num(o.expected_value_eur)}
        for o in rows
    ]


async def _tickets(db: AsyncSession, partner_id: int, viewer: Viewer) -> dict[str, Any]:
    mine = (Ticket.partner_id == partner_id, Ticket.legal_entity == viewer.legal_entity)
    open_rows = await db.scalars(
        select(Ticket).where(*mine, Ticket.status.in_(OPEN)).order_by(Ticket.created_at.desc())
    )
    recent_rows = await db.scalars(
        select(Ticket)
        .where(*mine, Ticket.status.not_in(OPEN))
        .order_by(Ticket.created_at.desc())
        .limit(RECENT_TICKETS)
    )
    return {
        "open": [_ticket(t) for t in open_rows],
        "recent": [_ticket(t) for t in recent_rows],
    }


def _ticket(t: Ticket) -> dict[str, Any]:
    due = t.resolution_due if t.first_responded_at else t.first_response_due
    return {
        "id": t.id,
        "number": t.number,
        "kind": t.kind,
        "category": t.category,
        "priority": t.priority,
        "status": t.status,
        "subject": t.subject,
        "created_at": _iso(t.created_at),
        "due": _iso(due),
        "breaches": t.breaches,
    }


def _sla_state(due: datetime | None, now: datetime, breaches: list[str]) -> str:
    if breaches or (due is not None and due < now):
        return "breached"
    if due is None:
        return "none"
    return "at_risk" if (due - now).total_seconds() < 3600 else "on_time"


async def _timeline(
    db: AsyncSession, partner_id: int, viewer: Viewer, before: Cursor | None
) -> dict[str, Any]:
    mine = (Activity.partner_id == partner_id, Activity.legal_entity == viewer.legal_entity)
    total = await db.scalar(select(func.count()).select_from(Activity).where(*mine))
    page = (
        select(
            Activity.id,
            Activity.channel,
            Activity.direction,
            Activity.occurred_at,
            Activity.subject,
            func.substr(Activity.text, 1, EXCERPT).label("excerpt"),
            Activity.duration_seconds,
            Activity.state,
            Activity.ticket_id,
            Ticket.number.label("ticket_number"),
        )
        .outerjoin(Ticket, Ticket.id == Activity.ticket_id)
        .where(*mine)
    )
    if before is not None:
        at, activity_id = before
        older = tuple_(Activity.occurred_at, Activity.id) < tuple_(
            literal(at, UtcDateTime()), literal(activity_id)
        )
        page = page.where(older)
    rows = (
        await db.execute(
            page.order_by(Activity.occurred_at.desc(), Activity.id.desc()).limit(TIMELINE_PAGE)
        )
    ).all()
    items = [
        {
            "id": r.id,
            "channel": r.channel,
            "direction": r.direction,
            "occurred_at": _iso(r.occurred_at),
            "subject": r.subject,
            "excerpt": r.excerpt,
            "duration_seconds": r.duration_seconds,
            "state": r.state,
            "ticket": {"id": r.ticket_id, "number": r.ticket_number} if r.ticket_id else None,
        }
        for r in rows
    ]
    return {"total": total or 0, "items": items}


async def _documents(db: AsyncSession, partner_id: int, viewer: Viewer) -> list[dict[str, Any]]:
    rows = await db.execute(
        select(Document, Activity.channel)
        .join(Activity, Activity.id == Document.activity_id)
        .where(Activity.partner_id == partner_id, Activity.legal_entity == viewer.legal_entity)
        .order_by(Document.created_at.desc(), Document.id.desc())
        .limit(DOCUMENTS)
    )
    return [
        {
            "id": d.id,
            "filename": d.filename,
            "content_type": d.content_type,
            "size": d.size,
            "kind": d.kind,
            "channel": channel,
            "created_at": _iso(d.created_at),
        }
        for d, channel in rows
    ]


def _address(*parts: str | None) -> str:
    street = " ".join(p for p in parts[:2] if p)
    town = " ".join(p for p in parts[2:] if p)
    return ", ".join(p for p in (street, town) if p)


def _iso(value: date | datetime | None) -> str | None:
    """Dates as YYYY-MM-DD, times in UTC with microseconds (as PostgreSQL writes them)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    return value.isoformat() if value is not None else None


def _num(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None

"""Stik's data model: the party-role core, metering, contracts, contacts and work.

One person or organisation is one `Partner`, stored once, playing many roles
(`PartnerRole`) for metering points and contracts. `ContactPoint` rows are the
matcher's exact keys. Every inbound contact is an `Activity`; work that follows is a
`Ticket`. Raw payloads and document contents are kept as content-addressed `Blob`s.
"""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from interactions import identifiers
from interactions.types import BigId, Json, UtcDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Channel(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    WEB = "web"
    POST = "post"
    FAX = "fax"
    VISIT = "visit"


WRITTEN_CHANNELS = frozenset({Channel.EMAIL, Channel.WEB, Channel.POST, Channel.FAX})


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class ActivityState(StrEnum):
    RECEIVED = "received"
    PROCESSED = "processed"
    FAILED = "failed"


class Segment(StrEnum):
    HOUSEHOLD = "household"
    SMALL_BUSINESS = "small_business"
    BUSINESS = "business"
    PUBLIC = "public"


class PartnerKind(StrEnum):
    PERSON = "person"
    ORGANISATION = "organisation"


class RoleKind(StrEnum):
    CUSTOMER = "customer"
    PAYER = "payer"
    OWNER = "owner"
    BILL_ADDRESSEE = "bill_addressee"
    INVESTOR = "investor"
    CONTACT_PERSON = "contact_person"
    REPRESENTATIVE = "representative"


class ContactKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    ADDRESS = "address"
    FAX = "fax"


class TicketKind(StrEnum):
    QUESTION = "question"
    COMPLAINT = "complaint"
    REQUEST = "request"
    METER_READING = "meter_reading"
    CHANGE = "change"
    DEBT_COLLECTION = "debt_collection"


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING_CUSTOMER = "pending_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"


class OrgUnit(StrEnum):
    INFO_OFFICE = "info_office"
    BACK_OFFICE = "back_office"
    CALL_CENTRE = "call_centre"


class LegalEntity(Base):
    """One of the companies sharing the installation: the DSO or the supplier."""

    __tablename__ = "legal_entity"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # dso | supplier
    brand: Mapped[str] = mapped_column(String(100))
    sender_address: Mapped[str | None] = mapped_column(String(320))


class Blob(Base):
    """Bytes kept exactly as received (raw MIME, webhook form, a scan), by SHA-256."""

    __tablename__ = "blob"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int]
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Partner(Base):
    """A person or organisation (poslovni partner), stored once."""

    __tablename__ = "partner"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default=PartnerKind.PERSON)
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    organisation_name: Mapped[str | None] = mapped_column(String(300))
    tax_number: Mapped[str | None] = mapped_column(String(8), unique=True)
    registration_number: Mapped[str | None] = mapped_column(String(10))
    emso: Mapped[str | None] = mapped_column(String(13))
    birth_date: Mapped[date | None] = mapped_column(Date)
    segment: Mapped[str] = mapped_column(String(16), default=Segment.HOUSEHOLD)
    language: Mapped[str] = mapped_column(String(5), default="sl")
    vulnerable: Mapped[bool] = mapped_column(default=False, server_default=false())
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    contact_points: Mapped[list["ContactPoint"]] = relationship(
        back_populates="partner", cascade="all, delete-orphan"
    )
    roles: Mapped[list["PartnerRole"]] = relationship(
        back_populates="partner", foreign_keys="PartnerRole.partner_id"
    )

    __table_args__ = (
        CheckConstraint(
            "first_name IS NOT NULL OR last_name IS NOT NULL OR organisation_name IS NOT NULL"
            " OR external_id IS NOT NULL",
            name="named",
        ),
    )

    @validates("tax_number")
    def _check_tax_number(self, _key: str, value: str | None) -> str | None:
        return identifiers.normalize_tax_number(value) if value else None

    @validates("registration_number")
    def _check_registration_number(self, _key: str, value: str | None) -> str | None:
        return identifiers.normalize_registration_number(value) if value else None

    @property
    def display_name(self) -> str:
        if self.organisation_name:
            return self.organisation_name
        return " ".join(p for p in (self.first_name, self.last_name) if p) or "?"


class ContactPoint(Base):
    """A phone, email, postal address or fax of one partner: the matcher's keys.

    `value` is the normalised form (E.164, lower-cased address, one-line postal
    address); `display` is what was given. One partner cannot hold the same
    normalised value twice; two partners can (a household's shared landline).
    """

    __tablename__ = "contact_point"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(400))
    display: Mapped[str | None] = mapped_column(String(400))
    street: Mapped[str | None] = mapped_column(String(200))
    house_number: Mapped[str | None] = mapped_column(String(20))
    postcode: Mapped[str | None] = mapped_column(String(4))
    city: Mapped[str | None] = mapped_column(String(100))
    is_primary: Mapped[bool] = mapped_column(default=False)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)

    partner: Mapped[Partner] = relationship(back_populates="contact_points")

    def __init__(self, *, kind: str, value: str, **fields: Any) -> None:
        fields.setdefault("display", value)
        super().__init__(kind=kind, value=normalize_contact_value(kind, value), **fields)

    __table_args__ = (
        UniqueConstraint("partner_id", "kind", "value"),
        Index("ix_contact_point_kind_value", "kind", "value"),
    )


def normalize_contact_value(kind: str, value: str) -> str:
    """Return the form a contact point of `kind` is stored and matched under."""
    if kind in (ContactKind.PHONE, ContactKind.FAX):
        return identifiers.normalize_phone(value)
    if kind == ContactKind.EMAIL:
        return identifiers.normalize_email(value)
    return " ".join(value.split())


contract_metering_point = Table(
    "contract_metering_point",
    Base.metadata,
    Column("contract_id", ForeignKey("contract.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "metering_point_id", ForeignKey("metering_point.id", ondelete="CASCADE"), primary_key=True
    ),
)


class MeteringPoint(Base):
    """A metering point (merilno mesto): where energy is measured."""

    __tablename__ = "metering_point"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    eimm: Mapped[str] = mapped_column(String(10), unique=True)
    gsrn: Mapped[str | None] = mapped_column(String(18), unique=True)
    street: Mapped[str | None] = mapped_column(String(200))
    house_number: Mapped[str | None] = mapped_column(String(20))
    postcode: Mapped[str | None] = mapped_column(String(4))
    city: Mapped[str | None] = mapped_column(String(100))
    dso_area: Mapped[str | None] = mapped_column(String(40))
    connection_power_kw: Mapped[Decimal | None] = mapped_column(Numeric(9, 2))
    tariff_model: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="active")

    @validates("eimm")
    def _check_eimm(self, _key: str, value: str) -> str:
        return identifiers.normalize_metering_point(value)

    @validates("gsrn")
    def _check_gsrn(self, _key: str, value: str | None) -> str | None:
        return identifiers.normalize_gsrn(value) if value else None

    devices: Mapped[list["MeterDevice"]] = relationship(back_populates="metering_point")
    roles: Mapped[list["PartnerRole"]] = relationship(back_populates="metering_point")


class Contract(Base):
    """A connection, network access or supply contract (pogodba)."""

    __tablename__ = "contract"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # connection | network_access | supply
    legal_entity: Mapped[str] = mapped_column(ForeignKey("legal_entity.code"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"), index=True)
    product: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="active")
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(8), default="stik")  # stik | erp

    metering_points: Mapped[list[MeteringPoint]] = relationship(secondary=contract_metering_point)


class PartnerRole(Base):
    """Partner P plays role R for a metering point, a contract or another partner."""

    __tablename__ = "partner_role"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(24))
    metering_point_id: Mapped[int | None] = mapped_column(
        ForeignKey("metering_point.id", ondelete="CASCADE"), index=True
    )
    contract_id: Mapped[int | None] = mapped_column(
        ForeignKey("contract.id", ondelete="CASCADE"), index=True
    )
    for_partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"), index=True)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)

    partner: Mapped[Partner] = relationship(back_populates="roles", foreign_keys=[partner_id])
    metering_point: Mapped[MeteringPoint | None] = relationship(back_populates="roles")

    __table_args__ = (
        CheckConstraint(
            "metering_point_id IS NOT NULL OR contract_id IS NOT NULL"
            " OR for_partner_id IS NOT NULL",
            name="has_object",
        ),
        CheckConstraint(
            "valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from", name="period"
        ),
        Index("ix_partner_role_partner_id", "partner_id"),
    )


class MeterDevice(Base):
    """A meter (merilno krmilna naprava) installed at a metering point."""

    __tablename__ = "meter_device"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    metering_point_id: Mapped[int] = mapped_column(
        ForeignKey("metering_point.id", ondelete="CASCADE"), index=True
    )
    serial: Mapped[str] = mapped_column(String(40), index=True)
    type: Mapped[str | None] = mapped_column(String(60))
    registers: Mapped[list[str]] = mapped_column(Json, default=list)  # VT, MT or ET
    installed_on: Mapped[date | None] = mapped_column(Date)
    removed_on: Mapped[date | None] = mapped_column(Date)
    last_reading: Mapped[dict[str, int] | None] = mapped_column(Json)
    last_reading_on: Mapped[date | None] = mapped_column(Date)

    metering_point: Mapped[MeteringPoint] = relationship(back_populates="devices")


class Offer(Base):
    """A product and price offered to a partner (ponudba); the supplier's business."""

    __tablename__ = "offer"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"), index=True)
    legal_entity: Mapped[str] = mapped_column(ForeignKey("legal_entity.code"))
    product: Mapped[str] = mapped_column(String(100))
    price_eur_kwh: Mapped[Decimal | None] = mapped_column(Numeric(10, 5))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    valid_until: Mapped[date | None] = mapped_column(Date)


class Employee(Base):
    """An agent, supervisor or administrator of one legal entity."""

    __tablename__ = "employee"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    org_unit: Mapped[str] = mapped_column(String(16))
    legal_entity: Mapped[str] = mapped_column(ForeignKey("legal_entity.code"))
    role: Mapped[str] = mapped_column(String(16), default="agent")  # agent|supervisor|admin
    skills: Mapped[dict[str, int]] = mapped_column(Json, default=dict)
    languages: Mapped[list[str]] = mapped_column(Json, default=list)
    capacity: Mapped[dict[str, int]] = mapped_column(Json, default=dict)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)


class Opportunity(Base):
    """A sales lead (poslovna priložnost)."""

    __tablename__ = "opportunity"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"), index=True)
    legal_entity: Mapped[str] = mapped_column(ForeignKey("legal_entity.code"))
    stage: Mapped[str] = mapped_column(String(20), default="lead")
    expected_value_eur: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))


class Calendar(Base):
    """Business hours and holidays that SLA clocks count in."""

    __tablename__ = "calendar"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Ljubljana")
    holiday_country: Mapped[str | None] = mapped_column(String(2), default="SI")
    #: weekday (0 = Monday) -> list of ["HH:MM", "HH:MM"] intervals
    hours: Mapped[dict[str, list[list[str]]]] = mapped_column(Json, default=dict)
    #: ISO dates on which the office is shut beside weekends and public holidays.
    closed_days: Mapped[list[str]] = mapped_column(Json, default=list)


class SlaPolicy(Base):
    """Response and resolution targets for tickets, or an answer target for calls."""

    __tablename__ = "sla_policy"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    ticket_kind: Mapped[str | None] = mapped_column(String(20))
    category: Mapped[str | None] = mapped_column(String(40))
    segment: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(8))
    first_response_minutes: Mapped[int | None]
    next_response_minutes: Mapped[int | None]
    resolution_minutes: Mapped[int | None]
    business_hours: Mapped[bool] = mapped_column(default=True)
    #: The minutes are whole days: counted as open days (business_hours) or calendar days.
    whole_days: Mapped[bool] = mapped_column(default=False)
    #: Share of a target after which the assignee and supervisors are warned.
    warn_share: Mapped[Decimal] = mapped_column(Numeric(4, 3), default=Decimal("0.800"))
    answer_target_seconds: Mapped[int | None]
    answer_target_share: Mapped[Decimal | None] = mapped_column(Numeric(4, 3))


class Queue(Base):
    """Where work waits for agents of one legal entity."""

    __tablename__ = "queue"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    legal_entity: Mapped[str] = mapped_column(ForeignKey("legal_entity.code"))
    org_unit: Mapped[str] = mapped_column(String(16))
    channels: Mapped[list[str]] = mapped_column(Json, default=list)
    skills: Mapped[dict[str, int]] = mapped_column(Json, default=dict)
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("calendar.id"))
    sla_policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policy.id"))
    rules: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)


class TicketSequence(Base):
    """The last ticket number issued in a year; incremented under a row lock."""

    __tablename__ = "ticket_sequence"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(default=0)


class Ticket(Base):
    """A piece of work, numbered `YYYY-NNNNNN`."""

    __tablename__ = "ticket"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(11), unique=True)
    legal_entity: Mapped[str] = mapped_column(ForeignKey("legal_entity.code"))
    kind: Mapped[str] = mapped_column(String(20), default=TicketKind.QUESTION)
    category: Mapped[str | None] = mapped_column(String(40))
    priority: Mapped[int] = mapped_column(default=3)  # 1 urgent .. 4 low
    status: Mapped[str] = mapped_column(String(20), default=TicketStatus.NEW, index=True)
    subject: Mapped[str | None] = mapped_column(String(500))
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queue.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"), index=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"), index=True)
    metering_point_id: Mapped[int | None] = mapped_column(ForeignKey("metering_point.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    first_response_due: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolution_due: Mapped[datetime | None] = mapped_column(UtcDateTime)
    first_responded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    breaches: Mapped[list[str]] = mapped_column(Json, default=list)


class Activity(Base):
    """One contact on any channel, in either direction (aktivnost)."""

    __tablename__ = "activity"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))
    direction: Mapped[str] = mapped_column(String(8), default=Direction.INBOUND)
    external_id: Mapped[str] = mapped_column(String(400))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    legal_entity: Mapped[str | None] = mapped_column(ForeignKey("legal_entity.code"))
    sender_address: Mapped[str | None] = mapped_column(String(400))
    sender_name: Mapped[str | None] = mapped_column(String(300))
    recipient: Mapped[str | None] = mapped_column(String(400))
    subject: Mapped[str | None] = mapped_column(String(1000))
    text: Mapped[str | None] = mapped_column(Text)
    raw_sha256: Mapped[str | None] = mapped_column(ForeignKey("blob.sha256"))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"), index=True)
    metering_point_id: Mapped[int | None] = mapped_column(ForeignKey("metering_point.id"))
    match_outcome: Mapped[str | None] = mapped_column(String(12))  # matched|ambiguous|unknown
    match_score: Mapped[float | None]
    match_reasons: Mapped[list[str]] = mapped_column(Json, default=list)
    match_candidates: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    category: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str | None] = mapped_column(String(5))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))
    duration_seconds: Mapped[int | None]
    state: Mapped[str] = mapped_column(String(10), default=ActivityState.RECEIVED, index=True)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)

    __table_args__ = (UniqueConstraint("channel", "external_id"),)


class Document(Base):
    """A stored file: attachment, letter scan, fax, generated PDF."""

    __tablename__ = "document"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"), index=True)
    filename: Mapped[str | None] = mapped_column(String(400))
    content_type: Mapped[str] = mapped_column(String(200), default="application/octet-stream")
    size: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20), default="attachment")
    extracted_text: Mapped[str | None] = mapped_column(Text)
    activity_id: Mapped[int | None] = mapped_column(
        ForeignKey("activity.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AuditEntry(Base):
    """Who saw or changed which personal data, and when."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # employee login, or "system"
    action: Mapped[str] = mapped_column(String(40))  # view | create | update | merge | delete
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(40))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"), index=True)
    legal_entity: Mapped[str | None] = mapped_column(String(16))
    details: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)


class MatchRecord(Base):
    """One partner as the matcher compares it: normalised names, addresses and keys, as JSON.

    Kept by `interactions.match_index` in the same transaction that changes the partner,
    its contact points or its roles, so every node on the database sees it at commit.
    """

    __tablename__ = "match_record"

    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partner.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    record: Mapped[str] = mapped_column(Text)


class MatchKey(Base):
    """A lookup key of a partner: an exact key (phone, email, identifier) or a blocking key."""

    __tablename__ = "match_key"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partner.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )

    __table_args__ = (Index("ix_match_key_partner_id", "partner_id"),)

"""Hostile input at the door: whatever a channel hands over, nothing crashes or is lost."""

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from interactions import InboundContact, record_contact
from interactions.models import Activity, Channel
from interactions.store import Store

anything = st.one_of(st.none(), st.text(max_size=300))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    external_id=st.text(min_size=1, max_size=500),
    sender=anything,
    name=anything,
    subject=anything,
    text=st.one_of(st.none(), st.text(max_size=3000)),
    raw=st.one_of(st.none(), st.binary(max_size=2000)),
    channel=st.sampled_from(list(Channel)),
)
async def test_any_contact_is_recorded_exactly_once(
    store: Store,
    external_id: str,
    sender: str | None,
    name: str | None,
    subject: str | None,
    text: str | None,
    raw: bytes | None,
    channel: Channel,
) -> None:
    contact = InboundContact(
        channel=channel,
        external_id=external_id,
        occurred_at=datetime(2026, 5, 4, 10, 0, tzinfo=UTC),
        sender_address=sender,
        sender_name=name,
        subject=subject,
        text=text,
        raw=raw,
    )
    first = await record_contact(store, contact)
    again = await record_contact(store, contact)

    assert again.activity_id == first.activity_id
    assert first.state == "processed", first.failure_reason
    async with store.sessions() as session:
        stored = await session.scalars(
            select(Activity).where(Activity.channel == channel, Activity.id == first.activity_id)
        )
        activity = stored.one()
    assert activity.raw_sha256 is not None

"""Business-time arithmetic: holidays, weekends, office hours and both DST changes."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.calendars import BusinessCalendar, CalendarError, add_calendar_days
from routing.sla import DEFAULT_CALENDARS
from tests.routing.factories import LJUBLJANA, local

OFFICE = BusinessCalendar.build()
INFO_LINE = BusinessCalendar.build(DEFAULT_CALENDARS[1]["hours"])
ALWAYS = BusinessCalendar.build(DEFAULT_CALENDARS[2]["hours"], holiday_country=None)
HOUR = 3600


def test_eight_hours_before_reformation_day_weekend_is_due_monday_noon() -> None:
    # HARD_CASES 18: 31 October is a holiday, 1 November a Saturday (and a holiday).
    start = local(2025, 10, 30, 12, 0)

    due = OFFICE.add(start, 8 * HOUR)

    assert due == local(2025, 11, 3, 12, 0)
    skipped = OFFICE.skipped_days(start, due)
    assert [s.day for s in skipped] == [date(2025, 10, 31), date(2025, 11, 1), date(2025, 11, 2)]
    assert [str(s) for s in skipped] == [
        "2025-10-31 (public holiday: Reformation Day)",
        "2025-11-01 (Saturday, public holiday: Day of Remembrance for the Dead)",
        "2025-11-02 (Sunday)",
    ]
    assert OFFICE.seconds_between(start, due) == 8 * HOUR


def test_friday_evening_before_easter_monday_starts_on_tuesday() -> None:
    start = local(2026, 4, 3, 16, 55)  # after hours; Monday 6 April is Easter Monday

    assert OFFICE.next_open(start) == local(2026, 4, 7, 8, 0)
    assert OFFICE.add(start, 8 * HOUR) == local(2026, 4, 7, 16, 0)
    assert OFFICE.add_days(start, 1) == local(2026, 4, 8, 8, 0)
    # The info line is still open at 16:55: 65 minutes count on Friday.
    assert INFO_LINE.add(start, 8 * HOUR) == local(2026, 4, 7, 12, 55)


@pytest.mark.parametrize(
    ("start", "seconds", "due", "real_hours"),
    [
        # Last Sunday of March: 02:00 becomes 03:00, the day has 23 hours.
        (local(2026, 3, 28, 12, 0), 24 * HOUR, local(2026, 3, 29, 13, 0), 24),
        # Last Sunday of October: 03:00 becomes 02:00, the day has 25 hours.
        (local(2026, 10, 24, 12, 0), 24 * HOUR, local(2026, 10, 25, 11, 0), 24),
        (local(2026, 3, 29, 1, 30), HOUR, local(2026, 3, 29, 3, 30), 1),
    ],
)
def test_always_open_calendar_counts_real_hours_across_dst(
    start: datetime, seconds: int, due: datetime, real_hours: int
) -> None:
    got = ALWAYS.add(start, seconds)

    assert got == due
    assert (got - start).total_seconds() == real_hours * HOUR


def test_calendar_days_keep_the_wall_clock_across_dst() -> None:
    march = add_calendar_days(local(2026, 3, 28, 12, 0), 1, "Europe/Ljubljana")
    october = add_calendar_days(local(2026, 10, 24, 12, 0), 1, "Europe/Ljubljana")

    assert march == local(2026, 3, 29, 12, 0)
    assert march - local(2026, 3, 28, 12, 0) == timedelta(hours=23)
    assert october - local(2026, 10, 24, 12, 0) == timedelta(hours=25)


def test_office_hours_across_dst_weekend_change_the_utc_offset() -> None:
    start = local(2026, 3, 27, 15, 0)  # Friday, UTC+1

    due = OFFICE.add(start, 2 * HOUR)

    assert due == local(2026, 3, 30, 9, 0)  # Monday, UTC+2
    assert due.astimezone(UTC).hour == 7


def test_special_closed_day_is_skipped_with_its_reason() -> None:
    calendar = BusinessCalendar.build(closed_days=["2025-11-03"])

    due = calendar.add(local(2025, 10, 30, 12, 0), 8 * HOUR)

    assert due == local(2025, 11, 4, 12, 0)
    assert "closed day" in calendar.skipped_days(local(2025, 10, 30), due)[-1].reasons


@pytest.mark.parametrize(
    "hours",
    [
        {"0": [["16:00", "08:00"]]},
        {"7": [["08:00", "16:00"]]},
        {"0": [["25:00", "26:00"]]},
        {"0": [["08:00", "24:30"]]},
    ],
)
def test_unreadable_office_hours_are_refused(hours: dict[str, list[list[str]]]) -> None:
    with pytest.raises(CalendarError):
        BusinessCalendar.build(hours)


def test_a_calendar_that_never_opens_says_so() -> None:
    with pytest.raises(CalendarError):
        BusinessCalendar.build({}).add(local(2026, 1, 5, 9, 0), HOUR)


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    seconds=st.integers(min_value=1, max_value=40 * 8 * HOUR),
)
def test_adding_then_measuring_gives_back_the_duration(start: datetime, seconds: int) -> None:
    for calendar in (OFFICE, ALWAYS):
        due = calendar.add(start, seconds)

        assert due > start
        assert calendar.seconds_between(start, due) == pytest.approx(seconds)
        assert calendar.is_open(due - timedelta(seconds=1))
        assert due.astimezone(LJUBLJANA).utcoffset() in (timedelta(hours=1), timedelta(hours=2))

"""Business-time arithmetic: office hours, public holidays and closed days, DST-correct.

A calendar is a time zone, office hours per weekday and the days it is closed.
Office hours are wall-clock times in the calendar's zone; each open interval is
turned into two UTC instants, so that on the last Sundays of March and October an
interval is as long as the clocks make it (a 24-hour day then lasts 23 or 25 hours).
Durations in business time are real elapsed seconds inside open intervals.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from interactions.models import Calendar

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

#: Office hours Mon-Fri 08:00-16:00, the common office calendar.
OFFICE_HOURS: dict[str, list[list[str]]] = {str(d): [["08:00", "16:00"]] for d in range(5)}

#: A calendar looks this far ahead for an open interval before it gives up.
MAX_SEARCH_DAYS = 3660


class CalendarError(ValueError):
    """A calendar whose hours cannot be read, or that is never open."""


@lru_cache(maxsize=32)
def _public_holidays(country: str, year: int) -> dict[date, str]:
    # Public holidays only, as observed on their own day: Slovenia moves none.
    found = holidays.country_holidays(
        country, years=year, categories=("public",), observed=False, language="en_US"
    )
    return dict(found.items())


def _parse_time(text: str) -> tuple[int, int]:
    hours, _, minutes = text.partition(":")
    h, m = int(hours), int(minutes or 0)
    if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m):
        raise CalendarError(f"not a time of day: {text!r}")
    return h, m


@dataclass(frozen=True)
class SkippedDay:
    """A day on which the clock did not run, and why."""

    day: date
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.day.isoformat()} ({', '.join(self.reasons)})"


@dataclass(frozen=True)
class BusinessCalendar:
    """Office hours per weekday (0 = Monday) in `timezone`, minus holidays and closed days."""

    timezone: str = "Europe/Ljubljana"
    hours: dict[int, tuple[tuple[tuple[int, int], tuple[int, int]], ...]] = field(
        default_factory=dict
    )
    holiday_country: str | None = "SI"
    closed_days: frozenset[date] = frozenset()

    @classmethod
    def build(
        cls,
        hours: dict[str, list[list[str]]] | None = None,
        timezone: str = "Europe/Ljubljana",
        holiday_country: str | None = "SI",
        closed_days: list[str] | None = None,
    ) -> "BusinessCalendar":
        """Build from the stored form: {"0": [["08:00", "16:00"]], ...} and ISO dates."""
        parsed: dict[int, tuple[tuple[tuple[int, int], tuple[int, int]], ...]] = {}
        for weekday, intervals in (OFFICE_HOURS if hours is None else hours).items():
            day = int(weekday)
            if not 0 <= day <= 6:
                raise CalendarError(f"weekday {weekday!r} is not 0 (Monday) to 6 (Sunday)")
            spans = []
            for start, end in intervals:
                opens, closes = _parse_time(start), _parse_time(end)
                if closes <= opens:
                    raise CalendarError(f"interval {start}-{end} ends before it starts")
                spans.append((opens, closes))
            parsed[day] = tuple(sorted(spans))
        ZoneInfo(timezone)  # refuse an unknown zone now rather than at the first due time
        closed = frozenset(date.fromisoformat(d) for d in closed_days or ())
        return cls(timezone, parsed, holiday_country, closed)

    @classmethod
    def from_model(cls, calendar: Calendar) -> "BusinessCalendar":
        return cls.build(
            calendar.hours,
            calendar.timezone,
            calendar.holiday_country,
            list(getattr(calendar, "closed_days", None) or ()),
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def closed_reasons(self, day: date) -> tuple[str, ...]:
        """Say why the office is closed all of `day`; empty when it opens that day."""
        reasons: list[str] = []
        if not self.hours.get(day.weekday()):
            reasons.append(WEEKDAYS[day.weekday()])
        if self.holiday_country:
            name = _public_holidays(self.holiday_country, day.year).get(day)
            if name:
                reasons.append(f"public holiday: {name}")
        if day in self.closed_days:
            reasons.append("closed day")
        return tuple(reasons)

    def open_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """Return the open intervals of local `day` as UTC instants."""
        if self.closed_reasons(day):
            return []
        zone = self.zone
        spans = []
        for (oh, om), (ch, cm) in self.hours[day.weekday()]:
            opens = datetime.combine(day, time(oh, om), zone)
            closes = (
                datetime.combine(day + timedelta(days=1), time(0), zone)
                if ch == 24
                else datetime.combine(day, time(ch, cm), zone)
            )
            spans.append((opens.astimezone(UTC), closes.astimezone(UTC)))
        return spans

    def _intervals_from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        for offset in range(MAX_SEARCH_DAYS):
            for opens, closes in self.open_intervals(day + timedelta(days=offset)):
                if closes > start:
                    yield max(opens, start), closes
        raise CalendarError(f"calendar is not open within {MAX_SEARCH_DAYS} days")

    def add(self, start: datetime, seconds: float) -> datetime:
        """Return the instant `seconds` of open time after `start`."""
        start = start.astimezone(UTC)
        if seconds <= 0:
            return self.next_open(start) if seconds == 0 else start
        left = timedelta(seconds=seconds)
        for opens, closes in self._intervals_from(start):
            if closes - opens >= left:
                return opens + left
            left -= closes - opens
        raise AssertionError("unreachable")

    def next_open(self, at: datetime) -> datetime:
        """Return `at` if the office is open then, else the next opening."""
        return next(self._intervals_from(at.astimezone(UTC)))[0]

    def is_open(self, at: datetime) -> bool:
        return self.next_open(at) == at.astimezone(UTC)

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """Return the open seconds from `start` to `end` (negative when `end` is earlier)."""
        if end < start:
            return -self.seconds_between(end, start)
        total = 0.0
        for opens, closes in self._intervals_from(start.astimezone(UTC)):
            if opens >= end:
                break
            total += (min(closes, end) - opens).total_seconds()
        return total

    def add_days(self, start: datetime, days: int) -> datetime:
        """Return the same wall-clock time `days` open days later (from the next opening)."""
        local = self.next_open(start).astimezone(self.zone)
        day, counted = local.date(), 0
        while counted < days:
            day += timedelta(days=1)
            if self.open_intervals(day):
                counted += 1
        moved = datetime.combine(day, local.time(), self.zone)
        return moved.astimezone(UTC)

    def skipped_days(self, start: datetime, end: datetime) -> list[SkippedDay]:
        """List the local days between `start` and `end` on which the office stayed shut."""
        zone = self.zone
        first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
        skipped = []
        day = first
        while day <= last:
            reasons = self.closed_reasons(day)
            if reasons:
                skipped.append(SkippedDay(day, reasons))
            day += timedelta(days=1)
        return skipped


def add_calendar_days(start: datetime, days: int, timezone: str) -> datetime:
    """Return the same wall-clock time `days` calendar days later in `timezone`."""
    zone = ZoneInfo(timezone)
    local = start.astimezone(zone)
    moved = datetime.combine(local.date() + timedelta(days=days), local.time(), zone)
    return moved.astimezone(UTC)

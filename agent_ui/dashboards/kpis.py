"""Every figure the dashboards show, defined once: its words and its arithmetic.

The wallboard, the report, the CSV export and the JSON API all count through this
module, so they cannot disagree. A figure is a `Kpi`: a code, a label, the text of
its definition (shown in the pages as a tooltip and a footnote) and a function that
makes its value from sums (`Sums`). The sums are SQL aggregates over `dash_contact`
(calls and other contacts) or `ticket`, built by `contact_sums` and `ticket_sums`;
a group of rows, a day or a queue, is one set of sums, and sums add up.

Words used in the definitions:

- a call is *offered* when it reached a queue and was answered or abandoned, except
  short abandons; calls that went to voicemail, arrived out of hours, or failed
  before queueing are counted as calls but not as offered;
- a *short abandon* is a call hung up after less than `short` seconds of waiting
  (5 s by default): a misdial or a change of mind, not a service failure.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func, or_

from agent_ui.dashboards.models import ContactFact
from agent_ui.i18n import N_, gettext
from interactions.models import Channel, Ticket, TicketStatus

SHORT_ABANDON_S = 5.0
DEFAULT_TARGET_S = 20
OPEN_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING_CUSTOMER)

Sums = Mapping[str, float]


@dataclass(frozen=True)
class Params:
    """What a definition depends on: the answer target and the short-abandon limit."""

    target_s: int = DEFAULT_TARGET_S
    short_s: float = SHORT_ABANDON_S


@dataclass(frozen=True)
class Kpi:
    code: str
    label: str
    definition: str
    unit: str  # share | seconds | count
    value: Callable[[Sums], float | None]

    def title(self) -> str:
        return gettext(self.label)

    def text(self, params: Params) -> str:
        """The definition in the user's language, with the parameters filled in."""
        return gettext(self.definition).format(target=params.target_s, short=params.short_s)


def _ratio(top: str, bottom: str) -> Callable[[Sums], float | None]:
    def value(sums: Sums) -> float | None:
        below = sums.get(bottom) or 0
        return (sums.get(top) or 0) / below if below else None

    return value


def _count(name: str) -> Callable[[Sums], float | None]:
    return lambda sums: sums.get(name) or 0


# -- SQL sums over contacts ----------------------------------------------------------

c = ContactFact


def _is_call() -> ColumnElement[bool]:
    return c.channel == Channel.PHONE


def _short_abandon(p: Params) -> ColumnElement[bool]:
    return and_(_is_call(), c.outcome == "abandoned", c.wait_seconds < p.short_s)


def _abandon(p: Params) -> ColumnElement[bool]:
    return and_(
        _is_call(),
        c.outcome == "abandoned",
        or_(c.wait_seconds.is_(None), c.wait_seconds >= p.short_s),
    )


def _answered() -> ColumnElement[bool]:
    return and_(_is_call(), c.outcome == "answered")


def _sum_if(condition: ColumnElement[bool], value: object = 1) -> ColumnElement[float]:
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def contact_sums(p: Params, with_fcr: bool = True) -> dict[str, ColumnElement[float]]:
    """The sums every contact and call figure is made from, as labelled SQL aggregates."""
    handle = c.talk_seconds + func.coalesce(c.wrap_up_seconds, 0)
    sums = {
        "contacts": func.count(),
        "calls": _sum_if(_is_call()),
        "answered": _sum_if(_answered()),
        "answered_in_target": _sum_if(and_(_answered(), c.wait_seconds <= p.target_s)),
        "abandoned": _sum_if(_abandon(p)),
        "short_abandons": _sum_if(_short_abandon(p)),
        "wait_answered": _sum_if(_answered(), func.coalesce(c.wait_seconds, 0)),
        "handled": _sum_if(and_(_answered(), c.talk_seconds.is_not(None))),
        "handle_seconds": _sum_if(and_(_answered(), c.talk_seconds.is_not(None)), handle),
        "in_progress": _sum_if(and_(_is_call(), c.outcome.is_(None), c.answered_at.is_not(None))),
    }
    if with_fcr:
        sums["fcr_contacts"] = _sum_if(c.partner_id.is_not(None))
        sums["fcr_repeated"] = _sum_if(and_(c.partner_id.is_not(None), c.repeated))
    return sums


def with_derived(sums: Mapping[str, float]) -> dict[str, float]:
    """Add the sums that follow from others (offered, first-contact resolved)."""
    out = {k: float(v or 0) for k, v in sums.items()}
    out["offered"] = out.get("answered", 0) + out.get("abandoned", 0)
    if "fcr_contacts" in out:
        out["fcr_resolved"] = out["fcr_contacts"] - out.get("fcr_repeated", 0)
    return out


# -- SQL sums over tickets ------------------------------------------------------------


def ticket_sums(now: datetime) -> dict[str, ColumnElement[float]]:
    """Sums of SLA compliance over tickets: a target counts once it is met or past due."""
    t = Ticket
    fr_counted = and_(
        t.first_response_due.is_not(None),
        or_(t.first_responded_at.is_not(None), t.first_response_due <= now),
    )
    fr_met = and_(
        t.first_response_due.is_not(None),
        t.first_responded_at.is_not(None),
        t.first_responded_at <= t.first_response_due,
    )
    res_counted = and_(
        t.resolution_due.is_not(None), or_(t.resolved_at.is_not(None), t.resolution_due <= now)
    )
    res_met = and_(
        t.resolution_due.is_not(None),
        t.resolved_at.is_not(None),
        t.resolved_at <= t.resolution_due,
    )
    return {
        "tickets": func.count(),
        "first_response_counted": _sum_if(fr_counted),
        "first_response_met": _sum_if(fr_met),
        "resolution_counted": _sum_if(res_counted),
        "resolution_met": _sum_if(res_met),
    }


# -- the figures ------------------------------------------------------------------------

KPIS: dict[str, Kpi] = {
    k.code: k
    for k in (
        Kpi(
            "contacts",
            N_("Contacts"),
            N_("Inbound contacts on every channel (calls, emails, forms, letters, faxes, visits)."),
            "count",
            _count("contacts"),
        ),
        Kpi(
            "calls",
            N_("Calls"),
            N_("Inbound calls that arrived, whatever became of them."),
            "count",
            _count("calls"),
        ),
        Kpi(
            "offered",
            N_("Calls offered"),
            N_(
                "Calls that reached a queue and were answered or abandoned, without "
                "short abandons (hung up within {short:g} s)."
            ),
            "count",
            _count("offered"),
        ),
        Kpi(
            "answered",
            N_("Calls answered"),
            N_("Calls an agent answered."),
            "count",
            _count("answered"),
        ),
        Kpi(
            "service_level",
            N_("Service level"),
            N_(
                "Share of calls offered that were answered within {target} s of "
                "queueing (answered within {target} s ÷ calls offered)."
            ),
            "share",
            _ratio("answered_in_target", "offered"),
        ),
        Kpi(
            "asa",
            N_("Average speed of answer"),
            N_("Average wait of answered calls, from queueing to answer, in seconds."),
            "seconds",
            _ratio("wait_answered", "answered"),
        ),
        Kpi(
            "abandonment_rate",
            N_("Abandonment rate"),
            N_(
                "Share of calls offered that the caller hung up while waiting, after "
                "{short:g} s or more (abandoned ÷ calls offered)."
            ),
            "share",
            _ratio("abandoned", "offered"),
        ),
        Kpi(
            "short_abandons",
            N_("Short abandons"),
            N_("Calls hung up within {short:g} s of queueing; counted apart, not as offered."),
            "count",
            _count("short_abandons"),
        ),
        Kpi(
            "aht",
            N_("Average handle time"),
            N_("Average talk time plus wrap-up time of answered calls, in seconds."),
            "seconds",
            _ratio("handle_seconds", "handled"),
        ),
        Kpi(
            "fcr",
            N_("First-contact resolution"),
            N_(
                "Share of contacts from a known customer after which the same customer "
                "made no new contact with the same company within 7 days."
            ),
            "share",
            _ratio("fcr_resolved", "fcr_contacts"),
        ),
        Kpi(
            "in_progress",
            N_("Calls in progress"),
            N_("Calls answered and not yet ended."),
            "count",
            _count("in_progress"),
        ),
        Kpi(
            "waiting",
            N_("Waiting"),
            N_("Contacts queued for an agent right now (calls and tickets not yet taken)."),
            "count",
            _count("waiting"),
        ),
        Kpi(
            "longest_wait",
            N_("Longest wait"),
            N_("Seconds the longest-waiting queued contact has waited so far."),
            "seconds",
            lambda s: s.get("longest_wait"),
        ),
        Kpi(
            "agents_available",
            N_("Available"),
            N_("Agents signed in and free to take work."),
            "count",
            _count("agents_available"),
        ),
        Kpi(
            "agents_busy",
            N_("Busy"),
            N_("Agents on a call or offered one."),
            "count",
            _count("agents_busy"),
        ),
        Kpi(
            "agents_wrap_up",
            N_("Wrap-up"),
            N_("Agents finishing the notes of a call."),
            "count",
            _count("agents_wrap_up"),
        ),
        Kpi(
            "agents_break",
            N_("Break"),
            N_("Agents on a break, or who missed an offered call."),
            "count",
            _count("agents_break"),
        ),
        Kpi(
            "agents_offline",
            N_("Offline"),
            N_("Agents of the queue's unit who are signed out."),
            "count",
            _count("agents_offline"),
        ),
        Kpi(
            "tickets_open",
            N_("Tickets open"),
            N_("Tickets new, open or pending the customer."),
            "count",
            _count("tickets_open"),
        ),
        Kpi(
            "tickets_at_risk",
            N_("At risk"),
            N_("Open tickets with an SLA clock past its warning point and not yet breached."),
            "count",
            _count("tickets_at_risk"),
        ),
        Kpi(
            "tickets_breached",
            N_("Breached"),
            N_("Open tickets with an SLA clock past its due time."),
            "count",
            _count("tickets_breached"),
        ),
        Kpi(
            "first_response_compliance",
            N_("First response in time"),
            N_(
                "Share of tickets whose first-response deadline has come (or was met) "
                "that were answered by the deadline."
            ),
            "share",
            _ratio("first_response_met", "first_response_counted"),
        ),
        Kpi(
            "resolution_compliance",
            N_("Resolved in time"),
            N_(
                "Share of tickets whose resolution deadline has come (or was met) that "
                "were resolved by the deadline."
            ),
            "share",
            _ratio("resolution_met", "resolution_counted"),
        ),
        Kpi(
            "breaches",
            N_("SLA breaches"),
            N_("SLA deadlines missed (first response or resolution), counted when missed."),
            "count",
            _count("breaches"),
        ),
    )
}

#: The figures of the report's summary, in the order shown.
CALL_SUMMARY = (
    "contacts",
    "calls",
    "offered",
    "answered",
    "service_level",
    "asa",
    "abandonment_rate",
    "short_abandons",
    "aht",
    "fcr",
)
TICKET_SUMMARY = ("first_response_compliance", "resolution_compliance")
WALL_FIGURES = (
    "waiting",
    "longest_wait",
    "in_progress",
    "service_level",
    "abandonment_rate",
    "agents_available",
    "agents_busy",
    "agents_wrap_up",
    "agents_break",
    "agents_offline",
    "tickets_open",
    "tickets_at_risk",
    "tickets_breached",
)


def values(codes: tuple[str, ...], sums: Sums) -> dict[str, float | None]:
    """The named figures' values from one set of sums."""
    return {code: KPIS[code].value(sums) for code in codes}


def definitions(codes: tuple[str, ...], params: Params) -> list[dict[str, str]]:
    """The named figures' labels and definitions, for footnotes and the API."""
    return [
        {"code": code, "label": KPIS[code].title(), "definition": KPIS[code].text(params)}
        for code in codes
    ]

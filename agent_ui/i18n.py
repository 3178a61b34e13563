"""Languages of the workspace: gettext catalogues per user, Slovenian dates and amounts.

Texts are written in English in code and templates and translated through the
catalogues in `agent_ui/locale` (`make messages` extracts and updates them). The
language of the request in hand is held in a context variable, so the templates'
`_()` and the code's `gettext()` follow the signed-in user.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("sl", "en")
DEFAULT_LANGUAGE = "sl"
TIMEZONE = ZoneInfo("Europe/Ljubljana")
#: The Babel locale each language formats dates and amounts in.
LOCALES = {"sl": Locale.parse("sl_SI"), "en": Locale.parse("en_GB")}

_language: ContextVar[str] = ContextVar("language", default=DEFAULT_LANGUAGE)


def current_language() -> str:
    return _language.get()


def set_language(language: str) -> None:
    _language.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)


@contextmanager
def language(code: str) -> Iterator[None]:
    token = _language.set(code if code in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _language.reset(token)


@cache
def translations(code: str) -> NullTranslations:
    """Return the compiled catalogue of `code`, read from its .po file."""
    po = LOCALE_DIR / code / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=code)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


def gettext(message: str) -> str:
    return translations(_language.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_language.get()).ngettext(singular, plural, n)


def _locale() -> Locale:
    return LOCALES[_language.get()]


def format_datetime(value: datetime | None, style: str = "short") -> str:
    """Return `value` in Ljubljana time, as the user's language writes it."""
    if value is None:
        return ""
    return dates.format_datetime(value, style, tzinfo=TIMEZONE, locale=_locale())


def format_date(value: date | None, style: str = "medium") -> str:
    return dates.format_date(value, style, locale=_locale()) if value else ""


def format_amount(value: Decimal | float | None, currency: str = "EUR") -> str:
    if value is None:
        return ""
    return numbers.format_currency(value, currency, locale=_locale())


def format_number(value: Decimal | float | int | None) -> str:
    return "" if value is None else numbers.format_decimal(value, locale=_locale())


def format_duration(seconds: int | None) -> str:
    """Return a call's length as `m:ss` or `h:mm:ss`."""
    if seconds is None:
        return ""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_time_left(due: datetime | None, now: datetime) -> str:
    """Return how long until `due`, or how long it is overdue, in words of the user."""
    if due is None:
        return ""
    left = due - now
    text = dates.format_timedelta(
        abs(left), threshold=1.5, granularity="minute", format="short", locale=_locale()
    )
    if left < timedelta(0):
        return gettext("%(time)s overdue") % {"time": text}
    return gettext("%(time)s left") % {"time": text}


def format_iso_datetime(value: str | None) -> str:
    """Format a datetime given as ISO text (as in the customer view's JSON)."""
    return format_datetime(datetime.fromisoformat(value)) if value else ""


def N_(message: str) -> str:
    """Mark a text for the catalogue without translating it yet."""
    return message


#: Codes stored in the database, and how the pages name them.
LABELS = {
    "new": N_("new"),
    "open": N_("open"),
    "pending_customer": N_("pending customer"),
    "resolved": N_("resolved"),
    "closed": N_("closed"),
    "question": N_("question"),
    "complaint": N_("complaint"),
    "request": N_("request"),
    "meter_reading": N_("meter reading"),
    "change": N_("change"),
    "debt_collection": N_("debt collection"),
    "billing": N_("billing"),
    "supplier_switch": N_("supplier switch"),
    "connection": N_("connection"),
    "network_access": N_("network access"),
    "supply": N_("supply"),
    "outage": N_("outage"),
    "contract": N_("contract"),
    "payment": N_("payment"),
    "other": N_("other"),
    "active": N_("active"),
    "inactive": N_("inactive"),
    "draft": N_("draft"),
    "lead": N_("lead"),
    "info_office": N_("info office"),
    "back_office": N_("back office"),
    "call_centre": N_("call centre"),
}


def label(code: str | None) -> str:
    """Return the user's word for a stored code such as a status or a contract kind."""
    if not code:
        return ""
    return gettext(LABELS[code]) if code in LABELS else code.replace("_", " ")

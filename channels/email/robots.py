"""Mail from machines: auto-replies, bounces, bulk mail and Stik's own mail.

Such mail is recorded like any other, but never acknowledged and never opens a
ticket, so that two robots answering each other cannot loop through Stik.
"""

import re
from enum import StrEnum

from channels.email.parse import DeliveryReport, ParsedMail
from channels.email.settings import EmailSettings


class Robot(StrEnum):
    BOUNCE = "bounce"
    AUTO_REPLY = "auto_reply"
    BULK = "bulk"
    OWN = "own"  # sent from one of Stik's own addresses
    INTERNAL = "internal"  # an automatic answer from an employee's address


_OUT_OF_OFFICE = re.compile(
    r"^\s*(?:automatic reply|auto(?:matic)?[- ]?(?:reply|response)|autorespons|"
    r"out of (?:the )?office|abwesenheit|automatische antwort|odsotnost|"
    r"samodejni odgovor|samodejni odziv|avtomatski odgovor|odsoten|odsotna|"
    r"r[ée]ponse automatique|absence)",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery status notification|returned mail|mail delivery failed|"
    r"delivery (?:has )?failed|failure notice|nicht zustellbar|unzustellbar|"
    r"nedostavljiv|nedostavljen|non remis",
    re.IGNORECASE,
)
_DAEMON = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.IGNORECASE)
_NOREPLY = re.compile(
    r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply|ne[-_.]?odgovarjaj|"
    r"mailer-daemon|postmaster|bounces?)(?:[-+_.].*)?@",
    re.IGNORECASE,
)
_MESSAGE_ID_LINE = re.compile(r"^\s*Message-ID:\s*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)
_FAILED_ADDRESS = re.compile(r"<?([^\s<>@]+@[^\s<>@]+\.[a-z]{2,})>?", re.IGNORECASE)


def is_noreply(address: str | None) -> bool:
    """Tell whether an address says it takes no answers (noreply@, mailer-daemon@)."""
    return bool(address) and bool(_NOREPLY.match(address or ""))


def classify(mail: ParsedMail, settings: EmailSettings) -> Robot | None:
    """Return what kind of machine sent `mail`, or None for a person."""
    sender = (mail.sender_address or "").lower()
    headers = mail.headers
    if sender and sender in settings.watched_addresses:
        return Robot.OWN
    if "x-stik-ticket" in headers and headers.get("auto-submitted", "no") != "no":
        return Robot.OWN
    if mail.report is not None or _looks_like_bounce(mail):
        return Robot.BOUNCE

    automatic = (
        headers.get("auto-submitted", "no").strip().lower().split(";")[0] not in ("", "no")
        or headers.get("x-autoreply", "").strip().lower() in ("yes", "true", "1")
        or "x-autorespond" in headers
        or _OUT_OF_OFFICE.match(mail.subject or "") is not None
    )
    if automatic and _is_internal(sender, settings):
        return Robot.INTERNAL
    if automatic:
        return Robot.AUTO_REPLY
    if headers.get("precedence", "").strip().lower() in ("bulk", "junk", "list"):
        return Robot.BULK
    if headers.get("x-auto-response-suppress", "").strip().lower() in ("all", "oof, autoreply"):
        return Robot.AUTO_REPLY if _OUT_OF_OFFICE.search(mail.subject or "") else None
    return None


def _is_internal(sender: str, settings: EmailSettings) -> bool:
    domain = sender.rpartition("@")[2]
    return bool(domain) and domain in settings.internal_domains


def _looks_like_bounce(mail: ParsedMail) -> bool:
    sender = mail.sender_address or ""
    if "x-failed-recipients" in mail.headers:
        return True
    return bool(_DAEMON.match(sender)) and bool(_BOUNCE_SUBJECT.search(mail.subject or ""))


def delivery_report(mail: ParsedMail) -> DeliveryReport:
    """Return the bounce's report; plain-text bounces are read for what they quote."""
    report = mail.report or DeliveryReport(failed=(), original_message_id=None)
    failed = list(report.failed)
    if not failed and (listed := mail.headers.get("x-failed-recipients")):
        failed = [(m.lower(), "") for m in _FAILED_ADDRESS.findall(listed)]
    original = report.original_message_id
    if original is None:
        quoted = _MESSAGE_ID_LINE.findall(mail.text)
        original = quoted[0] if quoted else None
    if original is None and mail.thread_ids:
        original = mail.thread_ids[0]
    return DeliveryReport(failed=tuple(failed), original_message_id=original)

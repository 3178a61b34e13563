"""The acknowledgement a customer gets by email, with the ticket number.

With SMTP configured it goes out through the email channel's sender (see
`channels.web.service.submit`); the embedded default writes it as an .eml into
`<data dir>/outbox/`.
"""

import os
import uuid
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import structlog

from interactions.types import utcnow

log = structlog.get_logger(__name__)

SUBJECTS = {
    "sl": "Prejeli smo vaše sporočilo – zadeva {ticket}",
    "en": "We have received your message – case {ticket}",
}
BODIES = {
    "sl": (
        "Spoštovani,\n\nhvala za vaše sporočilo. Vodimo ga pod številko zadeve {ticket}.\n"
        "Prosimo, navedite jo, ko nam boste pisali o tej zadevi.\n\n"
        "To sporočilo je bilo poslano samodejno; nanj ne odgovarjajte.\n\n{brand}\n"
    ),
    "en": (
        "Dear customer,\n\nthank you for your message. It is filed as case {ticket}.\n"
        "Please quote this number whenever you write to us about it.\n\n"
        "This message was sent automatically; please do not reply to it.\n\n{brand}\n"
    ),
}


def build_acknowledgement(
    to: str, ticket: str, language: str, sender: str, brand: str
) -> EmailMessage:
    """Return the acknowledgement mail for `ticket` in the customer's language."""
    language = language if language in SUBJECTS else "sl"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = SUBJECTS[language].format(ticket=ticket)
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message["Content-Language"] = language
    message["X-Stik-Ticket"] = ticket
    message.set_content(BODIES[language].format(ticket=ticket, brand=brand))
    return message


def queue_acknowledgement(outbox: Path, message: EmailMessage) -> Path:
    """Write `message` into the outbox folder whole (temp file, then rename); return it."""
    outbox.mkdir(parents=True, exist_ok=True)
    name = f"{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex}.eml"
    partial = outbox / f".{name}.tmp"
    partial.write_bytes(message.as_bytes())
    os.replace(partial, outbox / name)
    log.info("acknowledgement_queued", ticket=message["X-Stik-Ticket"], file=name)
    return outbox / name

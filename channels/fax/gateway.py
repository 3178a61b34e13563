"""Faxes that arrive as mail from a fax-to-email gateway: channel fax, not email.

The email channel's intake (`channels.email.intake.ingest`) hands every message to
`record_gateway_mail` first when `[fax] gateways` is set; a message from a gateway
address is recorded here and the email channel records nothing of its own. The
sender's fax number comes from the gateway's headers or the subject.
"""

import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr

from channels.post.ocr import SCAN_TYPES
from channels.post.service import ScanResult, import_scan
from channels.web.uploads import sniff
from interactions.identifiers import InvalidIdentifier, normalize_phone
from interactions.models import Channel
from interactions.store import Store

#: Headers fax gateways put the calling number in, most specific first.
NUMBER_HEADERS = ("X-Fax-From", "X-Fax-Number", "X-Fax-Sender", "X-Sender-Fax", "X-Fax-CSID")
_NUMBER = re.compile(r"\+?\d[\d\s/().-]{5,20}\d")


@dataclass(frozen=True)
class GatewayFax:
    """The fax inside a gateway mail: the sender's number and the document."""

    message_id: str
    number: str | None
    filename: str
    data: bytes


def parse_gateway_mail(raw: bytes, gateways: frozenset[str]) -> list[GatewayFax] | None:
    """Return the faxes in `raw` when it comes from a gateway address, else None."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    sender = parseaddr(str(message.get("From", "")))[1].lower()
    if sender not in gateways:
        return None
    number = fax_number(message)
    message_id = str(message.get("Message-ID", "")).strip()
    faxes = []
    for index, part in enumerate(message.iter_attachments()):
        data = part.get_payload(decode=True)
        if isinstance(data, bytes) and sniff(data) in SCAN_TYPES:
            name = part.get_filename() or f"fax-{index + 1}"
            faxes.append(GatewayFax(message_id, number, name, data))
    return faxes


def fax_number(message: EmailMessage) -> str | None:
    """The calling fax number, from a gateway header or else the subject, in E.164."""
    candidates = [str(message.get(h, "")) for h in NUMBER_HEADERS]
    candidates.append(str(message.get("Subject", "")))
    for candidate in candidates:
        for match in _NUMBER.finditer(candidate):
            try:
                return normalize_phone(match.group(0))
            except InvalidIdentifier:
                continue
    return None


async def record_gateway_mail(
    store: Store, raw: bytes, gateways: frozenset[str]
) -> list[ScanResult] | None:
    """Record the faxes of a gateway mail; None when the mail is not from a gateway.

    A gateway mail without a readable fax document is still one fax activity, its raw
    mail kept as the document, marked for a person.
    """
    faxes = parse_gateway_mail(raw, gateways)
    if faxes is None:
        return None
    if not faxes:
        faxes = [GatewayFax("", None, "gateway-mail.eml", raw)]
    results = []
    for index, fax in enumerate(faxes):
        external_id = f"fax:mail:{fax.message_id}:{index}" if fax.message_id else None
        results.append(
            await import_scan(
                store,
                fax.data,
                fax.filename,
                channel=Channel.FAX,
                external_id=external_id,
                sender_number=fax.number,
                meta={"source": "fax_gateway"},
                require_scan=False,
            )
        )
    return results

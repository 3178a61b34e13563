"""Raw mail bytes into what Stik keeps: sender, subject, text, HTML, attachments, notes.

The standard library's `email` package splits the MIME tree (with its `compat32`
policy: `policy.default` re-parses every header it is asked for and made the parser
nine times slower); header values are decoded by `email.header` and `charsets`, which
also handles what the standard library cannot (unknown, undeclared or wrong
charsets); HTML goes through nh3 and inscriptis, winmail.dat through tnefparse.
Parsing never raises: what cannot be read is noted and kept as an attachment, and the
raw bytes are kept by the caller in any case.
"""

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import collapse_rfc2231_value, getaddresses, parsedate_to_datetime

import structlog

from channels.email.charsets import decode_bytes, decode_words, detect, has_surrogates
from channels.email.html import html_to_text, sanitise_html
from channels.email.reply import base_subject
from interactions.contacts import Attachment

log = structlog.get_logger(__name__)

CHARSET_FALLBACK = "charset fallback used"
DATE_FALLBACK = "date unreadable, received time used"
MESSAGE_ID_DERIVED = "message-id derived from the raw bytes"
UNPARSEABLE_PART = "a part could not be decoded and is kept as an attachment"

#: Headers the robot and loop checks read, kept in `ParsedMail.headers`.
ROBOT_HEADERS = (
    "auto-submitted",
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "return-path",
    "x-failed-recipients",
    "x-stik-ticket",
)
MAX_DEPTH = 12
_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")
_BARE_ADDRESS = re.compile(r"[^\s<>\"',;:()]+@[^\s<>\"',;:()]+\.[A-Za-z]{2,}")
_HTML_META_CHARSET = re.compile(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9_.:-]+)", re.IGNORECASE)


@dataclass(frozen=True)
class DeliveryReport:
    """What a bounce says: which recipients failed, and which message it was."""

    failed: tuple[tuple[str, str], ...]  # (address, status such as 5.1.1)
    original_message_id: str | None


@dataclass
class ParsedMail:
    message_id: str
    subject: str
    date: datetime
    sender_address: str | None = None
    sender_name: str | None = None
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    text: str = ""
    html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/plain"
    report: DeliveryReport | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def base_subject(self) -> str:
        return base_subject(self.subject)

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this mail answers, the nearest first."""
        ids = [*self.in_reply_to, *reversed(self.references)]
        return list(dict.fromkeys(i for i in ids if i != self.message_id))

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def stable_id(raw: bytes) -> str:
    """Return a Message-ID derived from the raw bytes, the same for LF and CRLF copies."""
    digest = hashlib.sha256(raw.replace(b"\r\n", b"\n").rstrip(b"\n")).hexdigest()
    return f"<{digest[:40]}@stik.invalid>"


def normalize_message_id(value: str | None) -> str | None:
    """Return `<id>` from a header value; a Message-ID without brackets is bracketed."""
    if not value:
        return None
    found = _MESSAGE_ID.search(value)
    if found:
        return f"<{found.group(1)[:390]}>"
    token = value.strip().split()[0] if value.strip() else ""
    return f"<{token[:390]}>" if "@" in token else None


def message_ids(value: str | None) -> tuple[str, ...]:
    """Return every `<id>` in a References or In-Reply-To value, in order, once each."""
    if not value:
        return ()
    found = [f"<{m[:390]}>" for m in _MESSAGE_ID.findall(value)]
    if not found and (single := normalize_message_id(value)):
        found = [single]
    return tuple(dict.fromkeys(found))


def parse_mail(raw: bytes, received_at: datetime) -> ParsedMail:
    """Parse `raw`; whatever goes wrong, return what could be read, with notes."""
    try:
        return _parse(raw, received_at)
    except Exception as exc:  # the last line of defence: a record, never a crash
        log.warning("email_parse_failed", error=type(exc).__name__)
        text, _ = decode_bytes(raw[:1_000_000])
        parsed = ParsedMail(message_id=stable_id(raw), subject="", date=received_at, text=text)
        parsed.note(f"unparseable message ({type(exc).__name__}), raw bytes kept")
        return parsed


def _parse(raw: bytes, received_at: datetime) -> ParsedMail:
    message = BytesParser(policy=policy.compat32).parsebytes(_repair(raw))
    hint = _charset_hint(message) or _guess_charset(raw)
    reader = _HeaderReader(message, hint)

    message_id = normalize_message_id(reader.text("message-id"))
    parsed = ParsedMail(
        message_id=message_id or stable_id(raw),
        subject=reader.text("subject"),
        date=_date(reader.text("date"), received_at),
        in_reply_to=message_ids(reader.text("in-reply-to")),
        references=message_ids(" ".join(reader.all("references"))),
        content_type=message.get_content_type(),
        headers={n: v for n in ROBOT_HEADERS if (v := reader.text(n))},
    )
    if message_id is None:
        parsed.note(MESSAGE_ID_DERIVED)
    if parsed.date is received_at:
        parsed.note(DATE_FALLBACK)

    senders = reader.addresses("from") or reader.addresses("sender")
    if senders:
        parsed.sender_name, parsed.sender_address = senders[0]
    parsed.to = tuple(a for _, a in reader.addresses("to"))
    parsed.cc = tuple(a for _, a in reader.addresses("cc"))
    if reader.fallback:
        parsed.note(CHARSET_FALLBACK)

    _Body(parsed, hint).walk(message, depth=0)
    return parsed


_HEADER_LINE = re.compile(rb"^(?:[!-9;-~]+[ \t]*:|[ \t]|From )")


def _repair(raw: bytes) -> bytes:
    """Drop a `---- Original email message ----` line before the headers, and join
    header lines that lost their folding white space onto the header above them."""
    first, _, rest = raw.partition(b"\n")
    if rest and first.strip().startswith(b"--") and b":" not in first:
        raw = rest
    end = raw.find(b"\n\r\n") if b"\r\n" in raw[:2000] else raw.find(b"\n\n")
    if end < 0:
        return raw
    head = raw[: end + 1].split(b"\n")
    if all(_HEADER_LINE.match(line) or not line.strip() for line in head):
        return raw
    fixed = [line if _HEADER_LINE.match(line) or not line.strip() else b" " + line for line in head]
    return b"\n".join(fixed) + raw[end + 1 :]


def _charset_hint(message: Message) -> str | None:
    for part in message.walk():
        charset = _param(part, "charset")
        if charset and charset.strip():
            return charset
    return None


def _param(part: Message, name: str) -> str | None:
    """Return a Content-Type parameter as text, RFC 2231 continuations joined."""
    try:
        value = part.get_param(name)
    except Exception:
        return None
    if value is None:
        return None
    text = collapse_rfc2231_value(value)  # type: ignore[arg-type]
    return text if isinstance(text, str) else None


def _guess_charset(raw: bytes) -> str | None:
    """Guess the charset of undeclared 8-bit mail from all its non-ASCII lines."""
    lines = [line for line in raw[:200_000].splitlines() if not line.isascii()]
    if not lines:
        return None
    sample = b"\n".join(lines)
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError:
        return detect(sample)
    return "utf-8"


def _date(value: str, received_at: datetime) -> datetime:
    if not value:
        return received_at
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return received_at
    if when is None:
        return received_at
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    when = when.astimezone(UTC)
    if not datetime(1980, 1, 1, tzinfo=UTC) <= when <= received_at + timedelta(days=2):
        return received_at
    return when


class _HeaderReader:
    """Header values as text, falling back to raw values where the parser gives up."""

    def __init__(self, message: Message, hint: str | None) -> None:
        self.message = message
        self.hint = hint
        self.fallback = False

    def raw_values(self, name: str) -> list[str]:
        return [v for k, v in self.message.raw_items() if k.lower() == name]

    def all(self, name: str) -> list[str]:
        values = []
        for raw in self.raw_values(name):
            text, used = decode_words(raw, self.hint)
            self.fallback = self.fallback or used
            values.append(_unfold(text))
        return values

    def text(self, name: str) -> str:
        """Return the first header `name`, decoded, on one line."""
        return (self.all(name) or [""])[0]

    def addresses(self, name: str) -> list[tuple[str | None, str]]:
        """Return (display name, address) pairs of every header `name`."""
        found: list[tuple[str | None, str]] = []
        for value in self.all(name):
            pairs = getaddresses([value])
            good = [(n, a) for n, a in pairs if "@" in a]
            if not good:
                good = [("", a) for a in _BARE_ADDRESS.findall(value)]
            for display, address in good:
                address = address.replace('"', "").strip().strip("'<>").lower()
                if _BARE_ADDRESS.fullmatch(address) or "@" in address:
                    found.append((display.strip().strip('"') or None, address[:320]))
        return found


def _unfold(value: str) -> str:
    return re.sub(r"\s*[\r\n]+\s*", " ", value).strip()


class _Body:
    """Walks the MIME tree once, collecting text, HTML and attachments in order."""

    def __init__(self, parsed: ParsedMail, hint: str | None = None) -> None:
        self.parsed = parsed
        self.hint = hint
        self.texts: list[str] = []
        self.htmls: list[str] = []
        self.counter = 0
        self.report_type: str | None = None
        self.failed: list[tuple[str, str]] | None = None
        self.original_id: str | None = None

    def walk(self, part: Message, depth: int) -> None:
        self._visit(part, depth)
        text = "\n\n".join(t.strip("\r\n") for t in self.texts if t.strip())
        self.parsed.text = text.replace("\r\n", "\n").replace("\r", "\n")
        if self.htmls:
            self.parsed.html = sanitise_html("\n".join(self.htmls))
        if self.failed is not None or self.report_type == "delivery-status":
            self.parsed.report = DeliveryReport(tuple(self.failed or ()), self.original_id)

    def _visit(self, part: Message, depth: int) -> None:
        if depth > MAX_DEPTH:
            self.parsed.note("MIME nesting too deep; the rest is in the raw message")
            return
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            self._enclosed(part, depth)
        elif kind == "message/delivery-status":
            self._delivery_status(part)
        elif part.is_multipart():
            self._multipart(part, kind, depth)
        elif kind in ("application/ms-tnef", "application/vnd.ms-tnef") or (
            (self._filename(part) or "").lower() == "winmail.dat"
        ):
            self._tnef(part)
        elif kind in ("text/plain", "text/html") and not self._is_attachment(part):
            self._text(part, kind)
            if self._filename(part) is not None:  # a named inline text: shown and kept
                self._attach(part, kind)
        else:
            self._attach(part, kind)

    def _multipart(self, part: Message, kind: str, depth: int) -> None:
        children = part.get_payload()
        if not isinstance(children, list):
            if _payload(part).strip():
                self._attach(part, "application/octet-stream")
            return
        if kind == "multipart/alternative":
            self._alternative(children, depth)
            return
        if kind == "multipart/report" and depth == 0:
            report_type = _param(part, "report-type")
            self.report_type = report_type.lower() if report_type else None
        for child in children:
            self._visit(child, depth + 1)

    def _alternative(self, children: list[Message], depth: int) -> None:
        """Prefer a non-empty text/plain, then HTML, then anything; keep calendar parts."""
        chosen: Message | None = None
        for wanted in ("text/plain", "text/html"):
            for child in children:
                if child.get_content_type() == wanted and self._decoded_text(child).strip():
                    chosen = child
                    break
            if chosen is not None:
                break
        if chosen is None:
            chosen = next((c for c in children if c.is_multipart()), None)
        html = next((c for c in children if c.get_content_type() == "text/html"), None)
        if chosen is not None:
            self._visit(chosen, depth + 1)
        if html is not None and html is not chosen and not chosen_is_html(chosen):
            self.htmls.append(self._decoded_text(html))
        for child in children:
            if child is chosen or child.get_content_type() in ("text/plain", "text/html"):
                continue
            if not child.is_multipart():
                self._attach(child, child.get_content_type())

    def _text(self, part: Message, kind: str) -> None:
        text = self._decoded_text(part)
        if kind == "text/html":
            self.htmls.append(text)
            text = html_to_text(text)
        self.texts.append(text)

    def _decoded_text(self, part: Message) -> str:
        data = _payload(part)
        declared = _param(part, "charset")
        if declared is None and part.get_content_type() == "text/html":
            meta = _HTML_META_CHARSET.search(data[:4096])
            declared = meta.group(1).decode("ascii") if meta else None
        text, fallback = decode_bytes(data, declared or self.hint)
        if fallback or (declared is None and not data.isascii()):
            self.parsed.note(CHARSET_FALLBACK)
        return text

    def _enclosed(self, part: Message, depth: int) -> None:
        """A forwarded or bounced mail: kept whole as .eml, its text shown after ours."""
        inner = part.get_payload()
        message = inner[0] if isinstance(inner, list) and inner else None
        data = message.as_bytes(policy=policy.compat32) if isinstance(message, Message) else b""
        if not data:
            data = _payload(part)
        self.counter += 1
        subject = ""
        if isinstance(message, Message):
            reader = _HeaderReader(message, None)
            subject = reader.text("subject")
            if self.report_type == "delivery-status" and self.original_id is None:
                self.original_id = normalize_message_id(reader.text("message-id"))
            inner_body = _Body(ParsedMail(message_id="", subject="", date=self.parsed.date))
            inner_body.walk(message, depth + 1)
            forwarded = inner_body.parsed.text
            if forwarded.strip():
                header = f"---------- {subject or 'forwarded message'} ----------"
                self.texts.append(f"{header}\n{forwarded}")
        name = self._filename(part) or _safe_filename(subject or f"message-{self.counter}") + ".eml"
        self.parsed.attachments.append(Attachment(name, "message/rfc822", data))

    def _delivery_status(self, part: Message) -> None:
        data = _payload(part)
        blocks = part.get_payload()
        failed: list[tuple[str, str]] = []
        if isinstance(blocks, list):
            for block in blocks:
                if not isinstance(block, Message):
                    continue
                action = str(block.get("action", "")).strip().lower()
                recipient = str(block.get("final-recipient") or block.get("original-recipient"))
                status = str(block.get("status", "")).strip()
                address = recipient.split(";", 1)[-1].strip().strip("<>").lower()
                if "@" in address and (action == "failed" or status.startswith("5")):
                    failed.append((address[:320], status[:20]))
            data = data or "\n\n".join(b.as_string() for b in blocks).encode()
        self.failed = failed
        self.parsed.attachments.append(Attachment("delivery-status.txt", "text/plain", data))

    def _tnef(self, part: Message) -> None:
        """Unpack winmail.dat: its files and body become ours; the original is kept."""
        data = _payload(part)
        self.parsed.attachments.append(Attachment("winmail.dat", "application/ms-tnef", data))
        try:
            from tnefparse.tnef import TNEF

            tnef = TNEF(data)
        except Exception:
            self.parsed.note("winmail.dat could not be unpacked; kept as it came")
            return
        codepage = getattr(tnef, "codepage", None)
        for item in tnef.attachments:
            try:
                name = item.long_filename() or item.name
                payload = bytes(item.data)
            except Exception:
                continue
            if isinstance(name, bytes):
                name = decode_bytes(name, codepage)[0]
            name = _safe_filename(str(name or "").rstrip("\x00")) if name else "tnef-part"
            self.parsed.attachments.append(Attachment(name, "application/octet-stream", payload))
        body = getattr(tnef, "body", None) or getattr(tnef, "htmlbody", None)
        if isinstance(body, bytes):
            body = decode_bytes(body.rstrip(b"\x00"), codepage)[0]
        if isinstance(body, str) and body.strip():
            self.texts.append(html_to_text(body) if "<" in body[:200] else body)

    def _attach(self, part: Message, kind: str) -> None:
        data = _payload(part)
        if kind == "text/rfc822-headers" and self.original_id is None:
            found = re.search(rb"^Message-ID:\s*(.+)$", data, re.IGNORECASE | re.MULTILINE)
            if found:
                self.original_id = normalize_message_id(found.group(1).decode("latin-1"))
        name = self._filename(part)
        if name is None:
            self.counter += 1
            name = f"part-{self.counter}{_extension(kind)}"
        self.parsed.attachments.append(Attachment(name, kind, data))

    def _filename(self, part: Message) -> str | None:
        try:
            name = part.get_filename()
        except Exception:
            name = None
        if name is None:
            name = _param(part, "name")
        if name and (has_surrogates(name) or "=?" in name):
            name, _ = decode_words(name)
        return _safe_filename(name) if name else None

    def _is_attachment(self, part: Message) -> bool:
        try:
            disposition = part.get_content_disposition()
        except Exception:
            disposition = None
        return disposition == "attachment" or (
            disposition != "inline" and self._filename(part) is not None
        )


def chosen_is_html(part: Message | None) -> bool:
    return part is not None and part.get_content_type() == "text/html"


def _payload(part: Message) -> bytes:
    """Return the decoded bytes of a leaf part, tolerating broken transfer encodings."""
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    if isinstance(raw, list):
        return b"\n".join(p.as_bytes(policy=policy.compat32) for p in raw if isinstance(p, Message))
    return b""


def _safe_filename(name: str) -> str:
    cleaned = re.sub(r"[\x00-\x1f\x7f/\\]+", "_", name).strip(" .")
    return cleaned[:200] or "attachment"


_EXTENSIONS = {
    "text/plain": ".txt",
    "text/html": ".html",
    "text/calendar": ".ics",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/gif": ".gif",
    "application/pdf": ".pdf",
    "text/rfc822-headers": ".txt",
}


def _extension(kind: str) -> str:
    return _EXTENSIONS.get(kind, ".bin")


__all__ = [
    "CHARSET_FALLBACK",
    "DATE_FALLBACK",
    "MESSAGE_ID_DERIVED",
    "DeliveryReport",
    "ParsedMail",
    "normalize_message_id",
    "parse_mail",
    "stable_id",
]

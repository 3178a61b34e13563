"""What a reply looks like: its base subject, quoted ticket numbers, new text vs history."""

import re
from dataclasses import dataclass

from interactions.identifiers import format_ticket_number

#: Reply and forward prefixes in the languages Stik's customers and partners write in.
_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|odg|odgovor|fw|fwd|wg|tr|rv|enc|posr|posred|antw|r)"
    r"(?:\s*\[\d+\]|\s*\(\d+\))?\s*\.?\s*:\s*)+",
    re.IGNORECASE,
)
_TAG = re.compile(r"\[#?\s*(\d{4})\s*-\s*(\d{6})\s*\]")
_LOOSE_NUMBER = re.compile(r"(?<![\d-])(20\d{2})-(\d{6})(?![\d-])")
_SPACES = re.compile(r"\s+")

_ATTRIBUTION = re.compile(
    r"^\s*(?:On|Am|Le|El|Il|Dne|Op|W dniu|Den|På|Em)\b.{0,200}?"
    r"(?:wrote|schrieb|a écrit|escribió|ha scritto|napisal(?:a|\(a\))?|je napisal\w*|"
    r"schreef|napisał\w*|skrev|escreveu)\s*:?\s*$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(?:Original Message|Izvirno sporočilo|Ursprüngliche Nachricht|"
    r"Forwarded message|Posredovano sporočilo|Original email message|Weitergeleitete Nachricht)"
    r"\s*-{2,}\s*$",
    re.IGNORECASE,
)
_HEADER_BLOCK = re.compile(r"^\s*\**(?:From|Von|Od|De|Van|Fra)\**\s*:", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\s*\**(?:Sent|Date|Gesendet|Datum|Poslano|Envoyé|Verzonden|To|An|Za|Subject|Zadeva)\**\s*:",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(
    r"^(?:--\s?|__+|Sent from my .*|Poslano (?:iz|z) (?:mojega|moje|mobilnega) .*|"
    r"Von meinem .* gesendet|Get Outlook for .*)$",
    re.IGNORECASE,
)


def base_subject(subject: str) -> str:
    """Return `subject` without reply/forward prefixes, ticket tags and extra spaces."""
    text = _TAG.sub(" ", subject or "")
    previous = None
    while previous != text:
        previous = text
        text = _PREFIX.sub("", text).strip()
    return _SPACES.sub(" ", text).strip()


def ticket_numbers(subject: str) -> list[str]:
    """Return the ticket numbers a subject quotes: `[#2026-000123]`, then bare ones."""
    found: list[str] = []
    for pattern in (_TAG, _LOOSE_NUMBER):
        for year, sequence in pattern.findall(subject or ""):
            number = format_ticket_number(int(year), int(sequence))
            if number not in found:
                found.append(number)
    return found


def tag_subject(subject: str, ticket_number: str) -> str:
    """Return a reply subject: `Re: base [#number]`, one tag and one prefix only."""
    base = base_subject(subject) or ticket_number
    return f"Re: {base} [#{ticket_number}]"


@dataclass(frozen=True)
class ReplyParts:
    new_text: str
    signature: str
    quoted: str


def split_reply(text: str) -> ReplyParts:
    """Separate the new text of a mail from its signature and the quoted history."""
    lines = text.splitlines()
    cut = _history_start(lines)
    head, quoted = lines[:cut], lines[cut:]

    sign = next((i for i, line in enumerate(head) if _SIGNATURE.match(line.rstrip())), None)
    if sign is not None and sign > 0 and len(head) - sign <= 12:
        new, signature = head[:sign], head[sign:]
    else:
        new, signature = head, []
    return ReplyParts(
        new_text="\n".join(new).strip(),
        signature="\n".join(signature).strip(),
        quoted="\n".join(quoted).strip(),
    )


def _history_start(lines: list[str]) -> int:
    seen_text = False
    quoted_from: int | None = None  # start of the current run of quoted or blank lines
    for i, line in enumerate(lines):
        if i > 0 and (_SEPARATOR.match(line) or _attribution_at(lines, i)):
            return i
        if (
            i > 0
            and _HEADER_BLOCK.match(line)
            and any(_HEADER_NEXT.match(nxt) for nxt in lines[i + 1 : i + 4])
        ):
            return i
        if line.startswith(">"):
            if quoted_from is None and seen_text:
                quoted_from = i
        elif line.strip():
            seen_text, quoted_from = True, None
    return quoted_from if quoted_from is not None else len(lines)


def _attribution_at(lines: list[str], i: int) -> bool:
    if _ATTRIBUTION.match(lines[i]):
        return True
    joined = lines[i] + " " + lines[i + 1] if i + 1 < len(lines) else ""
    return bool(joined) and bool(_ATTRIBUTION.match(joined)) and len(joined) < 300

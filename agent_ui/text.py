"""Customer text made safe to show: HTML reduced to text, quoted history folded away.

Nothing a customer wrote is ever rendered as HTML: an HTML body is cleaned by nh3
down to its text, and the templates escape whatever they print.
"""

import html
import re
from dataclasses import dataclass

import nh3

#: Lines that start the quoted history of a reply, in the languages customers write.
_QUOTE_HEADER = re.compile(
    r"^\s*("
    r"-{2,}\s*(original message|izvirno sporočilo|ursprüngliche nachricht|"
    r"forwarded message|posredovano sporočilo)\s*-{2,}"
    r"|on .{3,200} wrote:"
    r"|dne .{3,200}(je|so) .{0,80}napisal[a]?:"
    r"|am .{3,200} schrieb .{0,80}:"
    r"|(from|od|von):\s.+"
    r")\s*$",
    re.IGNORECASE,
)
_BLOCK_TAGS = re.compile(r"(?i)<\s*/?\s*(br|p|div|li|tr|h[1-6]|blockquote|table)\b[^>]*>")


@dataclass(frozen=True)
class ShownText:
    body: str
    quoted: str


def html_to_text(markup: str) -> str:
    """Return the readable text of customer HTML, with no tags left."""
    with_breaks = _BLOCK_TAGS.sub("\n", markup)
    cleaned = nh3.clean(with_breaks, tags=set(), attributes={}, strip_comments=True)
    text = html.unescape(cleaned)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def split_quoted(text: str) -> ShownText:
    """Split a message into what the sender wrote now and the quoted history below it."""
    lines = text.replace("\r\n", "\n").split("\n")
    for n, line in enumerate(lines):
        if _QUOTE_HEADER.match(line) or (line.startswith(">") and _rest_quoted(lines[n:])):
            return ShownText("\n".join(lines[:n]).rstrip(), "\n".join(lines[n:]).strip())
    return ShownText(text.strip(), "")


def _rest_quoted(lines: list[str]) -> bool:
    meaningful = [line for line in lines if line.strip()]
    return all(line.startswith(">") for line in meaningful)


def shown_text(text: str | None, html_body: str | None = None) -> ShownText:
    """Return what the timeline shows of a message: plain text, or the text of its HTML."""
    if text and text.strip():
        return split_quoted(text)
    if html_body:
        return split_quoted(html_to_text(html_body))
    return ShownText("", "")

"""Text out of mail bytes whose charset is declared, undeclared or declared wrongly.

Declared charsets are looked up through Python's codecs with the aliases real mail
uses (`1252`, `win-1250`, `unicode-1-1-utf-7`); what cannot be decoded as declared is
detected with charset-normalizer, and the caller is told that a fallback was used.
"""

import codecs
import re
from email.header import decode_header

import charset_normalizer

#: Names seen in real mail that Python's codecs do not know, or know as another thing.
ALIASES = {
    "unicode-1-1-utf-7": "utf-7",
    "ks_c_5601-1987": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "gb2312": "gb18030",
    "x-gbk": "gb18030",
    "x-sjis": "shift_jis",
    "ansi_x3.4-1968": "ascii",
    "us-ascii": "ascii",
    "latin-2": "iso-8859-2",
}

#: Windows supersets of ISO charsets: mail declared as the ISO one often is the other.
WINDOWS_SIBLING = {"iso8859-1": "cp1252", "iso8859-2": "cp1250", "iso8859-15": "cp1252"}

_WINDOWS_NUMBER = re.compile(r"^(?:windows|win|cp|x-cp|ms)?[-_ ]?(12[5-8]\d)$")
_C1_CONTROLS = re.compile("[\x80-\x9f]")
_DETECT_LIMIT = 64 * 1024
_FOLD = re.compile(r"\r?\n(?=[ \t])")


def lookup_charset(name: str | None) -> str | None:
    """Return the Python codec for a declared charset, or None when it is unknown."""
    if not name:
        return None
    cleaned = name.strip().strip("\"'").lower()
    cleaned = ALIASES.get(cleaned, cleaned)
    number = _WINDOWS_NUMBER.match(cleaned)
    if number:
        cleaned = "cp" + number.group(1)
    try:
        info = codecs.lookup(cleaned)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True):
        return None  # base64, zlib, rot13: codecs, not charsets
    return info.name


def detect(data: bytes) -> str | None:
    """Return the codec charset-normalizer finds most plausible for `data`, if any."""
    best = charset_normalizer.from_bytes(data[:_DETECT_LIMIT]).best()
    return lookup_charset(best.encoding) if best is not None else None


def decode_bytes(data: bytes, declared: str | None = None) -> tuple[str, bool]:
    """Return (text, fallback_used): `data` decoded as declared, or as well as can be."""
    codec = lookup_charset(declared)
    if codec is not None:
        text = _strict(data, codec)
        if text is not None and not _C1_CONTROLS.search(text):
            return text, False
        sibling = WINDOWS_SIBLING.get(codec)
        if text is not None and sibling is None:
            return text, False
        if sibling is not None and (fixed := _strict(data, sibling)) is not None:
            return fixed, False

    if data.isascii():
        return data.decode("ascii"), declared is not None and codec is None
    utf8 = _strict(data, "utf-8")
    if utf8 is not None:
        return utf8, declared is not None
    guess = detect(data)
    if guess is not None and (text := _strict(data, guess)) is not None:
        return text, True
    return data.decode("cp1252", errors="replace"), True


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_words(value: str, hint: str | None = None) -> tuple[str, bool]:
    """Decode RFC 2047 encoded words and raw 8-bit bytes in one header value."""
    value = _FOLD.sub("", value)
    raw = value.encode("ascii", "surrogateescape") if _has_surrogates(value) else None
    if raw is not None:
        value, fallback = decode_bytes(raw, hint)
    else:
        fallback = False
    try:
        chunks = decode_header(value)
    except Exception:
        return value, fallback

    pieces: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            pieces.append(chunk)
            continue
        text, used = decode_bytes(chunk, charset or hint)
        fallback = fallback or used
        pieces.append(text)
    return "".join(pieces), fallback


def _has_surrogates(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)


def has_surrogates(value: str) -> bool:
    """Tell whether `value` carries raw bytes the parser could not decode."""
    return _has_surrogates(value)

"""Text folding and phrase matching that tolerate missing diacritics and inflection.

`fold` lower-cases and strips diacritics without changing the length of the text, so
that a span found in the folded text is the same span in the original. Phrases are
written as words where a trailing `*` marks a stem: `elektrik*` matches "elektrike",
"elektriko" and "elektrika", which is how Slovenian inflection is tolerated.
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_SPECIAL = {"đ": "d", "ł": "l", "ø": "o", "ß": "s", "æ": "a", "œ": "o", "ı": "i"}
_WORD = re.compile(r"[a-z0-9]+")


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    lower = char.lower()
    if len(lower) != 1:
        return char
    if lower in _SPECIAL:
        return _SPECIAL[lower]
    base = unicodedata.normalize("NFKD", lower)[:1]
    return base if base and unicodedata.combining(base) == 0 else lower


def fold(text: str) -> str:
    """Return `text` lower-cased and without diacritics, of the same length."""
    if text.isascii():
        return text.lower()
    return "".join(_fold_char(char) for char in text)


def words(folded: str) -> list[str]:
    """Return the alphanumeric words of folded text."""
    return _WORD.findall(folded)


@dataclass(frozen=True)
class Phrase:
    """A phrase of words and stems, matched in order within a small window."""

    text: str
    parts: tuple[tuple[str, bool], ...]  # (word, is_stem)

    @classmethod
    def parse(cls, text: str) -> "Phrase":
        parts = tuple(
            (word.rstrip("*"), word.endswith("*")) for word in fold(text).split() if word != "*"
        )
        return cls(text=text, parts=tuple((w, s) for w, s in parts if w))

    def matches(self, tokens: list[str], gap: int = 1) -> bool:
        """True when every part occurs in order, at most `gap` words apart."""
        if not self.parts:
            return False
        for start, token in enumerate(tokens):
            if not _part_matches(self.parts[0], token):
                continue
            position = start
            for part in self.parts[1:]:
                window = tokens[position + 1 : position + 2 + gap]
                found = next((i for i, t in enumerate(window) if _part_matches(part, t)), None)
                if found is None:
                    break
                position += found + 1
            else:
                return True
        return False


def _part_matches(part: tuple[str, bool], token: str) -> bool:
    word, is_stem = part
    return token.startswith(word) if is_stem else token == word


def any_phrase(phrases: tuple[Phrase, ...], tokens: list[str]) -> Phrase | None:
    """Return the first of `phrases` found in `tokens`, or None."""
    return next((phrase for phrase in phrases if phrase.matches(tokens)), None)

"""Text folding and phrase matching that tolerate missing diacritics and inflection.

`fold` lower-cases and strips diacritics without changing the length of the text, so
that a span found in the folded text is the same span in the original. Phrases are
written as words where a trailing `*` marks a stem: `elektrik*` matches "elektrike",
"elektriko" and "elektrika", which is how Slovenian inflection is tolerated.
"""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

_SPECIAL = {"đ": "d", "ł": "l", "ø": "o", "ß": "s", "æ": "a", "œ": "o", "ı": "i"}
_WORD = re.compile(r"[a-z0-9]+")

#: The file a retrained model is kept in, inside the model folder.
MODEL_FILE = "model.joblib"
MAX_MODEL_TEXT = 4000


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
class PhraseGroup:
    """Phrases of words and stems, any of which may occur; compiled to one pattern.

    The words of a phrase occur in order, with at most `gap` other words between them.
    """

    phrases: tuple[str, ...]
    pattern: re.Pattern[str]

    @classmethod
    def parse(cls, phrases: Iterable[str], gap: int = 1) -> "PhraseGroup":
        texts = tuple(str(p) for p in phrases)
        between = rf"(?: [a-z0-9]+){{0,{gap}}} "
        alternatives = []
        for text in texts:
            parts = [_part_pattern(word) for word in fold(text).split() if word.rstrip("*")]
            if parts:
                alternatives.append(between.join(parts))
        if not alternatives:
            return cls(texts, re.compile(r"(?!x)x"))
        joined = "|".join(alternatives)
        return cls(texts, re.compile(rf"(?<![a-z0-9])(?:{joined})(?![a-z0-9])"))

    def search(self, tokens: list[str]) -> str | None:
        """Return the words that matched in `tokens`, or None."""
        match = self.pattern.search(" ".join(tokens))
        return match.group() if match else None


def _part_pattern(word: str) -> str:
    stem = word.endswith("*")
    escaped = re.escape(word.rstrip("*"))
    return escaped + "[a-z0-9]*" if stem else escaped


def model_text(subject: str | None, body: str | None) -> str:
    """Return what the model reads: the subject, then the start of the body."""
    return f"{(subject or '')[:1000]}\n{(body or '')[:MAX_MODEL_TEXT]}"

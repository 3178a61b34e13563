"""Normal forms of what a contact carries: names, addresses, phones, emails, identifiers.

Every function here takes arbitrary text and never raises: what cannot be read
becomes empty (or None). Each is idempotent, so a stored normal form can be fed
back in. Diacritics are folded for comparison only; callers keep the text as given
for display. The identifier checks themselves live in `interactions.identifiers`.
"""

import contextlib
import re
import unicodedata
from dataclasses import dataclass

import phonenumbers

from interactions.identifiers import (
    InvalidIdentifier,
    is_tax_number,
    normalize_gsrn,
    normalize_phone,
    split_email,
)

#: Letters that Unicode does not decompose into a base letter and a mark.
_FOLD_EXTRA = str.maketrans(
    {"đ": "dj", "Đ": "dj", "ß": "ss", "æ": "ae", "ø": "o", "ł": "l", "ı": "i", "œ": "oe"}
)
_NON_WORD = re.compile(r"[^0-9a-z]+")

#: Honorifics and academic titles, folded, that are not part of a name.
TITLES = frozenset(
    [
        "dr",
        "mag",
        "prof",
        "ing",
        "inz",
        "univ",
        "dipl",
        "spec",
        "doc",
        "mr",
        "mrs",
        "ms",
        "miss",
        "sir",
        "ga",
        "gdc",
        "gospod",
        "gospa",
        "gospodicna",
        "prim",
        "visja",
        "vis",
        "akad",
    ]
)

#: Legal-form suffixes of organisations, as folded token sequences.
_LEGAL_FORMS = re.compile(
    r"\b(?:d o o|d d|s p|d n o|k d|k d d|so p|z o o|gmbh|ltd|llc|inc|ag|srl|doo|dd|sp)\b"
)

#: Street-name abbreviations, folded, and their full words.
STREET_WORDS = {
    "c": "cesta",
    "ce": "cesta",
    "cst": "cesta",
    "ul": "ulica",
    "ulic": "ulica",
    "nab": "nabrezje",
    "nabr": "nabrezje",
    "tr": "trg",
    "sv": "sveti",
    "st": "street",
    "str": "street",
    "rd": "road",
    "ave": "avenue",
    "av": "avenue",
    "pl": "place",
    "cres": "crescent",
    "cct": "circuit",
    "hwy": "highway",
}

_POSTCODE = re.compile(r"(?<![0-9a-z])(?:si\s?-?\s?)?(\d{4})(?![0-9])")
_HOUSE_NUMBER = re.compile(r"(?<![0-9a-z])(\d{1,4})\s?([a-z])?(?![0-9a-z])")
_WITHHELD = frozenset(
    {"", "anonymous", "unknown", "private", "restricted", "withheld", "unavailable"}
)


def fold(text: object) -> str:
    """Return `text` lower-cased, diacritics removed, words separated by single spaces."""
    if not isinstance(text, str):
        return ""
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD_EXTRA))
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
        text = text.translate(_FOLD_EXTRA)
    return _NON_WORD.sub(" ", text.lower()).strip()


def name_tokens(name: object) -> tuple[str, ...]:
    """Return the words of a person's or organisation's name, without titles or legal form."""
    folded = _LEGAL_FORMS.sub(" ", fold(name))
    return tuple(t for t in folded.split() if t not in TITLES)


def normalize_name(name: object) -> str:
    """Return the comparable form of a name: folded words, titles and legal form dropped."""
    return " ".join(name_tokens(name))


def normalize_street(street: object) -> str:
    """Return a street name folded, with abbreviations ("c.", "ul.") written out."""
    words = [STREET_WORDS.get(w, w) for w in fold(street).split()]
    return " ".join(words)


def normalize_house_number(number: object) -> str:
    """Return a house number as digits plus an optional letter: "12 A" -> "12a"."""
    match = _HOUSE_NUMBER.search(fold(number))
    if match is None:
        return ""
    return str(int(match.group(1))) + (match.group(2) or "")


@dataclass(frozen=True)
class Address:
    """A postal address in comparable form; any part may be empty."""

    street: str = ""
    number: str = ""
    postcode: str = ""
    city: str = ""
    settlement: str = ""

    def __bool__(self) -> bool:
        return any((self.street, self.number, self.postcode, self.city, self.settlement))

    def display(self) -> str:
        first = " ".join(p for p in (self.street, self.number) if p)
        last = " ".join(p for p in (self.postcode, self.city) if p)
        return ", ".join(p for p in (first, self.settlement, last) if p)


def make_address(
    street: object = None,
    number: object = None,
    postcode: object = None,
    city: object = None,
    settlement: object = None,
) -> Address:
    """Return an Address from parts as stored or as a form gave them."""
    code = _POSTCODE.search(fold(postcode))
    return Address(
        street=normalize_street(street),
        number=normalize_house_number(number),
        postcode=code.group(1) if code else "",
        city=fold(city),
        settlement=fold(settlement),
    )


def normalize_address(text: object) -> str:
    """Return a one-line address in comparable form (idempotent).

    Reading and writing again settles odd inputs (parts that are only numbers) on one
    form; two rounds settle every input seen by the property tests.
    """
    line = parse_address(text).display()
    for _ in range(4):
        again = parse_address(line).display()
        if again == line:
            break
        line = again
    return line


def parse_address(text: object) -> Address:
    """Read a one-line address such as "Slovenska c. 12a, Zg. Pirniče, 1215 Medvode"."""
    if not isinstance(text, str):
        return Address()
    parts = [p for p in (fold(p) for p in re.split(r"[,;\n]", text[:400])) if p]
    postcode = city = ""
    for index in range(len(parts) - 1, -1, -1):
        split = _split_postcode(parts[index], alone=len(parts) == 1)
        if split is not None:
            before, postcode, city = split
            parts[index : index + 1] = [before] if before else []
            break

    street = number = ""
    for index, part in enumerate(parts):
        match = _HOUSE_NUMBER.search(part)
        if match is not None and match.start() > 0:
            street, number = part[: match.start()], normalize_house_number(match.group(0))
            del parts[index]
            break
    if not street and parts:
        street = parts.pop(0)
    if not postcode and len(parts) > 1:
        city = parts.pop()
    return Address(normalize_street(street), number, postcode, city, " ".join(parts))


def _split_postcode(part: str, alone: bool) -> tuple[str, str, str] | None:
    """Split "... 1000 ljubljana" into (what precedes, postcode, city), if it has one."""
    for match in _POSTCODE.finditer(part):
        before, after = part[: match.start()].strip(), part[match.end() :].strip()
        if match.start() == 0 or (alone and after and not after[0].isdigit()):
            return before, match.group(1), after
    return None


_E164 = re.compile(r"\+[1-9]\d{7,14}")
_PLAIN_EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}")


def phone_key(value: object) -> str | None:
    """Return a phone number in E.164 (reading Slovenian national forms), or None."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    if _E164.fullmatch(value):
        return value
    if fold(value) in _WITHHELD:
        return None
    cleaned = value.replace("(0)", " ").strip()
    try:
        return normalize_phone(cleaned)
    except InvalidIdentifier:
        return None


#: Slovenian mobile networks' national prefixes; every other number there is a landline.
_SI_MOBILE = ("30", "31", "40", "41", "51", "64", "65", "68", "69", "70", "71")


def phone_kind(e164: str) -> str:
    """Tell a mobile from a landline, in the words an agent uses."""
    if e164.startswith("+386") and len(e164) == 12:
        return "mobile" if e164[4:6] in _SI_MOBILE else "landline"
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return "phone"
    kind = phonenumbers.number_type(number)
    if kind == phonenumbers.PhoneNumberType.MOBILE:
        return "mobile"
    if kind == phonenumbers.PhoneNumberType.FIXED_LINE:
        return "landline"
    return "phone"


def email_parts(value: object) -> tuple[str, str] | None:
    """Split `"Name" <Addr+tag@x.si>` into (display name, address lower-cased), or None."""
    if not isinstance(value, str) or len(value) > 400:
        return None
    if _PLAIN_EMAIL.fullmatch(value):
        return "", value
    try:
        return split_email(value)
    except InvalidIdentifier:
        return None


def email_key(value: object) -> str | None:
    """Return the loose form of an email address: lower-cased, plus-tag dropped."""
    parts = email_parts(value)
    if parts is None:
        return None
    local, _, domain = parts[1].rpartition("@")
    return f"{local.split('+', 1)[0] or local}@{domain}"


_PHONE_IN_TEXT = re.compile(r"(?<![\w+])(?:\+|00)?\d[\d ()/.-]{6,18}\d(?!\w)")


def find_phones(text: object) -> tuple[str, ...]:
    """Return the phone numbers written in `text` (a signature, a callback request)."""
    if not isinstance(text, str):
        return ()
    found: dict[str, None] = {}
    for match in _PHONE_IN_TEXT.finditer(text[:20000]):
        number = phone_key(match.group(0))
        if number:
            found[number] = None
    return tuple(found)[:8]


@dataclass(frozen=True)
class Identifier:
    """An identifier found in free text, in its normal form."""

    kind: str  # metering_point | gsrn | tax_number | ticket | number
    value: str


_EIMM_IN_TEXT = re.compile(r"(?<![0-9-])([1-9])[- ]?(\d{6,7})(?![0-9-])")
_DIGITS = re.compile(r"(?<![0-9])(?:si\s?)?\d[\d ]{6,22}\d(?![0-9])", re.IGNORECASE)
_TICKET_IN_TEXT = re.compile(r"(?<![0-9])(20\d\d)-(\d{6})(?![0-9])")
_TOKEN = re.compile(r"[0-9a-z][0-9a-z/-]{3,39}")
MAX_IDENTIFIERS = 24


def find_identifiers(text: object) -> tuple[Identifier, ...]:
    """Return the identifiers quoted in `text`, check digits verified where there are any.

    Metering point numbers carry no check, so every plausible one is returned; they
    are only ever looked up exactly. Other codes (customer numbers, meter serials)
    come back as kind "number" in lower case.
    """
    if not isinstance(text, str):
        return ()
    text = text[:20000]
    found: dict[Identifier, None] = {}
    for match in _TICKET_IN_TEXT.finditer(text):
        found[Identifier("ticket", f"{match.group(1)}-{match.group(2)}")] = None
    for match in _EIMM_IN_TEXT.finditer(text):
        found[Identifier("metering_point", f"{match.group(1)}-{match.group(2)}")] = None
    for match in _DIGITS.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if len(digits) == 18:
            with contextlib.suppress(InvalidIdentifier):
                found[Identifier("gsrn", normalize_gsrn(digits))] = None
        if len(digits) == 8 and is_tax_number(digits):
            found[Identifier("tax_number", digits)] = None
    for token in _TOKEN.findall(text.lower()):
        if any(c.isdigit() for c in token) and not _TICKET_IN_TEXT.fullmatch(token):
            found[Identifier("number", token)] = None
    return tuple(found)[:MAX_IDENTIFIERS]

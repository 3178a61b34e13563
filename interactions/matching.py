"""Who is behind a contact: scoring of candidate partners, with reasons in words.

This module is pure: no database, no HTTP. `match_index` finds the candidates and
hands their stored match records here. Evidence is added up in bits, in the manner
of Fellegi and Sunter (an agreeing surname says more than a missing one takes away),
and turned into a score in [0, 1]. A contact is `matched` when one candidate is above
the auto-link threshold and clearly ahead of the next; `ambiguous` when several are
plausible; `unknown` otherwise.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein

from interactions.normalize import (
    Address,
    Identifier,
    email_key,
    email_parts,
    find_identifiers,
    find_phones,
    fold,
    make_address,
    name_tokens,
    parse_address,
    phone_key,
    phone_kind,
)
from interactions.resolution import UNKNOWN, Candidate, Outcome, Resolution

if TYPE_CHECKING:
    from interactions.contacts import InboundContact
    from interactions.store import Store


@dataclass(frozen=True)
class MatchSettings:
    """Thresholds of the decision; defaults set from bench/matching.py."""

    #: a candidate at or above this score may be linked without an agent
    auto_link: float = 0.8
    #: ... when it leads the next candidate by at least this many bits of evidence
    margin_bits: float = 5.0
    #: candidates below this score are not shown at all
    floor: float = 0.3
    #: evidence (bits) at which the score is one half
    midpoint_bits: float = 5.0
    max_candidates: int = 10

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "MatchSettings":
        known = {k: type(getattr(cls(), k))(v) for k, v in values.items() if hasattr(cls(), k)}
        return cls(**known)


DEFAULTS = MatchSettings()

# Weights in bits: log2 of how much likelier the agreement is for the same partner.
W_PHONE = 14.0
W_PHONE_IN_TEXT = 10.0
W_EMAIL = 14.0
W_EMAIL_LOOSE = 12.0
W_TAX = 16.0
W_GSRN = 14.0
W_METERING_POINT = 12.0
W_CUSTOMER_NUMBER = 14.0
W_SERIAL = 12.0
W_TICKET = 10.0
W_NAME_EXACT = 5.0
W_NAME_CLOSE = 3.5
W_NAME_NEAR = 1.5
W_NAME_INITIAL = 1.0
W_NAME_WRONG = -3.0
W_NATIONAL_ID = 16.0
W_NATIONAL_ID_NEAR = 6.0
W_NATIONAL_ID_WRONG = -6.0
W_BIRTH = 11.0
W_BIRTH_NEAR = 4.0
W_BIRTH_WRONG = -6.0
W_POSTCODE = 3.5
W_POSTCODE_NEAR = 0.5
W_POSTCODE_WRONG = -2.0
W_STREET = 6.0
W_STREET_CLOSE = 4.5
W_STREET_NEAR = 2.0
W_STREET_WRONG = -3.0
W_NUMBER = 2.5
W_NUMBER_WRONG = -2.0
W_PLACE = 3.5
W_PLACE_CLOSE = 2.0
W_PLACE_WRONG = -1.0
FORMER_ADDRESS = 0.7


@dataclass(frozen=True)
class Query:
    """A contact in comparable form: what it says about who is behind it."""

    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    #: numbers written in the text, weaker than the number the contact came from
    text_phones: tuple[str, ...] = ()
    name: tuple[str, ...] = ()
    name_display: str = ""
    address: Address = field(default_factory=Address)
    birth_date: str = ""
    national_id: str = ""
    identifiers: tuple[Identifier, ...] = ()

    def __bool__(self) -> bool:
        return bool(
            self.phones
            or self.emails
            or self.text_phones
            or self.name
            or self.address
            or self.birth_date
            or self.national_id
            or self.identifiers
        )


def make_query(
    phone: object = None,
    email: object = None,
    name: object = None,
    address: object = None,
    text: object = None,
    birth_date: object = None,
    national_id: object = None,
) -> Query:
    """Return the query for a contact's fields; any may be missing or malformed."""
    phones = [p for p in (phone_key(phone),) if p]
    emails: list[str] = []
    display = name if isinstance(name, str) else ""
    parts = email_parts(email)
    if parts is not None:
        emails.append(parts[1])
        display = display or parts[0]
    if isinstance(address, Mapping):
        place = make_address(
            address.get("street"),
            address.get("house_number") or address.get("number"),
            address.get("postcode"),
            address.get("city"),
            address.get("settlement"),
        )
    else:
        place = parse_address(address)
    return Query(
        phones=tuple(phones),
        emails=tuple(emails),
        text_phones=tuple(p for p in find_phones(text) if p not in phones),
        name=name_tokens(display)[:6],
        name_display=display[:200],
        address=place,
        birth_date=_birth_date(birth_date),
        national_id=_digits(national_id, 20),
        identifiers=find_identifiers(text),
    )


def query_from_contact(contact: "InboundContact") -> Query:
    """Return the query for an inbound contact as a channel adapter handed it in."""
    sender = (contact.sender_address or "").strip()
    is_email = "@" in sender
    text = "\n".join(t for t in (contact.subject, contact.text) if t)
    return make_query(
        phone=None if is_email else sender,
        email=sender if is_email else None,
        name=contact.sender_name,
        address=contact.meta.get("address"),
        text=text,
        birth_date=contact.meta.get("birth_date"),
    )


def query_from_record(record: Mapping[str, Any]) -> Query:
    """Return a stored partner as a query, to find its duplicates."""
    names = record.get("n") or [["", ""]]
    addresses = [a for a in record.get("a", ()) if a[7]] or list(record.get("a", ()))
    return Query(
        phones=tuple(phone for phone, _kind in record.get("p", ())),
        emails=tuple(exact for exact, _loose in record.get("e", ())),
        name=tuple(names[0][1].split())[:6],
        name_display=names[0][0],
        address=Address(*addresses[0][:5]) if addresses else Address(),
        birth_date=record.get("b") or "",
        national_id=record.get("i") or "",
    )


def _birth_date(value: object) -> str:
    digits = _digits(value, 8)
    return digits if len(digits) == 8 else ""


def _digits(value: object, longest: int) -> str:
    if not isinstance(value, str | int):
        return ""
    digits = "".join(c for c in str(value)[:64] if c.isdigit())
    return digits if len(digits) <= longest else ""


@dataclass
class Scored:
    """One candidate partner with its evidence."""

    partner_id: int
    bits: float
    reasons: list[str]
    external_id: str | None = None
    metering_point_id: int | None = None
    metering_point: str | None = None
    score: float = 0.0
    #: an exact key (phone, email, identifier) agrees: enough on its own
    strong: bool = False
    #: the kinds of weaker evidence that agree (name, birth date, address)
    kinds: set[str] = field(default_factory=set)
    #: a word of the name disagrees outright (Marija for Janez)
    name_conflict: bool = False
    #: the birth date or personal identity number agrees
    identity: bool = False


def score_record(
    query: Query,
    record: Mapping[str, Any],
    tickets: Iterable[str] = (),
) -> Scored:
    """Weigh the evidence that `record` (a stored match record) is behind `query`."""
    found = Scored(int(record["id"]), 0.0, [], external_id=record.get("x"))
    quoted_mp: tuple[int, str] | None = None

    for number in query.phones:
        for phone, kind in record.get("p", ()):
            if phone == number:
                found.bits += W_PHONE
                found.strong = True
                label = "fax" if kind == "fax" else phone_kind(number)
                found.reasons.append(f"phone {number} is the customer's {label}")
                break
    for number in query.text_phones:
        for phone, kind in record.get("p", ()):
            if phone == number:
                found.bits += W_PHONE_IN_TEXT
                found.strong = True
                label = "fax" if kind == "fax" else phone_kind(number)
                found.reasons.append(f"phone {number} in the text is the customer's {label}")
                break
    for address in query.emails:
        loose = email_key(address)
        for exact, stored_loose in record.get("e", ()):
            if exact == address:
                found.bits += W_EMAIL
                found.strong = True
                found.reasons.append(f"email {address} is on the customer's record")
                break
            if stored_loose == loose:
                found.bits += W_EMAIL_LOOSE
                found.strong = True
                found.reasons.append(f"email {address} ≈ {exact} (tag ignored)")
                break

    for identifier in query.identifiers:
        weight, reason, mp = _identifier_evidence(identifier, record)
        if weight:
            found.bits += weight
            found.strong = True
            found.reasons.append(reason)
            quoted_mp = quoted_mp or mp
    for number in tickets:
        found.bits += W_TICKET
        found.strong = True
        found.reasons.append(f"ticket {number} quoted in the text is the customer's")

    if query.name:
        bits, reason, found.name_conflict = _name_evidence(query, record)
        found.bits += bits
        if bits > 0:
            found.kinds.add("name")
        if reason:
            found.reasons.append(reason)
    if query.national_id and record.get("i"):
        bits, reason = _national_id_evidence(query.national_id, record["i"])
        found.bits += bits
        found.reasons.append(reason)
        if bits >= W_NATIONAL_ID:
            found.strong = True
        elif bits > 0:
            found.kinds.add("national id")
        found.identity = found.identity or bits > 0
    if query.birth_date and record.get("b"):
        bits, reason = _birth_evidence(query.birth_date, record["b"])
        found.bits += bits
        if bits > 0:
            found.kinds.add("birth date")
            found.identity = True
        found.reasons.append(reason)
    address_mp: tuple[int, str] | None = None
    if query.address:
        bits, reason, address_mp = _address_evidence(query.address, record)
        found.bits += bits
        if bits > 0:
            found.kinds.add("address")
        if reason:
            found.reasons.append(reason)

    chosen = quoted_mp or address_mp or _sole_metering_point(record)
    if chosen is not None:
        found.metering_point_id, found.metering_point = chosen
    return found


def _identifier_evidence(
    identifier: Identifier, record: Mapping[str, Any]
) -> tuple[float, str, tuple[int, str] | None]:
    kind, value = identifier.kind, identifier.value
    if kind == "metering_point":
        for mp_id, eimm, _gsrn, current in record.get("m", ()):
            if eimm == value:
                when = "" if current else " (a former one)"
                reason = f"metering point {value} quoted in the text is the customer's{when}"
                return W_METERING_POINT, reason, (mp_id, eimm)
    elif kind == "gsrn":
        for mp_id, eimm, gsrn, _current in record.get("m", ()):
            if gsrn == value:
                return W_GSRN, f"GSRN {value} quoted in the text is the customer's", (mp_id, eimm)
    elif kind == "tax_number" and record.get("t") == value:
        return W_TAX, f"tax number {value} quoted in the text", None
    elif kind == "number":
        if record.get("x") and fold(record["x"]) == fold(value):
            return W_CUSTOMER_NUMBER, f"customer number {value} quoted in the text", None
        for serial, mp_id, eimm in record.get("s", ()):
            if serial == value:
                return (
                    W_SERIAL,
                    f"meter {value} quoted in the text is the customer's",
                    (
                        mp_id,
                        eimm,
                    ),
                )
    return 0.0, "", None


def _name_evidence(query: Query, record: Mapping[str, Any]) -> tuple[float, str, bool]:
    """Return the bits, the reason, and whether a name word disagrees outright."""
    best, best_display, conflict = None, "", False
    for display, normal in record.get("n", ()):
        bits, wrong = _token_bits(query.name, normal.split())
        if best is None or bits > best:
            best, best_display, conflict = bits, display, wrong > 0
    if best is None:
        return 0.0, "", False
    similarity = _similarity(
        " ".join(sorted(query.name)), " ".join(sorted(name_tokens(best_display)))
    )
    sign = "≈" if best > 0 else "≠"
    reason = f"name '{query.name_display}' {sign} '{best_display}' {similarity:.2f}"
    return best, reason, conflict


def _token_bits(asked: tuple[str, ...], stored: list[str]) -> tuple[float, int]:
    """Pair each asked name word with its best stored word; return bits and misfits."""
    free = list(stored)
    bits, wrong = 0.0, 0
    for token in sorted(asked, key=len, reverse=True):
        if not free:
            break
        best_i, best_sim = 0, -1.0
        for i, other in enumerate(free):
            sim = _word_similarity(token, other)
            if sim > best_sim:
                best_i, best_sim = i, sim
        if len(token) == 1 or len(free[best_i]) == 1:
            bits += W_NAME_INITIAL if best_sim >= 0.9 else W_NAME_WRONG
            wrong += best_sim < 0.9
        elif best_sim >= 0.999:
            bits += W_NAME_EXACT
        elif best_sim >= 0.92:
            bits += W_NAME_CLOSE
        elif best_sim >= 0.85:
            bits += W_NAME_NEAR
        else:
            bits += W_NAME_WRONG
            wrong += 1
            continue
        free.pop(best_i)
    return bits, wrong


# TODO(#3): no nickname or phonetic equivalents yet (Janez/Jani, Jožef/Josip): such
# pairs count as different words and only the other evidence can link them.
def _word_similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if len(a) == 1 or len(b) == 1:
        return 0.9 if a[0] == b[0] else 0.0
    return JaroWinkler.normalized_similarity(a, b)


def _similarity(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    return Levenshtein.normalized_similarity(a, b)


def _national_id_evidence(asked: str, stored: str) -> tuple[float, str]:
    """Compare personal identity numbers (EMŠO); the number itself is never shown."""
    if asked == stored:
        return W_NATIONAL_ID, "personal identity number matches"
    if OSA.distance(asked, stored) == 1:
        return W_NATIONAL_ID_NEAR, "personal identity number nearly matches"
    return W_NATIONAL_ID_WRONG, "personal identity number differs"


def _birth_evidence(asked: str, stored: str) -> tuple[float, str]:
    if asked == stored:
        return W_BIRTH, "birth date matches"
    differing = sum(1 for a, b in zip(asked, stored, strict=False) if a != b)
    swapped = asked[:4] == stored[:4] and asked[4:6] == stored[6:8] and asked[6:8] == stored[4:6]
    if differing <= 1 or swapped:
        return W_BIRTH_NEAR, "birth date nearly matches"
    return W_BIRTH_WRONG, "birth date differs"


def _address_evidence(
    asked: Address, record: Mapping[str, Any]
) -> tuple[float, str, tuple[int, str] | None]:
    best: tuple[float, Address, Any, Any, Any] | None = None
    swapped = Address(asked.settlement, asked.number, asked.postcode, asked.city, asked.street)
    for street, number, postcode, city, settlement, mp_id, eimm, current in record.get("a", ()):
        stored = Address(street, number, postcode, city, settlement)
        bits = _place_bits(asked, stored)
        if asked.settlement and asked.street:
            bits = max(bits, _place_bits(swapped, stored))
        if not current:
            bits = bits * FORMER_ADDRESS if bits > 0 else bits
        better = best is None or bits > best[0]
        if best is not None and bits == best[0] and mp_id and best[2] is None:
            better = True
        if better:
            best = (bits, stored, mp_id, eimm, current)
    if best is None:
        return 0.0, "", None

    bits, stored, mp_id, eimm, current = best
    similarity = _similarity(asked.display(), stored.display())
    sign = "≈" if bits > 0 else "≠"
    former = "" if current else " (a former address)"
    reason = f"address '{asked.display()}' {sign} '{stored.display()}'{former} {similarity:.2f}"
    return bits, reason, (mp_id, eimm) if mp_id else None


def _place_bits(asked: Address, stored: Address) -> float:
    bits = 0.0
    if asked.postcode and stored.postcode:
        if asked.postcode == stored.postcode:
            bits += W_POSTCODE
        elif OSA.distance(asked.postcode, stored.postcode) == 1:
            bits += W_POSTCODE_NEAR
        else:
            bits += W_POSTCODE_WRONG

    street_agrees = False
    if asked.street and stored.street:
        sim = max(
            Levenshtein.normalized_similarity(asked.street, stored.street),
            Levenshtein.normalized_similarity(
                asked.street.replace(" ", ""), stored.street.replace(" ", "")
            ),
        )
        if sim >= 0.999:
            bits += W_STREET
        elif sim >= 0.9:
            bits += W_STREET_CLOSE
        elif sim >= 0.8:
            bits += W_STREET_NEAR
        else:
            bits += W_STREET_WRONG
        street_agrees = sim >= 0.8
    if asked.number and stored.number:
        if asked.number == stored.number:
            bits += W_NUMBER if street_agrees or not asked.street else W_NUMBER / 2
        else:
            bits += W_NUMBER_WRONG

    places = [p for p in (stored.city, stored.settlement) if p]
    for place in (asked.city, asked.settlement):
        if not place or not places:
            continue
        sim = max(Levenshtein.normalized_similarity(place, p) for p in places)
        if sim >= 0.999:
            bits += W_PLACE
        elif sim >= 0.88:
            bits += W_PLACE_CLOSE
        else:
            bits += W_PLACE_WRONG
    return bits


def _sole_metering_point(record: Mapping[str, Any]) -> tuple[int, str] | None:
    current = {
        (mp_id, eimm) for mp_id, eimm, _gsrn, is_current in record.get("m", ()) if is_current
    }
    return next(iter(current)) if len(current) == 1 else None


def probability(bits: float, settings: MatchSettings = DEFAULTS) -> float:
    """Turn evidence in bits into a score in [0, 1]."""
    exponent = max(min(settings.midpoint_bits - bits, 60.0), -60.0)
    return 1.0 / (1.0 + 2.0**exponent)


def decide(scored: Iterable[Scored], settings: MatchSettings = DEFAULTS) -> Resolution:
    """Rank the scored candidates and tell matched, ambiguous or unknown."""
    ranked = sorted(scored, key=lambda s: (-s.bits, s.partner_id))
    for item in ranked:
        item.score = probability(item.bits, settings)
    shown = [s for s in ranked if s.score >= settings.floor][: settings.max_candidates]
    if not shown:
        return UNKNOWN

    top = shown[0]
    runner_up = max(ranked[1].bits, 0.0) if len(ranked) > 1 else 0.0
    clear = top.bits - runner_up >= settings.margin_bits
    corroborated = top.strong or len(top.kinds) >= 2
    if top.score >= settings.auto_link and clear and corroborated:
        return Resolution(Outcome.MATCHED, tuple(_candidate(s) for s in shown))
    close = [s for s in shown if top.bits - s.bits < settings.margin_bits]
    return Resolution(Outcome.AMBIGUOUS, tuple(_candidate(s) for s in close))


def _candidate(item: Scored) -> Candidate:
    return Candidate(
        partner_id=item.partner_id,
        score=item.score,
        reasons=tuple(item.reasons),
        metering_point_id=item.metering_point_id,
        external_id=item.external_id,
        metering_point=item.metering_point,
    )


#: Street words too common to block on.
GENERIC_STREET_WORDS = frozenset(
    [
        "cesta",
        "ulica",
        "trg",
        "pot",
        "street",
        "road",
        "avenue",
        "place",
        "circuit",
        "crescent",
        "drive",
        "sveti",
    ]
)
MAX_NAME_WORDS = 4


def record_keys(record: Mapping[str, Any]) -> set[str]:
    """Return the index keys of a stored match record: exact keys and blocking keys."""
    keys = {f"p:{phone}" for phone, _kind in record.get("p", ())}
    keys.update(f"e:{loose}" for _exact, loose in record.get("e", ()))
    keys.update(f"m:{mp[1]}" for mp in record.get("m", ()))
    keys.update(f"g:{mp[2]}" for mp in record.get("m", ()) if mp[2])
    keys.update(f"s:{serial[0]}" for serial in record.get("s", ()))
    if record.get("t"):
        keys.add(f"t:{record['t']}")
    if record.get("x"):
        keys.add(f"x:{fold(record['x'])}")
    if record.get("b"):
        keys.add(f"b:{record['b']}")
    if record.get("i"):
        keys.add(f"i:{record['i']}")
    places = [Address(*row[:5]) for row in record.get("a", ())]
    for _display, normal in record.get("n", ()):
        keys |= _name_keys(tuple(normal.split()), places)
    for place in places:
        keys |= _address_keys(place)
    return keys


def query_keys(query: Query) -> list[str]:
    """Return the keys under which candidates for `query` are looked up."""
    keys = {f"p:{phone}" for phone in (*query.phones, *query.text_phones)}
    keys.update(f"e:{email_key(address)}" for address in query.emails)
    for identifier in query.identifiers:
        prefix = _IDENTIFIER_KEYS.get(identifier.kind)
        if prefix == "n":
            keys.add(f"x:{fold(identifier.value)}")
            keys.add(f"s:{identifier.value}")
        elif prefix:
            keys.add(f"{prefix}:{identifier.value}")
    if query.birth_date:
        keys.add(f"b:{query.birth_date}")
    if query.national_id:
        keys.add(f"i:{query.national_id}")
    places = [query.address] if query.address else []
    keys |= _name_keys(query.name, places)
    for place in places:
        keys |= _address_keys(place)
    return sorted(keys)


_IDENTIFIER_KEYS = {"metering_point": "m", "gsrn": "g", "tax_number": "t", "number": "n"}


def _name_keys(tokens: tuple[str, ...], places: list[Address]) -> set[str]:
    words = sorted({t for t in tokens[:MAX_NAME_WORDS] if len(t) > 1})
    keys = {f"n:{a}|{b}" for i, a in enumerate(words) for b in words[i + 1 :]}
    for place in places:
        for word in words:
            if place.postcode:
                keys.add(f"pn:{place.postcode}|{word}")
                if len(word) > 3:
                    # the start of a word survives most slips of the pen
                    keys.add(f"pq:{place.postcode}|{word[:3]}")
            for town in (place.city, place.settlement):
                if town:
                    keys.add(f"cn:{town}|{word}")
    return keys


def _address_keys(place: Address) -> set[str]:
    words = [w for w in place.street.split() if len(w) > 2 and w not in GENERIC_STREET_WORDS]
    if not words:
        return set()
    word = max(words, key=len)
    keys = {f"ps:{place.postcode}|{word}"} if place.postcode else set()
    if place.postcode and place.number:
        keys.add(f"ph:{place.postcode}|{place.number}")
    if place.number:
        keys.add(f"sh:{word}|{place.number}")
    return keys


def install(store: "Store", settings: MatchSettings | Mapping[str, Any] = DEFAULTS) -> None:
    """Make `store` resolve every recorded contact with the matcher."""
    from interactions import match_index

    if not isinstance(settings, MatchSettings):
        settings = MatchSettings.from_mapping(settings)
    match_index.install(store, settings)


__all__ = [
    "DEFAULTS",
    "MatchSettings",
    "Query",
    "Scored",
    "decide",
    "install",
    "make_query",
    "probability",
    "query_from_contact",
    "query_from_record",
    "query_keys",
    "record_keys",
    "score_record",
]

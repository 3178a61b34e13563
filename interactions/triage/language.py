"""Slovenian or English: a lexicon vote that works on short text without diacritics.

General-purpose detectors guess poorly on two-line messages typed without č, š and
ž, so the vote counts everyday words of each language and words of a utility's
customer service; a letter with č, š or ž counts for Slovenian.
"""

from dataclasses import dataclass

from interactions.triage.text import fold, words


def _lexicon(text: str) -> frozenset[str]:
    return frozenset(text.split())


SLOVENIAN = _lexicon(
    """
    in je da se na za ne so sem smo ste bo bom bi ali pa ki kaj kako kdaj zakaj kje ker
    ko ker tudi ze se vec od do po pri iz z s v k o mi me mu moj moja moje nas vas vam
    jih ga jo ni nimam nimamo imam imamo prosim hvala pozdravljeni spostovani lp
    lep pozdrav dober dan zivjo lahko zelim rad rada bil bila bilo danes jutri
    racun racuna racunu stevec stevca stevcu stanje elektrike elektriko elektrika
    dobavitelja dobavitelj pogodbo pogodba merilno mesto mesta akontacija porocun
    odcitek opomin izklop priklop selitev obroke obrokih obroki geslo prijaviti
    odgovora nihce zanima znesek placal placala placilo dolg tarifa visja nizja
    sporocam posiljam prilagam sporocilo vprasanje pritozba poracun naslov moc
    """
)

ENGLISH = _lexicon(
    """
    the and is are was were be been to of on for with my our your we you i it this
    that please thanks thank hello hi dear regards kind best can could would should
    will not have has had do does did am what when why how where which there here
    bill invoice meter reading power electricity supplier contract account payment
    pay paid address email password login portal complaint question today tomorrow
    since from about after before still again want need like send sent received
    """
)

_SLOVENE_LETTERS = frozenset("čšžČŠŽ")


@dataclass(frozen=True)
class LanguageGuess:
    language: str  # "sl" or "en"
    mixed: bool
    sl_votes: int
    en_votes: int


def detect_language(text: str, default: str = "sl") -> LanguageGuess:
    """Return the language most of the known words of `text` belong to."""
    tokens = words(fold(text))
    sl_votes = sum(1 for token in tokens if token in SLOVENIAN)
    en_votes = sum(1 for token in tokens if token in ENGLISH)
    sl_votes += min(3, sum(1 for char in text if char in _SLOVENE_LETTERS))

    if sl_votes == en_votes == 0:
        return LanguageGuess(default, False, 0, 0)
    language = "sl" if sl_votes >= en_votes else "en"
    mixed = min(sl_votes, en_votes) >= 2 and min(sl_votes, en_votes) * 3 >= max(sl_votes, en_votes)
    return LanguageGuess(language, mixed, sl_votes, en_votes)

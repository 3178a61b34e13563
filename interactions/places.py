"""Slovenian postcodes and their post offices, from the reference data Stik ships."""

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

from interactions.identifiers import InvalidIdentifier


@dataclass(frozen=True, slots=True)
class PostOffice:
    postcode: str
    name: str
    kind: str  # delivery | po_box | centre

    @property
    def delivers(self) -> bool:
        """Tell whether street addresses carry this postcode (not a P.O.-box range)."""
        return self.kind == "delivery"


def read_reference_csv(name: str) -> list[dict[str, str]]:
    """Return the rows of a CSV in `interactions/data`, skipping its `#` source line."""
    text = resources.files("interactions.data").joinpath(name).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines))


@cache
def post_offices() -> dict[str, PostOffice]:
    """Return every known post office by its 4-digit postcode."""
    rows = read_reference_csv("postcodes.csv")
    return {r["postcode"]: PostOffice(r["postcode"], r["post_office"], r["kind"]) for r in rows}


def delivery_post_offices() -> list[PostOffice]:
    return [office for office in post_offices().values() if office.delivers]


def post_office(postcode: str) -> PostOffice:
    """Return the post office of `postcode` ("1000", "SI-1000", " 1000 "), or raise."""
    code = postcode.strip().upper().removeprefix("SI-").removeprefix("SI").strip()
    office = post_offices().get(code)
    if office is None:
        raise InvalidIdentifier("postcode", postcode, "not a Slovenian postcode")
    return office


def is_postcode(postcode: str) -> bool:
    try:
        post_office(postcode)
    except InvalidIdentifier:
        return False
    return True

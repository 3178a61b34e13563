"""Build the reference data Stik ships in `interactions/data/` from the shared corpus.

Reads the public sources in the corpus's `names/` folder and writes small CSV files:
post offices with their 4-digit postcodes, and the most frequent Slovenian surnames
and first names with their counts. Run it again when the sources change:

    python scripts/build_reference_data.py [CORPUS_NAMES_DIR]
"""

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "corpus" / "names"
TARGET = ROOT / "interactions" / "data"

#: How many of the most frequent names to keep; enough for recurring and rare names.
SURNAMES = 5000
FIRST_NAMES = 800

#: The year whose SURS counts are used.
YEAR = "2013"

POSTCODE_SOURCE = (
    "# source: django-localflavor 5.1, localflavor/si/si_postalcodes.py (BSD-3-Clause)"
)
NAMES_SOURCE = (
    "# source: Vir: Statistični urad RS (SURS), SI-STAT 05X1005S/05X1010S/05X1015S-18S,"
    " counts for " + YEAR
)


def post_office_kind(name: str) -> str:
    """Tell a delivery post office from a P.O.-box or sorting-centre code."""
    if "poštni predali" in name:
        return "po_box"
    if "poštni center" in name:
        return "centre"
    return "delivery"


def build_postcodes(source: Path) -> list[tuple[str, str, str]]:
    with (source / "localflavor_si_postcodes.csv").open(encoding="utf-8") as fh:
        rows = [(r["postcode"], r["post_office"].strip()) for r in csv.DictReader(fh)]
    return sorted((code, name, post_office_kind(name)) for code, name in rows)


def build_names(path: Path, keep: int) -> list[tuple[str, int]]:
    """Return the `keep` most frequent names of a SURS table, with their counts."""
    with path.open(encoding="utf-8") as fh:
        counted = [
            (r["name"].strip(), int(r["count_" + YEAR]))
            for r in csv.DictReader(fh)
            if r["count_" + YEAR].isdigit()
        ]
    counted.sort(key=lambda item: (-item[1], item[0]))
    return counted[:keep]


def write(path: Path, header_comment: str, columns: list[str], rows: list[tuple]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(header_comment + "\n")
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    print(f"wrote {path.relative_to(ROOT)}: {len(rows)} rows")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    args = parser.parse_args(argv)

    source: Path = args.source
    TARGET.mkdir(parents=True, exist_ok=True)
    write(
        TARGET / "postcodes.csv",
        POSTCODE_SOURCE,
        ["postcode", "post_office", "kind"],
        build_postcodes(source),
    )
    tables = {
        "surnames.csv": ("surs_surnames.csv", SURNAMES),
        "first_names_female.csv": ("surs_first_names_female.csv", FIRST_NAMES),
        "first_names_male.csv": ("surs_first_names_male.csv", FIRST_NAMES),
    }
    for target, (name, keep) in tables.items():
        write(TARGET / target, NAMES_SOURCE, ["name", "count"], build_names(source / name, keep))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

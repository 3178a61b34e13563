"""A slice of Febrl 4 resolved one record at a time: precision and recall stay high."""

import csv
from datetime import date

from interactions.match_index import resolve
from interactions.matching import make_query
from interactions.models import ContactKind, ContactPoint, Partner
from interactions.resolution import Outcome
from interactions.store import Store
from tests.conftest import corpus_path

SLICE = 300


def read(name: str) -> list[dict[str, str]]:
    with corpus_path("linkage", name).open(newline="") as fh:
        return list(csv.DictReader(fh))


def as_partner(row: dict[str, str]) -> Partner:
    born = row["date_of_birth"]
    try:
        birth_date = date(int(born[:4]), int(born[4:6]), int(born[6:8]))
    except ValueError:
        birth_date = None
    line = f"{row['address_1']} {row['street_number']}, {row['address_2']}"
    return Partner(
        external_id=row["rec_id"],
        first_name=row["given_name"] or None,
        last_name=row["surname"] or None,
        birth_date=birth_date,
        emso=row["soc_sec_id"] or None,
        contact_points=[
            ContactPoint(
                kind=ContactKind.ADDRESS,
                value=line,
                display=f"{line}, {row['postcode']} {row['suburb']}",
                street=row["address_1"] or None,
                house_number=row["street_number"] or None,
                postcode=row["postcode"][:4] or None,
                city=row["suburb"] or None,
            )
        ],
    )


async def test_febrl4_slice_links_with_high_precision_and_recall(store: Store) -> None:
    links = {r["rec_id_b"]: r["rec_id_a"] for r in read("febrl4_true_links.csv")}
    originals = {r["rec_id"]: r for r in read("febrl4a.csv")}
    duplicates = [r for r in read("febrl4b.csv") if r["rec_id"] in links][:SLICE]
    async with store.sessions() as session, session.begin():
        session.add_all(as_partner(originals[links[r["rec_id"]]]) for r in duplicates)

    right = wrong = 0
    async with store.sessions() as session:
        for row in duplicates:
            query = make_query(
                name=f"{row['given_name']} {row['surname']}",
                address={
                    "street": row["address_1"],
                    "house_number": row["street_number"],
                    "settlement": row["address_2"],
                    "postcode": row["postcode"],
                    "city": row["suburb"],
                },
                birth_date=row["date_of_birth"],
                national_id=row["soc_sec_id"],
            )
            found = await resolve(session, query)
            if found.outcome is Outcome.MATCHED:
                if found.candidates[0].external_id == links[row["rec_id"]]:
                    right += 1
                else:
                    wrong += 1

    precision = right / max(right + wrong, 1)
    recall = right / len(duplicates)
    assert precision == 1.0
    assert recall >= 0.99

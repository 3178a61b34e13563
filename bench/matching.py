"""Contact resolution: Febrl accuracy and latency at scale, on PostgreSQL.

    python bench/matching.py --quick      # 100k partners, 1k queries per kind, no Splink
    python bench/matching.py              # 1M partners, 10k queries per kind, with Splink

Febrl 4: file A is loaded as partners (through the ORM, so the match index is kept
the way production keeps it); every record of file B is resolved on its own, and the
`matched` outcome is scored against the true links. Febrl 3: loaded the same way and
scored through `stik partners duplicates`. Scale: synthetic Slovenian partners are
bulk-loaded with COPY, the index is rebuilt as `stik partners reindex` does, and
resolve() is timed for exact-phone, email and typo'd name+address queries, beside a
bare indexed SELECT by phone as the ceiling. Splink (DuckDB, EM-trained) runs on the
same Febrl data when it is installed. The last line is one JSON object of figures.
"""

import argparse
import asyncio
import csv
import itertools
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from interactions import schema  # noqa: E402
from interactions.match_index import rebuild, resolve  # noqa: E402
from interactions.matching import make_query  # noqa: E402
from interactions.models import ContactKind, ContactPoint, Partner  # noqa: E402
from interactions.resolution import Outcome  # noqa: E402
from interactions.store import Store  # noqa: E402

DATABASE = "stik_bench_matching"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="100k partners, 1k queries")
    parser.add_argument("--partners", type=int, help="partners for the scale figure")
    parser.add_argument("--queries", type=int, help="queries per kind for the scale figure")
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument(
        "--server", default="postgresql://postgres@127.0.0.1:5432/postgres", help="admin DSN"
    )
    parser.add_argument(
        "--splink", action="store_true", help="run Splink beside Stik also with --quick"
    )
    parser.add_argument("--splink-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.partners = args.partners or (100_000 if args.quick else 1_000_000)
    args.queries = args.queries or (1_000 if args.quick else 10_000)
    return args


# Database --------------------------------------------------------------------------


async def fresh_database(server: str) -> str:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()
    return server.rsplit("/", 1)[0] + f"/{DATABASE}"


async def empty(store: Store) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(
            text(
                "TRUNCATE partner, contact_point, match_key, match_record RESTART IDENTITY CASCADE"
            )
        )


# Febrl -----------------------------------------------------------------------------


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def febrl_partner(row: dict[str, str]) -> Partner:
    born = row["date_of_birth"]
    try:
        birth_date: date | None = date(int(born[:4]), int(born[4:6]), int(born[6:8]))
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


def febrl_contact(row: dict[str, str]) -> dict[str, Any]:
    """A Febrl record as a `stik resolve` input line."""
    return {
        "id": row["rec_id"],
        "name": f"{row['given_name']} {row['surname']}".strip(),
        "address": {
            "street": row["address_1"],
            "house_number": row["street_number"],
            "settlement": row["address_2"],
            "postcode": row["postcode"],
            "city": row["suburb"],
        },
        "birth_date": row["date_of_birth"],
        "national_id": row["soc_sec_id"],
    }


async def load_febrl(store: Store, rows: list[dict[str, str]]) -> None:
    await empty(store)
    async with store.sessions() as session, session.begin():
        session.add_all(febrl_partner(r) for r in rows)


def scores(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


async def febrl4(store: Store, corpus: Path) -> dict[str, Any]:
    linkage = corpus / "linkage"
    links = {r["rec_id_b"]: r["rec_id_a"] for r in read_csv(linkage / "febrl4_true_links.csv")}
    started = time.perf_counter()
    await load_febrl(store, read_csv(linkage / "febrl4a.csv"))
    load_s = time.perf_counter() - started

    tp = fp = top1 = 0
    outcomes = {o.value: 0 for o in Outcome}
    latencies = []
    records_b = read_csv(linkage / "febrl4b.csv")
    async with store.sessions() as session:
        for row in records_b:
            contact = febrl_contact(row)
            begin = time.perf_counter()
            found = await resolve(
                session, make_query(**{k: contact[k] for k in contact if k != "id"})
            )
            latencies.append(time.perf_counter() - begin)
            outcomes[found.outcome.value] += 1
            truth = links[row["rec_id"]]
            if found.candidates and found.candidates[0].external_id == truth:
                top1 += 1
            if found.outcome is Outcome.MATCHED:
                if found.candidates[0].external_id == truth:
                    tp += 1
                else:
                    fp += 1
    precision, recall, f1 = scores(tp, fp, len(links) - tp)
    return {
        "febrl4_precision": round(precision, 5),
        "febrl4_recall": round(recall, 5),
        "febrl4_f1": round(f1, 5),
        "febrl4_accuracy_at_1": round(top1 / len(records_b), 5),
        "febrl4_outcomes": outcomes,
        "febrl4_load_s": round(load_s, 2),
        "febrl4_p99_ms": round(percentile(latencies, 99) * 1000, 3),
    }


async def febrl3(store: Store, corpus: Path, url: str) -> dict[str, Any]:
    linkage = corpus / "linkage"
    await load_febrl(store, read_csv(linkage / "febrl3.csv"))
    truth = {frozenset(r.values()) for r in read_csv(linkage / "febrl3_true_links.csv")}

    started = time.perf_counter()
    stik = str(Path(sys.executable).with_name("stik"))
    env = {**os.environ, "STIK_DATABASE_URL": url, "STIK_LOG_LEVEL": "warning"}
    listed = await asyncio.to_thread(
        subprocess.run,
        [stik, "partners", "duplicates", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - started
    found = {frozenset(json.loads(line)["external_ids"]) for line in listed.stdout.splitlines()}
    tp = len(found & truth)
    precision, recall, f1 = scores(tp, len(found - truth), len(truth - found))
    return {
        "febrl3_precision": round(precision, 5),
        "febrl3_recall": round(recall, 5),
        "febrl3_f1": round(f1, 5),
        "febrl3_duplicates_s": round(elapsed, 2),
    }


def splink_figures(corpus: Path) -> dict[str, Any]:
    """Run Splink (DuckDB, EM-trained, no labels) on the same Febrl data, if installed."""
    try:
        import pandas as pd
        import splink.comparison_library as cl
        from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    except ImportError as exc:
        return {"splink": f"not installed ({exc.name})"}

    linkage = corpus / "linkage"

    def frame(name: str) -> Any:
        df = pd.read_csv(linkage / name, dtype=str).fillna("")
        df = df.replace({"": None})
        return df.rename(columns={"rec_id": "unique_id"})

    comparisons = [
        cl.NameComparison("given_name"),
        cl.NameComparison("surname"),
        cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
        cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
        cl.ExactMatch("street_number"),
        cl.PostcodeComparison("postcode"),
        cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
        cl.JaroWinklerAtThresholds("suburb", [0.9, 0.7]),
    ]
    blocking = [
        block_on("given_name", "surname"),
        block_on("date_of_birth"),
        block_on("soc_sec_id"),
        block_on("postcode", "street_number"),
        block_on("surname", "suburb"),
    ]

    def run(link_type: str, frames: list[Any], truth: set[frozenset[str]]) -> dict[str, float]:
        settings = SettingsCreator(
            link_type=link_type,
            comparisons=comparisons,
            blocking_rules_to_generate_predictions=blocking,
        )
        db_api = DuckDBAPI()
        tables = [db_api.register(f) for f in frames]
        linker = Linker(tables if len(tables) > 1 else tables[0], settings)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("given_name", "surname", "date_of_birth")], recall=0.7
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("given_name", "surname")
        )
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("date_of_birth")
        )
        predictions = linker.inference.predict(
            threshold_match_probability=0.5
        ).as_pandas_dataframe()
        found = {
            frozenset((a, b))
            for a, b in zip(predictions.unique_id_l, predictions.unique_id_r, strict=True)
        }
        tp = len(found & truth)
        precision, recall, f1 = scores(tp, len(found - truth), len(truth - found))
        return {"precision": precision, "recall": recall, "f1": f1}

    try:
        truth4 = {frozenset(r.values()) for r in read_csv(linkage / "febrl4_true_links.csv")}
        truth3 = {frozenset(r.values()) for r in read_csv(linkage / "febrl3_true_links.csv")}
        four = run("link_only", [frame("febrl4a.csv"), frame("febrl4b.csv")], truth4)
        three = run("dedupe_only", [frame("febrl3.csv")], truth3)
    except Exception as exc:  # a comparison only: report why it did not run
        return {"splink": f"failed: {type(exc).__name__}: {exc}"[:300]}
    return {
        "splink_febrl4_precision": round(four["precision"], 5),
        "splink_febrl4_recall": round(four["recall"], 5),
        "splink_febrl4_f1": round(four["f1"], 5),
        "splink_febrl3_f1": round(three["f1"], 5),
    }


# Scale -----------------------------------------------------------------------------


class Names:
    """Slovenian first names, surnames, streets and post offices from the shared corpus."""

    def __init__(self, corpus: Path, rng: random.Random) -> None:
        folder = corpus / "names"
        self.rng = rng
        self.surnames, self.surname_weights = self._weighted(folder / "surs_surnames.csv")
        male = self._weighted(folder / "surs_first_names_male.csv")
        female = self._weighted(folder / "surs_first_names_female.csv")
        self.first, self.first_weights = male[0] + female[0], male[1] + female[1]
        self.streets = [r["street"] for r in read_csv(folder / "faker_sl_SI_streets.csv")]
        self.posts = [
            (r["postcode"], r["post_office"])
            for r in read_csv(folder / "localflavor_si_postcodes.csv")
            if "predal" not in r["post_office"]
        ]

    @staticmethod
    def _weighted(path: Path) -> tuple[list[str], list[int]]:
        names, weights = [], []
        for row in read_csv(path):
            count = row.get("count_2013", "..")
            if count.isdigit():
                names.append(row["name"])
                weights.append(int(count))
        return names, list(itertools.accumulate(weights))

    def people(self, n: int) -> Iterator[tuple[str, str, str, str, str, str]]:
        rng = self.rng
        for _ in range(0, n, 1000):
            firsts = rng.choices(self.first, cum_weights=self.first_weights, k=1000)
            lasts = rng.choices(self.surnames, cum_weights=self.surname_weights, k=1000)
            for first, last in zip(firsts, lasts, strict=True):
                postcode, city = rng.choice(self.posts)
                number = str(rng.randint(1, 180)) + (
                    rng.choice("abc") if rng.random() < 0.1 else ""
                )
                yield first, last, rng.choice(self.streets), number, postcode, city


MOBILE_PREFIXES = ("30", "31", "40", "41", "51", "64", "68", "70", "71")


def phone_of(i: int) -> str:
    prefix = MOBILE_PREFIXES[i % len(MOBILE_PREFIXES)]
    return f"+386{prefix}{(i // len(MOBILE_PREFIXES)) * 7919 % 1_000_000:06d}"


def email_of(i: int, first: str, last: str) -> str:
    from interactions.normalize import fold

    return f"{fold(first).replace(' ', '')}.{fold(last).replace(' ', '')}{i}@example.si"


async def load_partners(url: str, names: Names, n: int) -> float:
    """COPY `n` partners with a mobile, an email and an address; return seconds."""
    started = time.perf_counter()
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    now = datetime.now(UTC)
    try:
        people = list(names.people(n))[:n]
        partners = (
            (i, "person", first, last, f"S{i:07d}", "household", "sl", now, now)
            for i, (first, last, *_rest) in enumerate(people, start=1)
        )
        await conn.copy_records_to_table(
            "partner",
            records=partners,
            columns=[
                "id",
                "kind",
                "first_name",
                "last_name",
                "external_id",
                "segment",
                "language",
                "created_at",
                "updated_at",
            ],
        )

        def points() -> Iterator[tuple[Any, ...]]:
            for i, (first, last, street, number, postcode, city) in enumerate(people, start=1):
                line = f"{street} {number}, {postcode} {city}"
                yield (3 * i, i, "phone", phone_of(i), None, None, None, None, None, True)
                yield (
                    3 * i + 1,
                    i,
                    "email",
                    email_of(i, first, last),
                    None,
                    None,
                    None,
                    None,
                    None,
                    True,
                )
                yield (3 * i + 2, i, "address", line, line, street, number, postcode, city, True)

        await conn.copy_records_to_table(
            "contact_point",
            records=points(),
            columns=[
                "id",
                "partner_id",
                "kind",
                "value",
                "display",
                "street",
                "house_number",
                "postcode",
                "city",
                "is_primary",
            ],
        )
        await conn.execute("SELECT setval('partner_id_seq', $1)", n + 1)
        await conn.execute("SELECT setval('contact_point_id_seq', $1)", 3 * n + 3)
        await conn.execute("ANALYZE partner; ANALYZE contact_point")
    finally:
        await conn.close()
    return time.perf_counter() - started


def typo(word: str, rng: random.Random) -> str:
    """One realistic slip: a dropped, doubled, swapped or wrong letter."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1 :]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    if kind == 2:
        return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
    return word[:i] + rng.choice("aeiouknrst") + word[i + 1 :]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


async def scale(store: Store, url: str, corpus: Path, n: int, queries: int) -> dict[str, Any]:
    rng = random.Random(7)
    names = Names(corpus, rng)
    await empty(store)
    load_s = await load_partners(url, names, n)
    started = time.perf_counter()
    async with store.engine.begin() as conn:
        await rebuild(conn)
    index_s = time.perf_counter() - started
    # What autovacuum does soon after a bulk load; it lets lookups read the index only.
    async with store.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE match_key, match_record"))
        # A serving database holds its working set in memory; start every kind warm
        # rather than let the first kind pay for reading the index from disk.
        await conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_prewarm"))
        for relation in (
            "match_key",
            "pk_match_key",
            "match_record",
            "pk_match_record",
            "contact_point",
            "ix_contact_point_kind_value",
        ):
            await conn.execute(text(f"SELECT pg_prewarm('{relation}', 'read')"))
    print(f"scale: {n} partners loaded in {load_s:.1f} s, index built in {index_s:.1f} s")

    targets = rng.sample(range(1, n + 1), queries)
    async with store.sessions() as session:
        rows = await session.execute(
            text(
                "SELECT partner_id, kind, value, street, house_number, postcode, city"
                " FROM contact_point WHERE partner_id = ANY(:ids)"
            ),
            {"ids": targets},
        )
        data: dict[int, dict[str, Any]] = {}
        for pid, kind, value, street, number, postcode, city in rows:
            data.setdefault(pid, {})[kind] = (value, street, number, postcode, city)
        people = await session.execute(
            text("SELECT id, first_name, last_name FROM partner WHERE id = ANY(:ids)"),
            {"ids": targets},
        )
        for pid, first, last in people:
            data[pid]["name"] = (first, last)

        def national(e164: str) -> str:
            digits = e164[4:]
            return rng.choice([f"0{digits[:2]} {digits[2:5]} {digits[5:]}", e164, "00" + e164[1:]])

        kinds = {
            "phone": lambda p: {"phone": national(data[p]["phone"][0])},
            "email": lambda p: {"email": data[p]["email"][0].upper()},
            "fuzzy": lambda p: {
                "name": f"{data[p]['name'][0]} {typo(data[p]['name'][1], rng)}",
                "address": "{} {}, {} {}".format(
                    typo(data[p]["address"][1], rng), *data[p]["address"][2:]
                ),
            },
        }
        # The ceiling, a bare indexed SELECT by phone, runs interleaved with the
        # resolves (on other partners' numbers), so both meet the same machine.
        bare = text("SELECT partner_id FROM contact_point WHERE kind = 'phone' AND value = :v")
        others = [phone_of(i) for i in rng.sample(range(1, n + 1), queries)]
        ceiling: list[float] = []
        figures: dict[str, Any] = {"partners": n, "queries_per_kind": queries}
        for kind, make in kinds.items():
            for pid in targets[:100]:  # warm the code paths: the figure is the steady state
                await resolve(session, make_query(**make(pid)))
            latencies, right, matched = [], 0, 0
            for pid, other in zip(targets, others, strict=True):
                fields = make(pid)
                begin = time.perf_counter()
                found = await resolve(session, make_query(**fields))
                latencies.append(time.perf_counter() - begin)
                right += bool(found.candidates) and found.candidates[0].partner_id == pid
                matched += found.outcome is Outcome.MATCHED
                begin = time.perf_counter()
                (await session.execute(bare, {"v": other})).all()
                ceiling.append(time.perf_counter() - begin)
            figures[f"p50_ms_{kind}"] = round(percentile(latencies, 50) * 1000, 3)
            figures[f"p99_ms_{kind}"] = round(percentile(latencies, 99) * 1000, 3)
            figures[f"top1_{kind}"] = round(right / queries, 4)
            figures[f"matched_{kind}"] = round(matched / queries, 4)
        figures["ceiling_p50_ms"] = round(percentile(ceiling, 50) * 1000, 3)
        figures["ceiling_p99_ms"] = round(percentile(ceiling, 99) * 1000, 3)
    figures["load_s"] = round(load_s, 1)
    figures["index_s"] = round(index_s, 1)
    return figures


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def main() -> None:
    args = parse_args()
    if args.splink_only:
        print(json.dumps(splink_figures(args.corpus)))
        return
    url = await fresh_database(args.server)
    store = Store.open(url)
    await schema.upgrade(store.engine)

    figures: dict[str, Any] = {}
    figures.update(await febrl4(store, args.corpus))
    print("febrl4:", {k: v for k, v in figures.items() if k.startswith("febrl4")})
    figures.update(await febrl3(store, args.corpus, url))
    print("febrl3:", {k: v for k, v in figures.items() if k.startswith("febrl3")})
    if args.splink or not args.quick:
        # In its own process, so that DuckDB's memory is not counted as Stik's.
        run = [sys.executable, __file__, "--splink-only", "--corpus", str(args.corpus)]
        done = await asyncio.to_thread(subprocess.run, run, capture_output=True, text=True)
        lines = done.stdout.strip().splitlines()
        figures.update(json.loads(lines[-1]) if lines else {"splink": done.stderr[-300:]})
        print("splink:", {k: v for k, v in figures.items() if k.startswith("splink")})
    figures.update(await scale(store, url, args.corpus, args.partners, args.queries))
    figures["rss_mb"] = rss_mb()
    await store.close()
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())

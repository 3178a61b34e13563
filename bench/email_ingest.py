"""Email ingest throughput: drop folder -> parse, match, store, ticket on PostgreSQL.

Prints the messages per second through the whole door and, as the ceiling measured in
the same run, the parse-only rate over the same mails. Last line: one JSON object.

    .venv/bin/python bench/email_ingest.py --quick
"""

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import time
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import asyncpg
import structlog
from sqlalchemy.engine import make_url

# bench/routing.py shares its name with the routing package: this folder is taken
# off the import path so that the project's packages are found.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from channels.email.maildrop import process_drop_folder  # noqa: E402
from channels.email.outbound import OutboxTransport  # noqa: E402
from channels.email.parse import parse_mail  # noqa: E402
from channels.email.settings import EmailSettings, MailboxSettings  # noqa: E402
from interactions import InboundContact, record_contact, schema  # noqa: E402
from interactions.models import Channel, ContactKind, ContactPoint, Partner  # noqa: E402
from interactions.store import Store  # noqa: E402
from interactions.types import utcnow  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/stik_bench_email"
TEXTS = [
    "Pozdravljeni, pošiljam stanje števca: VT {n}, MT {m}. Merilno mesto 3-{mp}.",
    "Prosim za pojasnilo računa za električno energijo št. {n}. Lep pozdrav",
    "Hello, I am moving out on the 1st; please close metering point 2-{mp}.",
]


def make_mail(n: int, rng: random.Random, customers: int) -> bytes:
    """One realistic customer mail: text, sometimes HTML, a photo, or a reply."""
    message = EmailMessage(policy=SMTP)
    message["From"] = f"Stranka {n % customers} <stranka{n % customers}@example.si>"
    message["To"] = "info@stik.test"
    message["Subject"] = rng.choice(["Stanje števca", "Račun", "Selitev", "Re: Račun"])
    message["Date"] = "Mon, 02 Mar 2026 09:30:00 +0100"
    message["Message-ID"] = f"<bench{n}@example.si>"
    if n > 10 and rng.random() < 0.2:
        message["In-Reply-To"] = f"<bench{n - rng.randint(1, 10)}@example.si>"
    text = rng.choice(TEXTS).format(n=n, m=n * 7 % 9999, mp=100000 + n % 900000)
    message.set_content(text)
    if rng.random() < 0.3:
        message.add_alternative(f"<p>{text}</p><p><b>Lep pozdrav</b></p>", subtype="html")
    if rng.random() < 0.1:
        message.add_attachment(
            rng.randbytes(20_000), maintype="image", subtype="jpeg", filename="stevec.jpg"
        )
    return message.as_bytes()


async def prepare(url: str, customers: int) -> Store:
    admin = make_url(url).set(database="postgres").set(drivername="postgresql")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    name = make_url(url).database
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    store = Store.open(url)
    await schema.upgrade(store.engine)
    async with store.sessions() as session, session.begin():
        for c in range(customers):
            partner = Partner(first_name="Stranka", last_name=str(c))
            partner.contact_points.append(
                ContactPoint(kind=ContactKind.EMAIL, value=f"stranka{c}@example.si")
            )
            session.add(partner)
    return store


async def run(count: int, url: str, acknowledge: bool) -> dict[str, float]:
    rng = random.Random(4)
    customers = max(count // 3, 1)
    mails = [make_mail(n, rng, customers) for n in range(count)]

    start = time.perf_counter()
    now = utcnow()
    for raw in mails:
        parse_mail(raw, now)
    parse_rate = count / (time.perf_counter() - start)

    store = await prepare(url, customers)
    folder = Path(tempfile.mkdtemp(prefix="stik-bench-email-"))
    try:
        settings = EmailSettings(
            maildrop=folder / "maildrop",
            outbox=folder / "outbox",
            mailboxes=(MailboxSettings(name="info", address="info@stik.test"),),
            acknowledge=acknowledge,
        )
        new = settings.maildrop / "new"
        new.mkdir(parents=True)
        for n, raw in enumerate(mails):
            (new / f"{n:08d}.eml").write_bytes(raw)
        start = time.perf_counter()
        result = await process_drop_folder(
            store, settings, transport=OutboxTransport(settings.outbox)
        )
        elapsed = time.perf_counter() - start
        assert result.processed == count
        door_rate = await bare_door(store, mails)
    finally:
        await store.close()
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "messages": count,
        "messages_per_s": round(count / elapsed, 1),
        "parse_only_per_s": round(parse_rate, 1),
        "record_contact_only_per_s": round(door_rate, 1),
        "acknowledge": acknowledge,
    }


async def bare_door(store: Store, mails: list[bytes]) -> float:
    """The same mails through record_contact alone, already parsed: the store's share."""
    now = utcnow()
    contacts = []
    for n, raw in enumerate(mails):
        mail = parse_mail(raw, now)
        contacts.append(
            InboundContact(
                channel=Channel.EMAIL,
                external_id=f"<bare{n}@bench>",
                occurred_at=mail.date,
                sender_address=mail.sender_address,
                subject=mail.subject,
                text=mail.text,
                attachments=tuple(mail.attachments),
                raw=raw,
            )
        )
    start = time.perf_counter()
    for contact in contacts:
        await record_contact(store, contact)
    return len(contacts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 mails (about a minute)")
    parser.add_argument("--messages", type=int, default=None)
    parser.add_argument("--url", default=DEFAULT_URL, help="a PostgreSQL database to recreate")
    parser.add_argument("--no-acknowledge", action="store_true")
    args = parser.parse_args()
    count = args.messages or (1000 if args.quick else 10_000)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))

    figures = asyncio.run(run(count, args.url, not args.no_acknowledge))
    print(f"mails: {figures['messages']}")
    print(f"whole door (parse, match, store, ticket): {figures['messages_per_s']} messages/s")
    print(f"parse only (ceiling): {figures['parse_only_per_s']} messages/s")
    print(f"record_contact alone: {figures['record_contact_only_per_s']} messages/s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

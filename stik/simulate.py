"""`stik simulate day`: a working day at the contact centre, compressed, through public doors.

The simulator drives a running Stik only as the outside world does: Twilio-signed call
webhooks, mails dropped into the maildrop folder, the customer web form, scanned
letters dropped into the scans folder, and simulated employees who sign in to the
workspace, go available, answer (or miss) the calls that pop on their sockets, wrap
up, take a lunch break, and answer and close the tickets routing gives them. It never
touches the database. What it sent, and what should come of it, is its own tally:
printed at the end beside what Stik reports (`/readyz` is not enough: the figures come
from Stik's own statistics), and written as JSON for tests to compare.

The day: calls arrive as a Poisson process whose hourly rate follows a utility's
curve (a morning peak, a lunch dip, a smaller afternoon peak), with exponential talk
times and caller patience; callers are drawn from the partner book (the demo book
regenerated from its seed, or the ERP export given), some unknown, some on a
household's shared landline, some withheld, some foreign. Emails are the real mails of
the shared corpus (when it is there) and messages of every triage category in
Slovenian and English. Time runs `speed` times faster than the clock.
"""

import asyncio
import contextlib
import csv
import io
import json
import math
import os
import random
import re
import secrets
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import click

from channels.phone import twiml
from channels.phone.settings import PhoneSettings
from channels.phone.signature import sign

#: Relative call volume per hour of the day (07-17): the morning peak, the lunch dip.
DAY_CURVE = {
    7: 0.55,
    8: 1.35,
    9: 1.6,
    10: 1.4,
    11: 1.15,
    12: 0.7,
    13: 0.9,
    14: 1.05,
    15: 0.85,
    16: 0.45,
}
SIM_PASSWORD = "simulacija dneva 2026"
#: Reads Stik's own figures from the dashboards' API at the end of the day.
SUPERVISOR = "sim.vodja"
#: The figures compared, by the dashboards' codes.
COMPARED = ("calls", "answered", "service_level", "abandonment_rate", "breaches")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
TICKET_LINK = re.compile(r'href="/tickets/(\d+)"')
REPLY_TO = re.compile(r'name="to"[^>]*value="([^"]*)"')

#: One message per triage category, in Slovenian and English: (subject, body).
MESSAGES: dict[str, dict[str, tuple[str, str]]] = {
    "meter_reading": {
        "sl": (
            "Stanje števca",
            "Pošiljam stanje števca za merilno mesto {mp}: VT {vt} kWh, MT {mt} kWh.",
        ),
        "en": (
            "Meter reading",
            "My meter reading for metering point {mp}: VT {vt} kWh, MT {mt} kWh.",
        ),
    },
    "billing_complaint": {
        "sl": (
            "Reklamacija računa",
            "Račun za merilno mesto {mp} je previsok, poraba ni prava. Prosim za popravek.",
        ),
        "en": (
            "Complaint about my bill",
            "The bill for metering point {mp} is far too high. Please correct it.",
        ),
    },
    "billing_question": {
        "sl": (
            "Vprašanje o poračunu",
            "Ne razumem letnega poračuna in akontacije na računu za {mp}. Mi lahko pojasnite?",
        ),
        "en": (
            "Question about the annual settlement",
            "Could you explain the annual settlement and the advance payments on my bill for {mp}?",
        ),
    },
    "payment_plan": {
        "sl": (
            "Obročno odplačilo",
            "Prosim za obročno odplačilo zadnjega računa, ker ga ne zmorem plačati naenkrat.",
        ),
        "en": (
            "Instalments",
            "Could I pay my last bill in instalments? I cannot pay it all at once.",
        ),
    },
    "debt_disconnection": {
        "sl": (
            "Opomin in izklop",
            "Prejel sem opomin z grožnjo izklopa. Dolg sem plačal včeraj, prosim, ne izklopite.",
        ),
        "en": (
            "Disconnection warning",
            "I got a disconnection warning. I paid yesterday, please do not disconnect.",
        ),
    },
    "move_or_owner_change": {
        "sl": (
            "Selitev",
            "Selim se. Prosim za zaključni račun in prepis merilnega mesta {mp}.",
        ),
        "en": (
            "Moving out",
            "I am moving out. Please send a final bill and transfer metering point {mp}.",
        ),
    },
    "supplier_switch": {
        "sl": (
            "Menjava dobavitelja",
            "Želim zamenjati dobavitelja električne energije za merilno mesto {mp}.",
        ),
        "en": (
            "Switching supplier",
            "I want to switch my electricity supplier for metering point {mp}.",
        ),
    },
    "contract_prices": {
        "sl": ("Nova ponudba", "Zanima me vaša nova ponudba in cena za paket z zeleno energijo."),
        "en": (
            "New offer",
            "I am interested in your new offer and the price of the green energy package.",
        ),
    },
    "outage": {
        "sl": (
            "Ni elektrike",
            "Od jutra nimamo elektrike na naslovu merilnega mesta {mp}. Kdaj bo odpravljeno?",
        ),
        "en": (
            "Power cut",
            "No power since this morning at metering point {mp}. When will it be fixed?",
        ),
    },
    "connection": {
        "sl": (
            "Soglasje za priključitev",
            "Prosim za soglasje za priključitev sončne elektrarne za samooskrbo na {mp}.",
        ),
        "en": (
            "Connection consent",
            "I need connection consent for a rooftop solar plant for self-supply at {mp}.",
        ),
    },
    "meter_fault": {
        "sl": (
            "Števec ne dela",
            "Števec na merilnem mestu {mp} ne preklaplja tarife, zaslon je prazen.",
        ),
        "en": (
            "Meter broken",
            "The meter at metering point {mp} does not switch tariffs and its display is blank.",
        ),
    },
    "data_change": {
        "sl": (
            "Sprememba podatkov",
            "Prosim za spremembo naslova za pošiljanje računov in e-računa.",
        ),
        "en": (
            "Change of details",
            "Please change my billing address and switch me to e-invoices.",
        ),
    },
    "portal_access": {
        "sl": ("Prijava v portal", "Ne morem se prijaviti v spletni portal, geslo ne deluje."),
        "en": (
            "Portal login",
            "I cannot log in to the customer portal, my password does not work.",
        ),
    },
    "service_complaint": {
        "sl": (
            "Pritožba nad storitvijo",
            "Pritožujem se nad neprijaznostjo vašega klicnega centra in dolgim čakanjem.",
        ),
        "en": (
            "Complaint about service",
            "I complain about how your call centre treated me and the long wait.",
        ),
    },
    "general_question": {
        "sl": ("Vprašanje", "Kakšen je vaš delovni čas info pisarne v decembru?"),
        "en": ("Question", "What are the opening hours of your info office in December?"),
    },
    "not_for_us": {
        "sl": (
            "Ponudba oglaševanja",
            "Ponujamo vam oglaševanje na naši spletni strani po ugodni ceni.",
        ),
        "en": ("Advertising offer", "We offer you advertising on our website at a great price."),
    },
}

FORM_KINDS = ("complaint", "meter_reading", "question", "change", "callback")
LETTER_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@dataclass(frozen=True)
class Person:
    external_id: str
    name: str
    phone: str
    landline: str
    email: str
    language: str
    metering_point: str


@dataclass
class Tally:
    """What the simulator did, and what it expects Stik to have made of it."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    written: list[dict[str, Any]] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    agent: Counter[str] = field(default_factory=Counter)

    def summary(self, target_s: float, short_s: float = 5.0) -> dict[str, Any]:
        """The day's figures by the dashboards' definitions, in the clock's seconds.

        Offered calls are those answered or abandoned, less short abandons (hung up
        within `short_s`); the service level is the share of offered calls answered
        within `target_s`. Waits are real seconds, as Stik measures them.
        """
        calls = self.calls
        ended = [c for c in calls if c.get("outcome")]
        answered = [c for c in ended if c["outcome"] == "answered"]
        abandoned = [
            c for c in ended if c["outcome"] == "abandoned" and c.get("wait_s", 0) >= short_s
        ]
        in_line = answered + abandoned
        within = [c for c in answered if c["wait_s"] <= target_s]
        by_channel = Counter(w["channel"] for w in self.written)
        by_channel["phone"] = len(calls)
        known = [c for c in [*calls, *self.written] if c.get("partner")]
        return {
            "contacts": dict(by_channel),
            "calls": len(calls),
            "answered": len(answered),
            "abandoned": len(abandoned),
            "short_abandons": sum(c["outcome"] == "abandoned" for c in ended) - len(abandoned),
            "voicemail": sum(c["outcome"] in ("voicemail", "out_of_hours") for c in ended),
            "service_level": round(len(within) / len(in_line), 4) if in_line else None,
            "abandonment": round(len(abandoned) / len(in_line), 4) if in_line else None,
            "from_known_partners": len(known),
            "refused": dict(self.refused),
            "agents": dict(self.agent),
        }


def load_book(partners_csv: Path, points_csv: Path | None) -> list[Person]:
    """The partner book as an ERP export (`stik import partners` columns)."""
    points: dict[str, str] = {}
    if points_csv is not None and points_csv.exists():
        with points_csv.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                points.setdefault(row.get("customer") or "", row.get("eimm") or "")
    people: list[Person] = []
    with partners_csv.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            name = row.get("organisation_name") or " ".join(
                n for n in (row.get("first_name"), row.get("last_name")) if n
            )
            people.append(
                Person(
                    external_id=row["external_id"],
                    name=name,
                    phone=row.get("phone") or "",
                    landline=row.get("phone2") or "",
                    email=row.get("email") or "",
                    language=row.get("language") or "sl",
                    metering_point=points.get(row["external_id"], ""),
                )
            )
    # Only a landline two people give is a household's shared number.
    lines = Counter(p.landline for p in people if p.landline)
    return [p if lines[p.landline] > 1 else replace(p, landline="") for p in people]


def demo_book(partners: int, seed: int, folder: Path) -> list[Person]:
    """The demo book `stik demo-data --partners N --seed S` loaded, regenerated from its seed."""
    from interactions.demo import write_demo_files

    partner_csv, points_csv, _, _ = write_demo_files(folder, partners, seed)
    return load_book(partner_csv, points_csv)


# The outside world's parts.


class Caller:
    """Twilio's side of one call: the signed webhooks, followed as Twilio follows TwiML."""

    def __init__(self, day: "Day", sid: str, number: str) -> None:
        self.day = day
        self.sid = sid
        self.params = {
            "CallSid": sid,
            "AccountSid": "AC" + "5" * 32,
            "From": number,
            "Caller": number,
            "To": day.dialled,
            "Called": day.dialled,
            "CallStatus": "ringing",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }
        self.sequence = 0

    async def post(self, path: str, **extra: str) -> str | None:
        params = {**self.params, **extra}
        signature = sign(self.day.token, self.day.signed_base + path, params)
        try:
            async with self.day.http.post(
                self.day.base + path,
                data=urlencode(params).encode(),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": signature,
                },
            ) as response:
                body = await response.text()
                if response.status != 200:
                    self.day.tally.refused[f"phone {response.status}"] += 1
                    return None
                return body
        except aiohttp.ClientError:
            self.day.tally.refused["phone unreachable"] += 1
            return None

    async def status(self, state: str) -> None:
        self.sequence += 1
        await self.post(twiml.STATUS, CallStatus=state, SequenceNumber=str(self.sequence))

    async def run(self, record: dict[str, Any], patience_s: float, talk_s: float) -> None:
        started = time.monotonic()
        answer = await self.post(twiml.VOICE)
        self.params["CallStatus"] = "in-progress"
        if answer is None:
            record["outcome"] = "refused"
            return
        if "<Record" in answer:
            await self.voicemail(record, "out_of_hours")
            return
        while True:
            waited = time.monotonic() - started
            if self.sid in self.day.answered_at:
                break  # an agent took the call: Twilio bridges it at once
            pressed = self.day.answering.get(self.sid)
            if pressed is not None and waited >= patience_s:
                # The agent is picking up right now: the caller hears it before hanging up.
                with contextlib.suppress(TimeoutError):
                    if await asyncio.wait_for(asyncio.shield(pressed), timeout=5):
                        break
            if waited >= patience_s:
                await self.post(twiml.QUEUE_RESULT, QueueResult="hangup")
                await self.status("completed")
                record.update(outcome="abandoned", wait_s=round(waited, 3))
                return
            hold = await self.post(twiml.WAIT, QueuePosition="1", QueueTime=str(int(waited)))
            if hold is None or "<Leave" in hold:
                break
            await asyncio.sleep(min(0.25, max(0.05, patience_s - waited)))
        after = await self.post(twiml.QUEUE_RESULT, QueueResult="leave")
        if after is not None and "<Record" in after:
            await self.voicemail(record, "voicemail")
            return
        record.update(
            outcome="answered",
            wait_s=round(self.day.answered_at.pop(self.sid, time.monotonic()) - started, 3),
        )
        await asyncio.sleep(talk_s)
        await self.status("completed")

    async def voicemail(self, record: dict[str, Any], outcome: str) -> None:
        rid = "RE" + secrets.token_hex(16)
        await self.post(
            twiml.VOICEMAIL,
            RecordingUrl=f"https://api.twilio.com/2010-04-01/Accounts/AC5/Recordings/{rid}",
            RecordingSid=rid,
            RecordingDuration="15",
        )
        await self.status("completed")
        record["outcome"] = outcome


class Employee:
    """A simulated employee: signed in, with the workspace's socket open."""

    def __init__(self, day: "Day", login: str, unit: str) -> None:
        self.day = day
        self.login = login
        self.unit = unit
        self.session = aiohttp.ClientSession(
            base_url=day.base, cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
        self.csrf = ""
        self.ringing: dict[int, asyncio.Task[None]] = {}
        self.busy = False
        self.on_break = False
        self.tickets_done: set[int] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    async def sign_in(self) -> None:
        page = await (await self.session.get("/login")).text()
        token = CSRF.search(page)
        if token is None:
            raise click.ClickException("no sign-in form at /login")
        answer = await self.session.post(
            "/login",
            data={"login": self.login, "password": SIM_PASSWORD, "csrf_token": token.group(1)},
        )
        signed = CSRF.search(await answer.text())
        if answer.status != 200 or signed is None:
            raise click.ClickException(f"{self.login} could not sign in ({answer.status})")
        self.csrf = signed.group(1)

    async def presence(self, state: str, reason: str = "") -> None:
        await self.session.post(
            "/presence", data={"csrf_token": self.csrf, "state": state, "reason": reason}
        )
        self.day.tally.agent[f"presence {state}"] += 1

    def spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def listen(self) -> None:
        """The workspace's socket: pops are answered (or missed) as a person would."""
        async with self.session.ws_connect("/ws") as ws:
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                event = json.loads(message.data)
                kind, payload = event.get("kind"), event.get("payload") or {}
                if kind == "screen_pop":
                    self.day.tally.agent["pops"] += 1
                    self.spawn(self.pick_up(payload))
                elif kind == "call_ended":
                    self.spawn(self.wrap_up(payload))
                elif kind == "call_withdrawn" and payload.get("reason") == "ring timeout":
                    self.spawn(self.come_back())

    async def pick_up(self, pop: dict[str, Any]) -> None:
        day = self.day
        await day.sleep(day.pick.expovariate(1 / 4.0))  # the ring, in simulated seconds
        if self.on_break or day.pick.random() > day.answer_rate:
            day.tally.agent["missed"] += 1
            return  # let it ring out: routing offers it to the next agent
        sid = str(pop.get("call_sid") or "")
        pressed = asyncio.get_running_loop().create_future()
        day.answering[sid] = pressed  # the caller waits for the pick-up it is hearing
        try:
            response = await self.session.post(
                f"/calls/{pop['task_id']}/accept", headers={"X-CSRF-Token": self.csrf}
            )
        finally:
            day.answering.pop(sid, None)
        if response.status == 200:
            day.tally.agent["answered"] += 1
            day.answered_at[sid] = time.monotonic()
        pressed.set_result(response.status == 200)

    async def wrap_up(self, ended: dict[str, Any]) -> None:
        if ended.get("outcome") != "answered":
            return
        await self.day.sleep(self.day.pick.expovariate(1 / 30.0))
        await self.session.post(
            f"/activities/{ended['activity_id']}/wrap-up",
            data={"outcome": "resolved", "notes": "Simulirani klic."},
            headers={"X-CSRF-Token": self.csrf},
        )
        self.day.tally.agent["wrap-ups"] += 1

    async def come_back(self) -> None:
        await self.day.sleep(30)
        if not self.on_break:
            await self.presence("available")

    async def lunch(self, at_s: float, minutes: float) -> None:
        await self.day.until(at_s)
        self.on_break = True
        await self.presence("break", "lunch")
        await self.day.sleep(minutes * 60)
        self.on_break = False
        await self.presence("available")

    async def work_tickets(self, until_s: float) -> None:
        """A back-office agent: open the tickets routing gave them, answer and close them."""
        while self.day.now_s() < until_s:
            page = await (await self.session.get("/fragments/my-tickets")).text()
            for found in TICKET_LINK.findall(page):
                ticket_id = int(found)
                if ticket_id in self.tickets_done:
                    continue
                self.tickets_done.add(ticket_id)
                await self.day.sleep(self.day.pick.expovariate(1 / 240.0))
                await self.answer_ticket(ticket_id)
            await asyncio.sleep(1.0)

    async def answer_ticket(self, ticket_id: int) -> None:
        page = await (await self.session.get(f"/tickets/{ticket_id}")).text()
        to = REPLY_TO.search(page)
        if to is not None and "@" in to.group(1):
            await self.session.post(
                f"/tickets/{ticket_id}/reply",
                data={
                    "csrf_token": self.csrf,
                    "to": to.group(1),
                    "subject": "Odgovor na vaše sporočilo",
                    "body": "Spoštovani,\n\nhvala za sporočilo. Zadevo smo uredili.\n\nLep pozdrav",
                },
                allow_redirects=False,
            )
            self.day.tally.agent["replies"] += 1
        await self.session.post(
            f"/tickets/{ticket_id}/close",
            data={"csrf_token": self.csrf, "resolution": "answered", "note": "Simulacija."},
            allow_redirects=False,
        )
        self.day.tally.agent["closed"] += 1

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        with contextlib.suppress(aiohttp.ClientError):
            await self.presence("offline")
        await self.session.close()


class Day:
    """One compressed day: the schedule, the clock, the outside world and the tally."""

    def __init__(self, options: dict[str, Any], book: list[Person]) -> None:
        self.options = options
        self.book = book
        self.households = [p for p in book if p.landline]
        self.reachable = [p for p in book if p.phone] or book
        self.pick = random.Random(options["seed"])
        self.speed = float(options["speed"])
        self.base = options["url"].rstrip("/")
        self.signed_base = (options.get("public_url") or self.base).rstrip("/")
        self.token = options["token"]
        self.dialled = options["dialled"]
        self.data_dir = Path(options["data_dir"])
        self.answer_rate = options["answer_rate"]
        self.first_hour, self.last_hour = options["hours"]
        self.tally = Tally()
        self.answered_at: dict[str, float] = {}
        self.answering: dict[str, asyncio.Future[bool]] = {}
        self.started = 0.0
        self.http: aiohttp.ClientSession

    # The clock: simulated seconds since the day's first hour.

    def now_s(self) -> float:
        return (time.monotonic() - self.started) * self.speed

    async def sleep(self, simulated_s: float) -> None:
        await asyncio.sleep(max(0.0, simulated_s) / self.speed)

    async def until(self, simulated_s: float) -> None:
        await asyncio.sleep(max(0.0, simulated_s - self.now_s()) / self.speed)

    # The schedule.

    def arrivals(self, per_hour: float) -> list[float]:
        """Poisson arrivals (simulated seconds) with the day's hourly curve."""
        times = []
        for hour in range(self.first_hour, self.last_hour):
            rate = per_hour * DAY_CURVE.get(hour, 0.5)
            count = _poisson(self.pick, rate)
            start = (hour - self.first_hour) * 3600.0
            times += [start + self.pick.uniform(0, 3600) for _ in range(count)]
        return sorted(times)

    def caller(self) -> tuple[str, Person | None, str]:
        """A caller's number, who they are when the book knows, and what kind of caller."""
        roll = self.pick.random()
        if roll < 0.05:
            return "anonymous", None, "withheld"
        if roll < 0.10:
            return f"+4989{self.pick.randrange(10**7):07d}", None, "foreign"
        if roll < 0.18:
            return f"+38651{self.pick.randrange(10**6):06d}", None, "unknown"
        if roll < 0.26 and self.households:
            person = self.pick.choice(self.households)
            return person.landline, person, "shared"
        person = self.pick.choice(self.reachable)
        return person.phone, person, "known"

    # The channels.

    async def call(self) -> None:
        number, person, kind = self.caller()
        sid = "CA" + secrets.token_hex(16)
        record: dict[str, Any] = {
            "sid": sid,
            "kind": kind,
            "partner": person.external_id if person and kind == "known" else None,
            "household": person.external_id if person and kind == "shared" else None,
            "outcome": None,
        }
        self.tally.calls.append(record)
        patience = self.pick.expovariate(1 / self.options["patience"])
        talk = self.pick.expovariate(1 / self.options["handle"])
        await Caller(self, sid, number).run(record, patience / self.speed, talk / self.speed)

    async def email(self, corpus_mail: Path | None) -> None:
        self.tally.written.append(self.drop_mail(corpus_mail))

    def drop_mail(self, corpus_mail: Path | None) -> dict[str, Any]:
        """Write one mail into the maildrop as a mail server would (tmp/, then new/)."""
        drop = self.data_dir / "maildrop"
        for sub in ("tmp", "new"):
            (drop / sub).mkdir(parents=True, exist_ok=True)
        person, category, message_id = None, None, None
        if corpus_mail is not None:
            raw = corpus_mail.read_bytes()
        else:
            person = self.pick.choice(self.book) if self.pick.random() < 0.85 else None
            category = self.pick.choice(sorted(MESSAGES))
            language = person.language if person and person.language in ("sl", "en") else "sl"
            if self.pick.random() < 0.2:
                language = "en"
            subject, body = MESSAGES[category][language]
            message = EmailMessage()
            sender = person.email if person and person.email else "neznanec@example.net"
            message["From"] = f"{person.name if person else 'Neznanec'} <{sender}>"
            message["To"] = "info@dobavitelj.example.si"
            message["Subject"] = subject
            message["Date"] = format_datetime(_now())
            message_id = make_msgid(domain="simulacija.example.si")
            message["Message-ID"] = message_id
            message.set_content(
                body.format(
                    mp=person.metering_point if person else "",
                    vt=self.pick.randrange(1000, 30000),
                    mt=self.pick.randrange(500, 15000),
                )
            )
            raw = message.as_bytes()
        name = f"{time.time_ns()}.{secrets.token_hex(4)}.sim.eml"
        (drop / "tmp" / name).write_bytes(raw)
        os.replace(drop / "tmp" / name, drop / "new" / name)
        return {
            "channel": "email",
            "message_id": message_id,
            "file": corpus_mail.name if corpus_mail else None,
            "partner": person.external_id if person and person.email else None,
            "category": category,
        }

    async def web_form(self) -> None:
        kind = self.pick.choice(FORM_KINDS)
        person = self.pick.choice([p for p in self.book if p.metering_point and p.email])
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            page = await browser.get(f"{self.base}/form/{kind}")
            token = FORM_CSRF.search(await page.text())
            if token is None:
                self.tally.refused[f"web {page.status}"] += 1
                return
            fields = {
                "csrf": token.group(1),
                "name": person.name,
                "email": person.email or "stranka@example.si",
                "phone": person.phone,
                "metering_point": person.metering_point,
                "message": MESSAGES["billing_question"]["sl"][1].format(mp=person.metering_point),
                "reading_date": _now().date().isoformat(),
                "reading_vt": str(self.pick.randrange(1000, 30000)),
                "reading_mt": str(self.pick.randrange(500, 15000)),
                "change_type": "address",
                "callback_time": "any",
            }
            answer = await browser.post(f"{self.base}/form/{kind}", data=fields)
        if answer.status != 200:
            self.tally.refused[f"web {kind} {answer.status}"] += 1
            return
        self.tally.written.append(
            {
                "channel": "web",
                "kind": kind,
                "partner": person.external_id if person.email else None,
            }
        )

    async def letter(self) -> None:
        self.tally.written.append(self.drop_letter())

    def drop_letter(self) -> dict[str, Any]:
        """Render a letter as a scanned page and drop it where the batch scanner writes."""
        person = self.pick.choice(self.book)
        category = self.pick.choice(["billing_complaint", "meter_reading", "move_or_owner_change"])
        subject, body = MESSAGES[category]["sl"]
        text = (
            f"{person.name}\nTelefon: {person.phone}\n\nZadeva: {subject}\n\n"
            f"Spoštovani,\n\n{body.format(mp=person.metering_point, vt=12480, mt=6120)}\n\n"
            f"Lep pozdrav,\n{person.name}\n"
        )
        scans = self.data_dir / "scans"
        scans.mkdir(parents=True, exist_ok=True)
        name = f"pismo-{time.time_ns()}.png"
        partial = scans / f".{name}.part"
        partial.write_bytes(render_page(text))
        os.replace(partial, scans / name)
        return {
            "channel": "post",
            "file": name,
            "partner": person.external_id,
            "category": category,
        }

    # The day.

    async def run(self) -> dict[str, Any]:
        opts = self.options
        hours = self.last_hour - self.first_hour
        length_s = hours * 3600.0
        calls = self.arrivals(opts["calls_per_hour"])
        mails = self.arrivals(opts["emails_per_hour"])
        forms = self.arrivals(opts["forms_per_hour"])
        letters = sorted(self.pick.uniform(0, length_s) for _ in range(opts["letters"]))
        corpus = _corpus_mails(opts.get("corpus"))[: opts["corpus_mails"]]
        schedule: list[tuple[float, str, Any]] = [(t, "call", None) for t in calls]
        schedule += [(t, "email", None) for t in mails]
        schedule += [(self.pick.uniform(0, length_s), "email", m) for m in corpus]
        schedule += [(t, "web", None) for t in forms] + [(t, "post", None) for t in letters]
        schedule.sort(key=lambda item: item[0])

        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(
            timeout=timeout, connector=aiohttp.TCPConnector(limit=100)
        ) as self.http:
            staff = await self.staff()
            self.started = time.monotonic()
            listeners = [asyncio.create_task(e.listen()) for e in staff]
            for e in staff:
                await e.presence("available")
            extra = []
            for e in staff:
                if e.unit == "call_centre" and self.pick.random() < 0.5 and hours >= 6:
                    extra.append(asyncio.create_task(e.lunch(self.pick.uniform(4, 6) * 3600, 30)))
                if e.unit == "back_office":
                    extra.append(asyncio.create_task(e.work_tickets(length_s)))
            work: list[asyncio.Task[None]] = []
            progress = click.progressbar(length=len(schedule), label="simulated day")
            with progress:
                for at, kind, item in schedule:
                    await self.until(at)
                    maker = {
                        "call": self.call,
                        "email": lambda item=item: self.email(item),
                        "web": self.web_form,
                        "post": self.letter,
                    }[kind]
                    work.append(asyncio.create_task(maker()))
                    progress.update(1)
            await asyncio.gather(*work, return_exceptions=True)
            await self.until(length_s)
            await asyncio.sleep(opts["settle"])
            for task in [*extra, *listeners]:
                task.cancel()
            for e in staff:
                await e.close()
            stik = await self.stik_figures()
        return {
            "simulator": self.tally.summary(opts["answer_target"]),
            "stik": stik,
            "tally": asdict_tally(self.tally),
        }

    async def stik_figures(self) -> dict[str, Any] | None:
        """Today's figures as Stik's report shows them to a supervisor (None without one)."""
        manager = Employee(self, SUPERVISOR, "supervisor")
        try:
            await manager.sign_in()
            figures: dict[str, Any] = {}
            for channel in ("phone", ""):
                answer = await manager.session.get(
                    "/api/dashboards/report", params={"channel": channel} if channel else {}
                )
                if answer.status != 200:
                    return None
                rows = (await answer.json())["tables"]["summary"]["rows"]
                values = {row["code"]: row["value"] for row in rows}
                key = "phone" if channel else "all"
                figures[key] = {code: values.get(code) for code in (*COMPARED, "contacts")}
            return figures
        except (aiohttp.ClientError, click.ClickException, KeyError, ValueError):
            return None
        finally:
            await manager.session.close()

    async def staff(self) -> list[Employee]:
        people = [
            Employee(self, f"sim.klicni{n + 1}", "call_centre")
            for n in range(self.options["agents"])
        ] + [
            Employee(self, f"sim.zaledje{n + 1}", "back_office")
            for n in range(self.options["back_office"])
        ]
        for e in people:
            await e.sign_in()
        return people


def asdict_tally(tally: Tally) -> dict[str, Any]:
    return {
        "calls": tally.calls,
        "written": tally.written,
        "refused": dict(tally.refused),
        "agent": dict(tally.agent),
    }


def _poisson(pick: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method for small means, a normal for large ones)."""
    if mean > 50:
        return max(0, round(pick.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, pick.random()
    while product > limit:
        k += 1
        product *= pick.random()
    return k


def _now() -> Any:
    from interactions.types import utcnow

    return utcnow()


def _corpus_mails(folder: str | None) -> list[Path]:
    if not folder:
        return []
    path = Path(folder)
    return sorted(path.glob("*.eml")) if path.is_dir() else []


def render_page(text: str) -> bytes:
    """A scanned A4 page at 200 dpi: grey paper, black text, a slight tilt."""
    from PIL import Image, ImageDraw, ImageFont

    page = Image.new("L", (1654, 2339), 245)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(str(LETTER_FONT), 34) if LETTER_FONT.exists() else None
    y = 160
    for line in text.splitlines():
        draw.text((150, y), line, fill=20, font=font)
        y += 52
    out = io.BytesIO()
    page.rotate(0.4, fillcolor=245).save(out, format="PNG")
    return out.getvalue()


def ensure_staff(stik: list[str], env: dict[str, str], agents: int, back_office: int) -> None:
    """Add the simulated employees through `stik users add` (kept when they exist)."""
    people = [(f"sim.klicni{n + 1}", "call_centre", "agent") for n in range(agents)]
    people += [(f"sim.zaledje{n + 1}", "back_office", "agent") for n in range(back_office)]
    people.append((SUPERVISOR, "call_centre", "supervisor"))
    for login, unit, role in people:
        subprocess.run(
            [
                *stik,
                "users",
                "add",
                login,
                "--role",
                role,
                "--legal-entity",
                "supplier",
                "--org-unit",
                unit,
                "--full-name",
                f"Simulacija {login.split('.')[-1]}",
                "--language",
                "sl",
            ],
            env={**env, "STIK_USER_PASSWORD": SIM_PASSWORD},
            capture_output=True,
            check=False,  # an employee made by an earlier run stays
        )


@click.group()
def simulate() -> None:
    """Simulations that drive a running Stik through its public interfaces."""


@simulate.command("day")
@click.option("--url", help="where Stik listens (default: its host and port)")
@click.option("--speed", default=60.0, show_default=True, help="simulated seconds per second")
@click.option("--hours", default="7-17", show_default=True, help="the day's first and last hour")
@click.option("--calls-per-hour", default=40.0, show_default=True)
@click.option("--emails-per-hour", default=15.0, show_default=True)
@click.option("--forms-per-hour", default=2.0, show_default=True)
@click.option("--letters", default=4, show_default=True, help="scanned letters in the day")
@click.option("--agents", default=4, show_default=True, help="call-centre agents")
@click.option("--back-office", default=2, show_default=True, help="back-office agents")
@click.option("--answer-rate", default=0.9, show_default=True, help="share of pops answered")
@click.option("--handle", default=180.0, show_default=True, help="mean talk time, simulated s")
@click.option("--patience", default=120.0, show_default=True, help="mean caller patience, s")
@click.option("--answer-target", default=20.0, show_default=True, help="service level target, s")
@click.option("--partners", default=2000, show_default=True, help="the demo book's size")
@click.option("--seed", default=1, show_default=True, help="the demo book's seed, and the day's")
@click.option("--book", type=click.Path(exists=True, dir_okay=False), help="partners CSV instead")
@click.option("--corpus", type=click.Path(file_okay=False), help="a folder of .eml files to send")
@click.option("--corpus-mails", default=30, show_default=True)
@click.option("--dialled", default="+38615800100", show_default=True, help="the number called")
@click.option("--settle", default=10.0, show_default=True, help="seconds to wait at the end")
@click.option("--json-out", type=click.Path(dir_okay=False), help="write the tally as JSON")
@click.pass_obj
def day(ctx: Any, **options: Any) -> None:
    """A working day at the contact centre, `--speed` times faster than the clock.

    Needs a running Stik (`make run`) on this machine: mails go into its maildrop and
    letters into its scans folder. The simulated employees (sim.klicni1.., sim.zaledje1..)
    are added with `stik users add` when missing.
    """
    settings = ctx.settings
    first, _, last = str(options["hours"]).partition("-")
    if not (first.isdigit() and last.isdigit() and 0 <= int(first) < int(last) <= 24):
        raise click.BadParameter("give the hours as FIRST-LAST, e.g. 7-17", param_hint="--hours")
    if options["speed"] <= 0:
        raise click.BadParameter("must be positive", param_hint="--speed")
    options["hours"] = (int(first), int(last))
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    options["url"] = options["url"] or f"http://{host}:{settings.port}"
    options["public_url"] = settings.public_url
    options["token"] = PhoneSettings.load(settings.extra.get("phone"), settings.data_dir).auth_token
    options["data_dir"] = str(settings.data_dir)
    if options["corpus"] is None:
        default = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "email"
        options["corpus"] = str(default) if default.is_dir() else None
    folder = settings.data_dir / "simulation"
    if options["book"]:
        book = load_book(Path(options["book"]), None)
    else:
        book = demo_book(options["partners"], options["seed"], folder)
    if not book:
        raise click.ClickException("the partner book is empty")
    stik = [sys.executable, "-m", "stik"]
    ensure_staff(stik, dict(os.environ), options["agents"], options["back_office"])
    result = asyncio.run(Day(options, book).run())
    summary, stik = result["simulator"], result["stik"]
    click.echo("\nThe day as the simulator counted it:")
    for key, value in summary.items():
        click.echo(f"  {key}: {value}")
    if stik is not None:
        phone = stik.get("phone", {})
        click.echo("\nSide by side (simulator | Stik's report today, calls):")
        mine = {
            "calls": summary["calls"],
            "answered": summary["answered"],
            "service_level": summary["service_level"],
            "abandonment_rate": summary["abandonment"],
        }
        for code, value in mine.items():
            click.echo(f"  {code}: {value} | {phone.get(code)}")
        click.echo(f"  SLA breaches today (Stik): {stik.get('all', {}).get('breaches')}")
    else:
        click.echo("\n(Stik's report was not reachable: no dashboards, or no supervisor)")
    if options["json_out"]:
        Path(options["json_out"]).write_text(json.dumps(result, indent=1, default=str))
    click.echo(json.dumps(summary, default=str))

"""`stik call`: play Twilio's part of one call against a running Stik.

It posts what Twilio posts, signed as Twilio signs (with the configured auth token, or
the installation's local test token), and follows the TwiML Stik answers: it waits in
line, polling the wait URL as Twilio does, until an agent answers on the workspace
(then talks and hangs up), the caller gives up (`--abandon-after`), or Stik sends it to
voicemail (then leaves a message). Nothing else is needed: no Twilio account.
"""

import asyncio
import secrets
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
import click

from channels.phone import twiml
from channels.phone.settings import PhoneSettings
from channels.phone.signature import sign


@dataclass
class Twilio:
    """One call's side of Twilio: same CallSid, same caller, signed posts."""

    base: str
    signed_base: str
    token: str
    params: dict[str, str]
    session: aiohttp.ClientSession
    sequence: int = 0
    log: list[str] = field(default_factory=list)

    async def post(self, path: str, **extra: str) -> tuple[int, ET.Element | None]:
        params = {**self.params, **extra}
        signature = sign(self.token, self.signed_base + path, params)
        async with self.session.post(
            self.base + path,
            data=urlencode(params).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature,
            },
        ) as response:
            body = await response.text()
            if response.status != 200:
                return response.status, None
            try:
                return 200, ET.fromstring(body)
            except ET.ParseError:
                return 200, None

    async def status(self, state: str, **extra: str) -> None:
        self.sequence += 1
        await self.post(twiml.STATUS, CallStatus=state, SequenceNumber=str(self.sequence), **extra)


def call_params(sid: str, caller: str, dialled: str) -> dict[str, str]:
    """The parameters Twilio sends with every request of an inbound call."""
    return {
        "CallSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": caller,
        "To": dialled,
        "Caller": caller,
        "Called": dialled,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
        "FromCountry": "SI" if caller.startswith("+386") else "",
        "ToCountry": "SI",
    }


async def place_call(
    url: str,
    signed_url: str,
    token: str,
    caller: str,
    dialled: str,
    *,
    talk_seconds: float,
    abandon_after: float | None,
    max_wait: float,
    say: Any = print,
) -> dict[str, Any]:
    """Run one call to its end; return what happened, as Twilio saw it."""
    sid = "CA" + secrets.token_hex(16)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        side = Twilio(url.rstrip("/"), signed_url.rstrip("/"), token, {}, session)
        side.params = call_params(sid, caller, dialled)
        started = time.monotonic()
        status, answer = await side.post(twiml.VOICE)
        if status != 200 or answer is None:
            hint = " (is the token the one Stik uses?)" if status == 403 else ""
            raise click.ClickException(f"Stik answered the incoming call with {status}{hint}")
        side.params["CallStatus"] = "in-progress"
        say(f"call {sid} from {caller}: ringing")
        if answer.find("Record") is not None:
            return await _voicemail(side, "closed", started, say)
        line = answer.find("Enqueue")
        if line is None:
            await side.status("completed")
            return {"sid": sid, "outcome": "no queue"}
        say(f"  waiting in line {line.text!r}")
        while True:
            waited = time.monotonic() - started
            if (abandon_after is not None and waited >= abandon_after) or waited >= max_wait:
                await side.post(
                    twiml.QUEUE_RESULT, QueueResult="hangup", QueueTime=str(int(waited))
                )
                await side.status("completed", CallDuration=str(int(waited)))
                say(f"  the caller hung up after {waited:.1f} s")
                return {"sid": sid, "outcome": "abandoned", "wait_s": round(waited, 1)}
            _, hold = await side.post(
                twiml.WAIT, QueuePosition="1", QueueTime=str(int(waited)), CurrentQueueSize="1"
            )
            if hold is not None and hold.find("Leave") is not None:
                break
            pause = hold.find("Pause") if hold is not None else None
            await asyncio.sleep(min(float(pause.get("length", 1)) if pause is not None else 1, 5))
        waited = time.monotonic() - started
        _, after = await side.post(
            twiml.QUEUE_RESULT, QueueResult="leave", QueueTime=str(int(waited))
        )
        if after is not None and after.find("Record") is not None:
            return await _voicemail(side, "busy", started, say)
        dial = after.find("Dial") if after is not None else None
        if dial is None:
            await side.status("completed")
            return {"sid": sid, "outcome": "dropped"}
        who = "".join(dial.itertext()).strip()
        say(f"  answered by {who} after {waited:.1f} s; talking {talk_seconds:.0f} s")
        await asyncio.sleep(talk_seconds)
        total = time.monotonic() - started
        await side.status("completed", CallDuration=str(int(total)))
        say("  hung up")
        return {"sid": sid, "outcome": "answered", "agent": who, "wait_s": round(waited, 1)}


async def _voicemail(side: Twilio, why: str, started: float, say: Any) -> dict[str, Any]:
    rid = "RE" + secrets.token_hex(16)
    recording = f"https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/{rid}"
    await side.post(
        twiml.VOICEMAIL, RecordingUrl=recording, RecordingSid=rid, RecordingDuration="12"
    )
    await side.status("completed", CallDuration=str(int(time.monotonic() - started)))
    say(f"  voicemail ({why}): a message of 12 s was left")
    return {"sid": side.params["CallSid"], "outcome": "voicemail", "why": why}


@click.command("call")
@click.option("--url", help="where Stik listens (default: its host and port)")
@click.option("--from", "caller", default="+38641123456", show_default=True, help="caller")
@click.option("--to", "dialled", default="+38615800100", show_default=True, help="our number")
@click.option("--talk", "talk_seconds", default=20.0, show_default=True, help="seconds talked")
@click.option("--abandon-after", type=float, help="hang up after waiting this many seconds")
@click.option("--max-wait", default=120.0, show_default=True, help="give up after this wait")
@click.pass_obj
def call(
    ctx: Any,
    url: str | None,
    caller: str,
    dialled: str,
    talk_seconds: float,
    abandon_after: float | None,
    max_wait: float,
) -> None:
    """Place a signed test call, as Twilio would, against a running Stik.

    Sign in to the workspace as a call-centre agent and choose Available: the call pops
    on your screen; answer it there. The call's life is recorded like a real one.
    """
    settings = ctx.settings
    phone = PhoneSettings.load(settings.extra.get("phone"), settings.data_dir)
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    base = url or f"http://{host}:{settings.port}"
    signed = settings.public_url or base
    result = asyncio.run(
        place_call(
            base,
            signed,
            phone.auth_token,
            caller,
            dialled,
            talk_seconds=talk_seconds,
            abandon_after=abandon_after,
            max_wait=max_wait,
            say=lambda line: click.echo(line, err=False),
        )
    )
    click.echo(" ".join(f"{k}={v}" for k, v in result.items()))
    sys.stdout.flush()

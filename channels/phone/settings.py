"""The phone channel's configuration: `[phone]` in the TOML file, secrets from the environment.

```toml
[phone]
auth_token = "..."            # Twilio's auth token (or STIK_TWILIO_AUTH_TOKEN)
cti_secret = "..."            # the generic CTI hook's shared secret (or STIK_CTI_SECRET)
agent_endpoint = "client:{login}"   # where a taken call is dialled: client:, sip: or a number
hold_music_url = ""           # played while waiting; silence between announcements without it
wait_poll_seconds = 3         # how often Twilio asks what to play next (and so how soon
                              # an accepted call leaves the queue)

[[phone.lines]]               # each public number: whose it is and which queue it rings
number = "+386 1 580 01 00"
legal_entity = "supplier"
queue = "sup-call-centre"     # optional: routing's first phone queue of the entity otherwise
```
"""

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interactions.identifiers import InvalidIdentifier, normalize_phone


class PhoneConfigError(ValueError):
    """The `[phone]` section cannot be used; the message names the key."""


@dataclass(frozen=True)
class Line:
    number: str
    legal_entity: str
    queue: str | None = None


@dataclass(frozen=True)
class PhoneSettings:
    auth_token: str = ""
    cti_secret: bytes = b""
    agent_endpoint: str = "client:{login}"
    hold_music_url: str = ""
    wait_poll_seconds: int = 3
    lines: dict[str, Line] = field(default_factory=dict)

    #: Where the token came from: "configured", or "local" (made here, for `stik call`).
    token_source: str = "configured"

    @classmethod
    def load(cls, section: dict[str, Any] | None, data_dir: Path | None = None) -> "PhoneSettings":
        """Read `[phone]`; without a Twilio token, one is made in `data_dir` and kept there.

        That local token lets `stik call` place signed test calls on a machine with no
        Twilio account; real Twilio requests are refused until the account's token is set.
        """
        section = dict(section or {})
        lines: dict[str, Line] = {}
        for n, entry in enumerate(section.get("lines") or ()):
            if not isinstance(entry, dict) or not entry.get("number"):
                raise PhoneConfigError(f"phone.lines[{n}] needs a number")
            try:
                number = normalize_phone(str(entry["number"]))
            except InvalidIdentifier as exc:
                raise PhoneConfigError(f"phone.lines[{n}].number: {exc}") from None
            entity = str(entry.get("legal_entity") or "")
            if not entity:
                raise PhoneConfigError(f"phone.lines[{n}] needs a legal_entity")
            queue = entry.get("queue")
            lines[number] = Line(number, entity, str(queue) if queue else None)
        poll = section.get("wait_poll_seconds", 3)
        if isinstance(poll, bool) or not isinstance(poll, int) or not 1 <= poll <= 60:
            raise PhoneConfigError("phone.wait_poll_seconds must be a whole number from 1 to 60")
        endpoint = str(section.get("agent_endpoint") or "client:{login}")
        if "{login}" not in endpoint and not endpoint.startswith(("client:", "sip:", "+")):
            raise PhoneConfigError("phone.agent_endpoint must be client:, sip: or a number")
        token = os.environ.get("STIK_TWILIO_AUTH_TOKEN") or str(section.get("auth_token") or "")
        source = "configured"
        if not token and data_dir is not None:
            token, source = local_token(data_dir), "local"
        secret = os.environ.get("STIK_CTI_SECRET") or str(section.get("cti_secret") or "")
        return cls(
            auth_token=token,
            cti_secret=secret.encode(),
            agent_endpoint=endpoint,
            hold_music_url=str(section.get("hold_music_url") or ""),
            wait_poll_seconds=poll,
            lines=lines,
            token_source=source,
        )

    def line(self, dialled: str | None) -> Line | None:
        if not dialled:
            return None
        try:
            return self.lines.get(normalize_phone(dialled))
        except InvalidIdentifier:
            return None


def local_token(data_dir: Path) -> str:
    """The token this installation signs its own test calls with, made on first use."""
    path = data_dir / "phone_test_token"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(24))
    return path.read_text().strip()

"""The email channel's configuration: the `[email]` table of Stik's TOML file.

Mailboxes are a list (`[[email.mailboxes]]`); passwords never sit in the file, each
mailbox names the environment variable that holds its password.
"""

import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from channels.fax import gateway_addresses
from stik.config import Settings

MB = 1024 * 1024


@dataclass(frozen=True)
class MailboxSettings:
    """One IMAP folder Stik reads, and what the mail in it is for."""

    name: str
    address: str
    host: str = ""
    port: int = 993
    security: str = "tls"  # tls | starttls | plain
    user: str = ""
    password_env: str = ""
    folder: str = "INBOX"
    done_folder: str | None = None  # move processed mail here; else flag it \Seen
    legal_entity: str | None = None
    queue: str | None = None
    language: str = "sl"
    poll_seconds: float = 30.0
    idle: bool = True
    timeout_seconds: float = 60.0
    ca_file: str = ""  # a private CA to trust for the server's certificate

    @property
    def password(self) -> str:
        return os.environ.get(self.password_env, "") if self.password_env else ""


@dataclass(frozen=True)
class SmtpSettings:
    """Where outgoing mail goes; without it, mail is written to the outbox folder."""

    host: str
    port: int = 587
    security: str = "starttls"  # tls | starttls | plain
    user: str = ""
    password_env: str = ""
    timeout_seconds: float = 30.0
    ca_file: str = ""  # a private CA to trust for the server's certificate

    @property
    def password(self) -> str:
        return os.environ.get(self.password_env, "") if self.password_env else ""


def tls_context(ca_file: str) -> ssl.SSLContext:
    """A verifying TLS context; with `ca_file`, that CA is trusted as well."""
    return ssl.create_default_context(cafile=ca_file or None)


@dataclass(frozen=True)
class EmailSettings:
    maildrop: Path
    outbox: Path
    mailboxes: tuple[MailboxSettings, ...] = ()
    smtp: SmtpSettings | None = None
    sender: str = "info@stik.invalid"
    own_addresses: frozenset[str] = frozenset()
    internal_domains: tuple[str, ...] = ()
    max_message_bytes: int = 30 * MB
    reopen_days: int = 30
    acknowledge: bool = True
    acknowledge_interval_hours: float = 24.0
    language: str = "sl"
    drop_poll_seconds: float = 5.0
    send_poll_seconds: float = 10.0
    max_send_attempts: int = 8
    enabled: bool = True
    #: Senders whose mail is a fax (`[fax] gateways`): recorded as channel fax.
    fax_gateways: frozenset[str] = frozenset()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def watched_addresses(self) -> frozenset[str]:
        """Every address that is Stik's own: mailboxes, the sender, configured ones."""
        mine = {m.address.lower() for m in self.mailboxes} | {self.sender.lower()}
        return frozenset(mine | {a.lower() for a in self.own_addresses})

    def mailbox(self, name: str) -> MailboxSettings | None:
        return next((m for m in self.mailboxes if m.name == name), None)

    @classmethod
    def from_settings(cls, settings: Settings) -> "EmailSettings":
        """Read the `[email]` table of `settings`, with defaults for everything."""
        raw: dict[str, Any] = dict(settings.extra.get("email") or {})
        mailboxes = tuple(_mailbox(m) for m in raw.pop("mailboxes", ()))
        smtp = raw.pop("smtp", None)
        max_mb = raw.pop("max_message_mb", None)
        values: dict[str, Any] = {
            "fax_gateways": gateway_addresses(settings.extra),
            "maildrop": Path(raw.pop("maildrop", settings.data_dir / "maildrop")),
            "outbox": Path(raw.pop("outbox", settings.data_dir / "outbox")),
            "mailboxes": mailboxes,
            "smtp": SmtpSettings(**smtp) if smtp else None,
        }
        if max_mb is not None:
            values["max_message_bytes"] = int(float(max_mb) * MB)
        if "own_addresses" in raw:
            values["own_addresses"] = frozenset(a.lower() for a in raw.pop("own_addresses"))
        if "internal_domains" in raw:
            values["internal_domains"] = tuple(d.lower() for d in raw.pop("internal_domains"))
        known = set(cls.__dataclass_fields__)
        values.update({k: v for k, v in raw.items() if k in known})
        values["extra"] = {k: v for k, v in raw.items() if k not in known}
        return cls(**values)


def _mailbox(raw: dict[str, Any]) -> MailboxSettings:
    return MailboxSettings(**raw)

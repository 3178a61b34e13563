"""Fixtures of the email tests: settings, built mails, a real Dovecot and a real SMTP server."""

import contextlib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from imapclient import IMAPClient

from channels.email.settings import EmailSettings, MailboxSettings
from tests.conftest import missing

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
#: The mailboxes of the test session's Dovecot, all with the password "secret".
TEST_USERS = tuple(f"box{n}@stik.test" for n in range(400))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_mail(
    *,
    subject: str = "Števec št. 12345",
    sender: str = "ana.novak@example.si",
    to: str = "info@stik.test",
    body: str = "Pozdravljeni, pošiljam stanje števca.",
    message_id: str | None = "<m1@example.si>",
    headers: dict[str, str] | None = None,
    html: str | None = None,
) -> bytes:
    """Return the bytes of a simple mail, as a mail program would send it."""
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = "Mon, 02 Mar 2026 09:30:00 +0100"
    if message_id:
        message["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message.as_bytes()


def email_settings(tmp_path: Path, **overrides: object) -> EmailSettings:
    values: dict[str, object] = {
        "maildrop": tmp_path / "maildrop",
        "outbox": tmp_path / "outbox",
        "sender": "info@stik.test",
        "mailboxes": (
            MailboxSettings(name="info", address="info@stik.test", queue="general"),
            MailboxSettings(name="complaints", address="reklamacije@stik.test", queue="complaints"),
        ),
        "internal_domains": ("stik.test",),
    }
    values.update(overrides)
    return EmailSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path) -> EmailSettings:
    return email_settings(tmp_path)


@dataclass
class Dovecot:
    """A Dovecot IMAP server of the test session, with users added on demand."""

    home: Path
    port: int
    owner: str
    tls_port: int

    @property
    def ca_file(self) -> str:
        return str(self.home / "cert.pem")

    def add_user(self, user: str) -> None:
        if user not in TEST_USERS:
            raise ValueError(f"{user} is not one of the session's users")

    def client(self, user: str) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(user, "secret")
        return client

    def deliver(self, user: str, *mails: bytes, folder: str = "INBOX") -> None:
        """Put mails into a user's folder, as the mail server's delivery would."""
        self.add_user(user)
        client = self.client(user)
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for raw in mails:
                client.append(folder, raw)
        finally:
            client.logout()

    def mailbox(self, user: str, **overrides: object) -> MailboxSettings:
        self.add_user(user)
        os.environ["STIK_TEST_IMAP_PASSWORD"] = "secret"
        values: dict[str, object] = {
            "name": user.split("@")[0],
            "address": user,
            "host": "127.0.0.1",
            "port": self.port,
            "security": "plain",
            "user": user,
            "password_env": "STIK_TEST_IMAP_PASSWORD",
            "poll_seconds": 0.5,
            "timeout_seconds": 10,
        }
        values.update(overrides)
        return MailboxSettings(**values)  # type: ignore[arg-type]


_CONFIG = """
protocols = imap
listen = 127.0.0.1
base_dir = {home}/run
state_dir = {home}/state
log_path = {home}/dovecot.log
ssl = yes
ssl_cert = <{home}/cert.pem
ssl_key = <{home}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = 1
last_valid_uid = 0
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {home}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={home}/users/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """Start Dovecot as an unprivileged process on a free loopback port."""
    if not os.path.exists(DOVECOT):
        missing("Dovecot is not installed (Debian package dovecot-imapd)")
    # Not under pytest's temporary root: that is private to the user running the tests.
    home = Path(tempfile.mkdtemp(prefix="stik-dovecot-"))
    account = pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    group = subprocess.run(
        ["id", "-gn", account.pw_name], capture_output=True, text=True, check=True
    ).stdout.strip()
    port, tls_port = free_port(), free_port()
    make_certificate(home)
    config = _CONFIG.format(
        home=home,
        tls_port=tls_port,
        user=account.pw_name,
        group=group,
        uid=account.pw_uid,
        gid=account.pw_gid,
        port=port,
    )
    (home / "dovecot.conf").write_text(config)
    # Dovecot may miss a passwd-file changed twice within a second: all users up front.
    (home / "passwd").write_text("".join(f"{u}:{{PLAIN}}secret::::::\n" for u in TEST_USERS))
    command = [DOVECOT, "-F", "-c", str(home / "dovecot.conf")]
    if os.geteuid() == 0:
        home.chmod(0o755)
        for path in [home, *home.rglob("*")]:
            os.chown(path, account.pw_uid, account.pw_gid)
        command = [
            "setpriv",
            f"--reuid={account.pw_uid}",
            f"--regid={account.pw_gid}",
            "--clear-groups",
            *command,
        ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, process)
        yield Dovecot(home=home, port=port, owner=account.pw_name, tls_port=tls_port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(home, ignore_errors=True)


def make_certificate(folder: Path) -> Path:
    """Write a self-signed certificate for 127.0.0.1 (cert.pem, key.pem) into `folder`."""
    if shutil.which("openssl") is None:
        missing("openssl is not installed (Debian package openssl)")
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return folder / "cert.pem"


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            pytest.fail(f"Dovecot exited: {output}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail("Dovecot did not start listening")


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes


class _Collector:
    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.refuse = False

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        if self.refuse:
            return "451 4.3.0 try again later"
        self.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)  # type: ignore[attr-defined]
        )
        return "250 OK"


@dataclass
class SmtpServer:
    host: str
    port: int
    collector: _Collector
    security: str = "plain"
    ca_file: str = ""

    @property
    def messages(self) -> list[Received]:
        return self.collector.messages


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real aiosmtpd server on a free loopback port that keeps what it receives."""
    collector = _Collector()
    port = free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, collector)
    finally:
        controller.stop()


@pytest.fixture(params=["starttls", "tls"])
def tls_smtp_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SmtpServer]:
    """An aiosmtpd server that requires STARTTLS, or speaks TLS from the start."""
    cert = make_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, tmp_path / "key.pem")
    collector = _Collector()
    port = free_port()
    if request.param == "starttls":
        controller = Controller(
            collector, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True
        )
    else:
        controller = Controller(collector, hostname="127.0.0.1", port=port, ssl_context=context)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, collector, security=request.param, ca_file=str(cert))
    finally:
        controller.stop()


class CuttingProxy:
    """A TCP proxy to a server that cuts the connection after `limit` bytes back."""

    def __init__(self, port: int, limit: int) -> None:
        self.target = port
        self.limit = limit
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cuts = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pipe, args=(client, upstream, None), daemon=True).start()
            threading.Thread(
                target=self._pipe, args=(upstream, client, self.limit), daemon=True
            ).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, limit: int | None) -> None:
        passed = 0
        try:
            while data := source.recv(65536):
                if limit is not None and passed + len(data) > limit:
                    self.cuts += 1
                    break
                passed += len(data)
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self.listener.close()

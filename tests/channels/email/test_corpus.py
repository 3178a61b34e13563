"""Every real mail of the shared corpus goes through the parser and into the store."""

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from channels.email.html import html_to_text
from channels.email.intake import ingest
from channels.email.parse import ParsedMail, parse_mail
from channels.email.reply import split_reply
from channels.email.robots import Robot, classify
from channels.email.settings import EmailSettings
from interactions.models import Activity, Blob, Document
from interactions.store import Store
from tests.channels.email.conftest import email_settings
from tests.conftest import CORPUS

RECEIVED = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
#: Zammad's placeholder for a mail without text.
ZAMMAD_EMPTY_BODY = "no visible content"
#: Where an expected file keeps a defect that Stik fixes: Zammad leaves this
#: UNICODE-1-1-UTF-7 encoded word undecoded ("+ANw-bermittlungsstatus").
BETTER_THAN_EXPECTED = {
    "zammad_mail018.eml": "Benachrichtung zum Übermittlungsstatus (Fehlgeschlagen)",
}
MAILS = sorted((CORPUS / "email").glob("*.eml")) or [CORPUS / "email" / "absent.eml"]


def _read(path: Path) -> bytes:
    if not path.exists():
        pytest.skip(f"corpus absent: {path}")  # corpus_path() reports it under REQUIRE_ALL
    return path.read_bytes()


class _IgnoreTags(yaml.SafeLoader):
    """Reads Zammad's Ruby-tagged YAML as plain mappings and strings."""


def _untagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_IgnoreTags.add_multi_constructor("!", _untagged)


def expected_of(path: Path) -> dict[str, Any]:
    """Return the essentials an expected file states: subject, sender, words, files."""
    stem = path.with_suffix("")
    for suffix in (".expected.yml", ".expected.json", ".expected.txt"):
        candidate = Path(str(stem) + suffix)
        if candidate.exists():
            break
    else:
        return {}
    if candidate.suffix == ".txt":
        return {"reply_text": candidate.read_text()}
    if candidate.suffix == ".yml":
        data = yaml.load(candidate.read_text(), Loader=_IgnoreTags)
        body = data.get("body") or ""
        if data.get("content_type") == "text/html":
            body = html_to_text(body)
        if body == ZAMMAD_EMPTY_BODY:
            body = ""
        raw = path.read_bytes().decode("utf-8", "replace")
        names = [a.get("filename") for a in data.get("attachments") or []]
        return {
            "subject": BETTER_THAN_EXPECTED.get(path.name, data.get("subject")),
            "sender": data.get("from_email"),
            "words": _words(body),
            # Zammad names parts that have no name (message.html, "Delivery report.txt")
            # and numbers duplicates; only names the mail itself carries are compared.
            "files": [n for n in names if n and n in raw],
        }
    data = json.loads(candidate.read_text())
    found: dict[str, Any] = {}
    if isinstance(data.get("subject"), str):
        found["subject"] = data["subject"]
    sender = data.get("from_") or (data.get("from") or [{}])[0].get("address")
    if isinstance(sender, str) and sender:
        found["sender"] = sender
    for key in ("text", "text_contains_once", "text_exact"):
        if isinstance(data.get(key), str):
            found["words"] = _words(data[key])
    if "text_reply_prefix_0_70" in data:
        found["reply_prefix"] = data["text_reply_prefix_0_70"]
    attachments = data.get("attachments")
    if isinstance(attachments, list):
        found["files"] = [a.get("filename") for a in attachments if isinstance(a, dict)]
        found["sizes"] = [a["size"] for a in attachments if isinstance(a, dict) and "size" in a]
    if data.get("auto_reply") is True:
        found["robot"] = Robot.AUTO_REPLY
    reasons = [e[2] for e in data.get("expected", []) if isinstance(e, list) and len(e) > 2]
    if "vacation" in reasons:
        found["robot"] = Robot.AUTO_REPLY
    elif reasons:
        found["robot"] = Robot.BOUNCE
    return found


def _words(text: str) -> list[str]:
    """The first distinctive words of a text: what a reader would check it by."""
    words = re.findall(r"\w{5,}", text)
    return list(dict.fromkeys(words))[:12]


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _check(mail: ParsedMail, expected: dict[str, Any], settings: EmailSettings) -> None:
    if expected.get("subject") is not None:
        assert _flat(mail.subject) == _flat(expected["subject"])
    if expected.get("sender"):
        wanted = expected["sender"].replace('"', "").strip("<> ").lower()
        assert (mail.sender_address or "").rstrip(">") == wanted
    for word in expected.get("words", []):
        assert word.casefold() in _flat(mail.text), word
    if "reply_prefix" in expected:
        assert split_reply(mail.text).new_text.startswith(expected["reply_prefix"])
    if "reply_text" in expected:
        parts = split_reply(mail.text)
        assert _flat(parts.new_text + "\n" + parts.signature) == _flat(expected["reply_text"])
    names = {a.filename for a in mail.attachments}
    for name in expected.get("files", []):
        if name and not name.startswith("noname"):
            assert name in names
    sizes = {len(a.data) for a in mail.attachments}
    for size in expected.get("sizes", []):
        assert size in sizes
    if "robot" in expected:
        assert classify(mail, settings) is expected["robot"]


@pytest.mark.parametrize("path", MAILS, ids=lambda p: p.name)
def test_corpus_mail_parses_to_its_expected_values(path: Path, tmp_path: Path) -> None:
    mail = parse_mail(_read(path), RECEIVED)

    assert mail.message_id.startswith("<") and mail.message_id.endswith(">")
    assert mail.date.tzinfo is not None
    _check(mail, expected_of(path), email_settings(tmp_path))


@pytest.mark.parametrize("path", MAILS, ids=lambda p: p.name)
async def test_corpus_mail_becomes_exactly_one_activity(
    path: Path, store: Store, tmp_path: Path
) -> None:
    raw = _read(path)
    settings = email_settings(tmp_path, acknowledge=False)
    parsed = parse_mail(raw, RECEIVED)

    first = await ingest(store, raw, settings, received_at=RECEIVED)
    again = await ingest(store, raw, settings, received_at=RECEIVED)

    assert first.created and not again.created
    assert again.activity_id == first.activity_id
    async with store.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Activity)) == 1
        activity = await session.get_one(Activity, first.activity_id)
        assert activity.state == "processed"
        assert activity.subject == (parsed.subject or None) or activity.subject == parsed.subject
        blob = await session.get_one(Blob, activity.raw_sha256)
        assert blob.data == raw
        documents = await session.scalar(
            select(func.count()).select_from(Document).where(Document.activity_id == activity.id)
        )
        assert documents == len(parsed.attachments)

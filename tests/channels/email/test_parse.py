"""The parser on hostile and odd input: never raises, keeps what it can read."""

import struct
from datetime import UTC, datetime
from email.message import EmailMessage

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.email.charsets import decode_bytes, lookup_charset
from channels.email.parse import DATE_FALLBACK, MESSAGE_ID_DERIVED, parse_mail, stable_id
from channels.email.reply import base_subject, split_reply, tag_subject, ticket_numbers
from tests.channels.email.conftest import build_mail
from tests.conftest import corpus_path

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    mail = parse_mail(raw, NOW)

    assert mail.message_id.startswith("<")
    assert mail.date.tzinfo is not None


_HEADER = st.sampled_from(
    [
        "Content-Type: multipart/mixed; boundary=",
        "Content-Type: text/plain; charset=",
        "Content-Transfer-Encoding: ",
        "Subject: =?",
        "From: ",
        "Date: ",
        "Content-Disposition: attachment; filename*=",
        "Content-Type: message/rfc822",
        "Content-Type: application/ms-tnef",
        "--",
        "",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_HEADER, st.text(max_size=40)), max_size=30))
def test_mime_shaped_garbage_never_raises(lines: list[tuple[str, str]]) -> None:
    raw = "\r\n".join(h + v for h, v in lines).encode("utf-8", "surrogatepass")

    parse_mail(raw, NOW)


def test_every_truncation_of_a_real_multipart_mail_parses() -> None:
    raw = corpus_path("email", "zammad_mail102.eml").read_bytes()[:60_000]
    for cut in range(0, len(raw), 997):
        mail = parse_mail(raw[:cut], NOW)
        assert mail.message_id


def test_missing_message_id_is_derived_stably_across_line_endings() -> None:
    crlf = build_mail(message_id=None)
    lf = crlf.replace(b"\r\n", b"\n")

    first, second = parse_mail(crlf, NOW), parse_mail(lf, NOW)

    assert first.message_id == second.message_id == stable_id(crlf)
    assert MESSAGE_ID_DERIVED in first.notes


def test_broken_date_uses_the_received_time_and_says_so() -> None:
    for value in ("Wed, 05 Sep 2018 29:24:05 +0700", "Pn, 29 paX 2007", "", "Mon, 1 Jan 2999"):
        raw = build_mail(headers={"X-Dummy": "1"}).replace(
            b"Date: Mon, 02 Mar 2026 09:30:00 +0100", f"Date: {value}".encode()
        )
        mail = parse_mail(raw, NOW)
        assert mail.date == NOW and DATE_FALLBACK in mail.notes, value


def test_encoded_words_in_subject_and_name() -> None:
    raw = (
        b"From: =?iso-8859-2?q?Ana_=A9karja?= <ana@example.si>\r\n"
        b"Subject: =?windows-1250?q?Ra=E8un_za_elektri=E8no?= =?utf-8?b?ZW5lcmdpam8=?=\r\n\r\nx"
    )

    mail = parse_mail(raw, NOW)

    assert (mail.sender_name, mail.subject) == ("Ana Škarja", "Račun za električnoenergijo")


def test_forwarded_mail_is_kept_whole_and_its_text_shown() -> None:
    inner = build_mail(subject="Original", body="Besedilo originala")
    raw = (
        b"From: b@example.si\r\nSubject: Fwd: Original\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="z"\r\n\r\n--z\r\n'
        b"Content-Type: text/plain\r\n\r\nGlej spodaj.\r\n--z\r\n"
        b"Content-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--z--\r\n"
    )

    mail = parse_mail(raw, NOW)

    assert "Glej spodaj." in mail.text and "Besedilo originala" in mail.text
    (attachment,) = mail.attachments
    assert attachment.content_type == "message/rfc822"
    assert b"Besedilo originala" in attachment.data


def test_winmail_dat_that_is_no_tnef_is_kept_and_noted() -> None:
    mail = parse_mail(corpus_path("email", "zbateson_m4006.eml").read_bytes(), NOW)

    assert [a.filename for a in mail.attachments] == ["winmail.dat"]
    assert any("winmail.dat" in note for note in mail.notes)


def test_reply_prefixes_reduce_to_one_base_subject() -> None:
    prefixes = ["RE:", "Re[2]:", "FW:", "Fwd:", "AW:", "WG:", "SV:", "VS:", "Odg:", "Posr.:"]
    for prefix in prefixes:
        assert base_subject(f"{prefix} Račun za marec") == "Račun za marec", prefix
    assert base_subject("RE: AW: Re: [#2026-000401]  Račun za marec") == "Račun za marec"
    assert base_subject("Reklamacija računa") == "Reklamacija računa"


def test_ticket_numbers_and_reply_subject() -> None:
    assert ticket_numbers("Re: [#2026-000401] dodatni podatki") == ["2026-000401"]
    assert ticket_numbers("dodatni podatki 2026-000401") == ["2026-000401"]
    assert ticket_numbers("račun 12345-123456 in 3-345341") == []
    assert tag_subject("RE: [#2026-000401] Račun", "2026-000401") == "Re: Račun [#2026-000401]"


def test_quoted_history_and_signature_are_split_from_new_text() -> None:
    text = (
        "Pošiljam stanje: VT 12345, MT 6789.\n\n--\nAna Novak\n041 123 456\n\n"
        "Dne 2. 3. 2026 ob 9:30 je info@stik.test napisal(a):\n> Prosimo za stanje."
    )
    outlook = "Hvala.\n\nFrom: Stik <info@stik.test>\nSent: Monday\nTo: Ana\nSubject: x\n\nold"

    parts = split_reply(text)

    assert parts.new_text == "Pošiljam stanje: VT 12345, MT 6789."
    assert parts.signature.startswith("--\nAna Novak")
    assert parts.quoted.startswith("Dne 2. 3. 2026") and parts.quoted.endswith("stanje.")
    assert split_reply(outlook).new_text == "Hvala."
    assert split_reply("> only quoted\n> text").new_text == "> only quoted\n> text"


def test_charset_lookup_and_fallback() -> None:
    assert lookup_charset("1250") == "cp1250"
    assert lookup_charset("base64") is None and lookup_charset("no-such") is None
    assert decode_bytes("Šmartinska".encode("cp1250"), "iso-8859-2") == ("Šmartinska", False)
    text, fallback = decode_bytes("Šmartinska".encode(), "x-unknown")
    assert (text, fallback) == ("Šmartinska", True)


def tnef_object(level: int, name: int, kind: int, data: bytes) -> bytes:
    """One TNEF attribute as Outlook writes it: header, data, 16-bit checksum."""
    header = struct.pack("<BHHI", level, name, kind, len(data))
    return header + data + struct.pack("<H", sum(data) & 0xFFFF)


def test_winmail_dat_is_unpacked_into_its_files_and_text() -> None:
    tnef = struct.pack("<IH", 0x223E9F78, 1)
    tnef += tnef_object(1, 0x9007, 0x0006, struct.pack("<II", 1250, 0))  # OEM code page
    tnef += tnef_object(1, 0x800C, 0x0002, "Števec VT 12345".encode("cp1250") + b"\0")
    tnef += tnef_object(2, 0x9002, 0x0006, b"\0" * 14)  # an attachment starts
    tnef += tnef_object(2, 0x8010, 0x0001, b"stevec.txt\0")
    tnef += tnef_object(2, 0x800F, 0x0006, b"VT 12345 MT 678")
    message = EmailMessage()
    message["From"], message["Subject"] = "ana.novak@example.si", "Outlook"
    message.set_content("")
    message.add_attachment(tnef, maintype="application", subtype="ms-tnef", filename="winmail.dat")

    mail = parse_mail(message.as_bytes(), NOW)

    files = {a.filename: a.data for a in mail.attachments}
    assert files["stevec.txt"] == b"VT 12345 MT 678"
    assert files["winmail.dat"] == tnef
    assert "Števec VT 12345" in mail.text

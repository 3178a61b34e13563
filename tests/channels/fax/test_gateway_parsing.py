"""Gateway mail and webhook signatures against hostile input."""

import time
from email import message_from_bytes, policy

from hypothesis import given, settings
from hypothesis import strategies as st

from channels.fax import gateway_addresses, signing
from channels.fax.gateway import fax_number, parse_gateway_mail

GATEWAYS = frozenset({"fax@gateway.example"})


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_parse_or_are_not_a_gateway_mail(raw: bytes) -> None:
    faxes = parse_gateway_mail(b"From: fax@gateway.example\r\n" + raw, GATEWAYS)
    assert faxes is None or isinstance(faxes, list)


def test_number_from_headers_before_subject() -> None:
    raw = (
        b"From: FAX@gateway.example\r\nX-Fax-From: 00386 2 620 44 10\r\n"
        b"Subject: Fax from 01 111 11 11\r\n\r\nno attachment\r\n"
    )
    assert parse_gateway_mail(raw, GATEWAYS) == []
    assert fax_number(message_from_bytes(raw, policy=policy.default)) == "+38626204410"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30), st.text(max_size=80), st.binary(max_size=100))
def test_signatures_only_from_the_secret(timestamp: str, signature: str, body: bytes) -> None:
    assert not signing.check(b"secret", timestamp, signature, body)


def test_signature_round_trip_and_window() -> None:
    now = time.time()
    stamp = str(int(now))
    good = signing.sign(b"secret", stamp, b"{}")
    assert signing.check(b"secret", stamp, good, b"{}", now=now)
    assert signing.check(b"secret", stamp, "sha256=" + good, b"{}", now=now)
    assert not signing.check(b"secret", stamp, good, b"{} ", now=now)
    assert not signing.check(b"secret", stamp, good, b"{}", now=now + 301)
    assert not signing.check(b"", stamp, signing.sign(b"", stamp, b"{}"), b"{}", now=now)


def test_gateway_addresses_from_config() -> None:
    assert gateway_addresses({"fax": {"gateways": [" Fax@Gateway.Example "]}}) == GATEWAYS
    assert gateway_addresses({}) == frozenset()

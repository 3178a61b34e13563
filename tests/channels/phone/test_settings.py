"""The `[phone]` section: what a misconfiguration says, and the local test token."""

from pathlib import Path

import pytest

from channels.phone.settings import PhoneConfigError, PhoneSettings


def test_lines_are_normalised_and_looked_up_in_any_form() -> None:
    phone = PhoneSettings.load(
        {"auth_token": "t", "lines": [{"number": "01 580 01 00", "legal_entity": "dso"}]}
    )
    line = phone.line("+386 1 580 01 00")
    assert line is not None and line.legal_entity == "dso" and line.number == "+38615800100"
    assert phone.line("0038615800100") == line
    assert phone.line("not a number") is None and phone.line(None) is None


@pytest.mark.parametrize(
    ("section", "names"),
    [
        ({"lines": [{"legal_entity": "dso"}]}, "phone.lines[0] needs a number"),
        ({"lines": [{"number": "12"}]}, "phone.lines[0].number"),
        ({"lines": [{"number": "01 580 01 00"}]}, "needs a legal_entity"),
        ({"lines": ["+38615800100"]}, "phone.lines[0] needs a number"),
        ({"wait_poll_seconds": 0}, "wait_poll_seconds"),
        ({"wait_poll_seconds": "3"}, "wait_poll_seconds"),
        ({"agent_endpoint": "ftp://x"}, "agent_endpoint"),
    ],
)
def test_a_bad_section_names_the_key(section: dict[str, object], names: str) -> None:
    with pytest.raises(PhoneConfigError, match=names.replace("[", r"\[").replace("]", r"\]")):
        PhoneSettings.load(section)


def test_without_a_token_one_is_made_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STIK_TWILIO_AUTH_TOKEN", raising=False)
    first = PhoneSettings.load({}, tmp_path)
    again = PhoneSettings.load({}, tmp_path)
    configured = PhoneSettings.load({"auth_token": "from-twilio"}, tmp_path)
    assert first.token_source == "local" and len(first.auth_token) >= 24
    assert again.auth_token == first.auth_token
    assert (tmp_path / "phone_test_token").stat().st_mode & 0o077 == 0
    assert (configured.auth_token, configured.token_source) == ("from-twilio", "configured")

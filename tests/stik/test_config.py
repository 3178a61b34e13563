"""Settings: defaults, TOML file, environment, in that order of precedence."""

from pathlib import Path

import pytest

from stik.config import load_settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STIK_DATABASE_URL", "STIK_PORT", "STIK_DATA_DIR", "STIK_CONFIG", "STIK_HOST"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.port == 8080
    assert settings.effective_database_url == "sqlite:///var/stik.db"


def test_environment_beats_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "stik.toml"
    config.write_text('port = 9000\nhost = "0.0.0.0"\n[mailboxes.info]\nhost = "imap"\n')
    monkeypatch.setenv("STIK_PORT", "9100")
    monkeypatch.delenv("STIK_HOST", raising=False)
    settings = load_settings(config)
    assert settings.port == 9100
    assert settings.host == "0.0.0.0"
    assert settings.extra == {"mailboxes": {"info": {"host": "imap"}}}

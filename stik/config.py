"""Configuration from environment variables and an optional TOML file.

Environment variables win over the file; the file wins over the defaults.
"""

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "STIK_"


@dataclass(frozen=True)
class Settings:
    """Everything a Stik process needs to know at start."""

    data_dir: Path = Path("var")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "info"
    log_format: str = "keyvalue"  # keyvalue | json
    public_url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'stik.db'}"


HELP = {
    "STIK_DATABASE_URL": "database; postgresql://user@host/db, default sqlite in the data dir",
    "STIK_HOST": "address to listen on (default 127.0.0.1)",
    "STIK_PORT": "port to listen on (default 8080)",
    "STIK_DATA_DIR": "folder for the SQLite file, drop folders and the outbox (default var)",
    "STIK_LOG_LEVEL": "debug, info, warning or error (default info)",
    "STIK_LOG_FORMAT": "keyvalue or json (default keyvalue)",
    "STIK_PUBLIC_URL": "the URL the public reaches Stik at, for webhooks behind a proxy",
    "STIK_CONFIG": "a TOML file with the same keys in lower case, without the prefix",
}


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Return settings from `config_file` (or $STIK_CONFIG), the environment and overrides."""
    values: dict[str, Any] = {}
    path = config_file or os.environ.get("STIK_CONFIG")
    if path:
        with open(path, "rb") as fh:
            values.update(tomllib.load(fh))

    known = {f.name for f in fields(Settings)}
    for name in known - {"extra"}:
        env = os.environ.get(ENV_PREFIX + name.upper())
        if env:
            values[name] = env
    values.update({k: v for k, v in overrides.items() if v is not None})

    extra = {k: v for k, v in values.items() if k not in known}
    settings = {k: v for k, v in values.items() if k in known and k != "extra"}
    if "data_dir" in settings:
        settings["data_dir"] = Path(settings["data_dir"])
    if "port" in settings:
        settings["port"] = int(settings["port"])
    return Settings(**settings, extra=extra)

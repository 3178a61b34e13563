"""The `stik` command as an operator runs it: migrate, count, serve, stop."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

STIK = [sys.executable, "-m", "stik"]


def run(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "STIK_DATABASE_URL"}
    environment.update(STIK_DATA_DIR=str(data_dir), **env)
    return subprocess.run(
        [*STIK, *args], env=environment, capture_output=True, text=True, timeout=120
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_upgrade_then_stats_on_embedded_default(tmp_path: Path) -> None:
    upgraded = run(["db", "upgrade"], tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert (tmp_path / "stik.db").exists()

    stats = run(["stats", "--json"], tmp_path)
    assert stats.returncode == 0, stats.stderr
    figures = json.loads(stats.stdout)
    assert figures["partners"] == 0
    assert figures["failed_contacts"] == 0
    assert figures["tickets"] == {}


def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    assert run(["db", "upgrade"], tmp_path).returncode == 0
    down = run(["db", "downgrade", "base"], tmp_path)
    assert down.returncode == 0, down.stderr
    assert "revision None" in down.stdout
    assert run(["db", "upgrade"], tmp_path).returncode == 0


def test_unknown_database_scheme_is_a_clear_error(tmp_path: Path) -> None:
    result = run(["stats"], tmp_path, STIK_DATABASE_URL="mysql://x@y/z")
    assert result.returncode != 0
    assert "unsupported database 'mysql'" in result.stderr


def test_serve_help_names_the_environment(tmp_path: Path) -> None:
    result = run(["serve", "--help"], tmp_path)
    for variable in ("STIK_DATABASE_URL", "STIK_HOST", "STIK_PORT", "STIK_DATA_DIR"):
        assert variable in result.stdout


def test_serve_answers_probes_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    assert run(["db", "upgrade"], tmp_path).returncode == 0
    port = free_port()
    env = {**os.environ, "STIK_DATA_DIR": str(tmp_path), "STIK_PORT": str(port)}
    env.pop("STIK_DATABASE_URL", None)
    server = subprocess.Popen(
        [*STIK, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        body = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    body = json.load(r)
            except OSError:
                time.sleep(0.2)
        assert body is not None, "server never answered /readyz"
        assert body["status"] == "ok"
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            _out, err = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            pytest.fail("stik serve did not stop within 20 s of SIGTERM")
    assert server.returncode == 0, err

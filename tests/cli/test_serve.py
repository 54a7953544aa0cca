"""Tests for cli/serve.py: `serve` answers on loopback, API and dashboard (one quick run in a
real process)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_answers_healthz_and_the_dashboard(tmp_path: Path) -> None:
    port = free_port()
    database_url = f"sqlite:///{tmp_path / 'valueproof.db'}"
    command = [sys.executable, "-m", "valueproof.cli.main", "--database-url", database_url]
    server = subprocess.Popen(
        [*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, "the server exited early"
                assert time.monotonic() < deadline, "the server did not answer in time"
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        dashboard = httpx.get(f"http://127.0.0.1:{port}/login", timeout=60)
        assert dashboard.status_code == 200 and 'name="key"' in dashboard.text
    finally:
        server.terminate()
        server.wait(timeout=30)

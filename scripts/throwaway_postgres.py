"""Start a throwaway PostgreSQL server for the test suite and print its URL.

PostgreSQL refuses to run as root, so when we are root the cluster is owned by and started as
an unprivileged user (`postgres` if it exists, else `nobody`). The data directory lives in a
temporary folder with fsync off: it is thrown away after the run.

    python scripts/throwaway_postgres.py start DIR   -> prints postgresql+psycopg://... on stdout
    python scripts/throwaway_postgres.py stop DIR
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path


def _bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if not candidates:
        sys.exit(f"{name} not found: install the PostgreSQL server binaries")
    return candidates[0]


def _user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    sys.exit("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL")


def _run(user: str | None, *command: str) -> None:
    prefix = ["runuser", "-u", user, "--"] if user else []
    subprocess.run([*prefix, *command], check=True, stdout=subprocess.DEVNULL)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(root: Path) -> str:
    user = _user()
    root.mkdir(parents=True, exist_ok=True)
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir(exist_ok=True)
    if user:
        record = pwd.getpwnam(user)
        for path in (root, sockets):
            os.chown(path, record.pw_uid, record.pw_gid)
        root.chmod(0o755)
    _run(user, _bin("initdb"), "-D", str(data), "-U", "valueproof", "--auth=trust", "-E", "UTF8")
    port = _free_port()
    options = (
        f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    _run(
        user, _bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"
    )
    url = f"postgresql+psycopg://valueproof@127.0.0.1:{port}/postgres"
    (root / "url").write_text(url)
    return url


def stop(root: Path) -> None:
    _run(_user(), _bin("pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "stop")


def wait_ready(url: str, seconds: float = 30) -> None:
    import psycopg

    deadline = time.monotonic() + seconds
    plain = url.replace("postgresql+psycopg", "postgresql")
    while True:
        try:
            psycopg.connect(plain).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


if __name__ == "__main__":
    action, folder = sys.argv[1], Path(sys.argv[2])
    if action == "start":
        address = start(folder)
        wait_ready(address)
        print(address)
    else:
        stop(folder)

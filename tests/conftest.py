"""Shared fixtures: every storage test runs on SQLite and on a real PostgreSQL server.

Isolation is by tenant, the product's own isolation boundary: each test gets a fresh tenant in a
database migrated once per backend and test worker.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine

from valueproof.config import Settings
from valueproof.ledger.keyring import Keyring, StoredKey, generate_key
from valueproof.ledger.publish import log_origin
from valueproof.server import create_app
from valueproof.store import connect_engine, upgrade, write
from valueproof.tenancy.keys import Scope, create_api_key
from valueproof.tenancy.tenants import Tenant, create_tenant

# No timing assertions in the suite: hypothesis's per-example deadline and its too-slow health
# check are both, and a loaded CI machine fails them at random.
settings.register_profile("valueproof", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("valueproof")

ROOT = Path(__file__).resolve().parents[1]
LEDGER_PASSPHRASE = "correct horse battery staple"  # opens the test tenants' signing keys
BACKENDS = ["sqlite", "postgresql"]
_counter = itertools.count()


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The PostgreSQL server URL: `VALUEPROOF_TEST_POSTGRES_URL`, or a throwaway one we start."""
    given = os.environ.get("VALUEPROOF_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    folder = Path(tempfile.mkdtemp(prefix="vp-pg-"))
    script = str(ROOT / "scripts" / "throwaway_postgres.py")
    url = subprocess.run(
        [sys.executable, script, "start", str(folder)], check=True, capture_output=True, text=True
    ).stdout.strip()
    yield url
    subprocess.run([sys.executable, script, "stop", str(folder)], check=False)


def fresh_postgres_database(server_url: str, name: str) -> str:
    """Create (or recreate) an empty database on the server and return its URL."""
    plain = server_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(plain, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def database_url(backend: str, request: pytest.FixtureRequest, name: str) -> str:
    """A URL of an empty database of `backend`, private to this worker and `name`."""
    if backend == "sqlite":
        folder = request.getfixturevalue("tmp_path_factory").mktemp(name)
        return f"sqlite:///{folder / 'valueproof.db'}"
    server = request.getfixturevalue("postgres_server")
    return fresh_postgres_database(server, f"vp_{name}_{_worker()}")


@pytest.fixture(scope="session", params=BACKENDS)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated database per backend, shared by the tests of this worker."""
    url = database_url(request.param, request, "shared")
    created = connect_engine(url)
    upgrade(created)
    yield created
    created.dispose()


@pytest.fixture
def tenant(engine: Engine) -> Tenant:
    """A tenant of its own for this test."""
    with write(engine) as connection:
        return create_tenant(connection, f"t{_worker()}-{next(_counter)}-{time.time_ns() % 10**6}")


@pytest.fixture
def admin_key(engine: Engine, tenant: Tenant) -> str:
    """A key with every scope for the test's tenant."""
    with write(engine) as connection:
        return create_api_key(connection, tenant.id, frozenset(Scope)).token


@pytest.fixture(scope="session")
def keyring() -> Keyring:
    """Opens the test tenants' signing keys (one per session: keys open once, as in a server)."""
    return Keyring(LEDGER_PASSPHRASE)


@pytest.fixture
def signing_key(engine: Engine, tenant: Tenant) -> StoredKey:
    """A checkpoint signing key for the test's tenant, so ingest signs checkpoints."""
    with write(engine) as connection:
        return generate_key(
            connection, tenant.id, log_origin("test.localhost", tenant.slug), LEDGER_PASSPHRASE, 1
        )


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test process keeps its own handlers
        pass


@contextmanager
def serving(app: FastAPI, lifespan: str = "off") -> Iterator[str]:
    """Serve `app` with uvicorn on a free loopback port in a thread; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan=lifespan)
    running = _Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = running.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def serve() -> Callable[..., AbstractContextManager[str]]:
    """`serving` for tests that need a server of their own (other settings, a lifespan)."""
    return serving


@pytest.fixture(scope="session")
def server(engine: Engine) -> Iterator[str]:
    """The API served by uvicorn on loopback over the backend's database; yields its base URL."""
    settings = Settings(database_url=str(engine.url), ledger_passphrase=LEDGER_PASSPHRASE)
    with serving(create_app(engine, settings)) as url:
        yield url


@pytest.fixture
def http(server: str, admin_key: str) -> Iterator[httpx.Client]:
    """A real HTTP client on loopback, authenticated as the test tenant's admin."""
    with httpx.Client(
        base_url=server, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30
    ) as client:
        yield client

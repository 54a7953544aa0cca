"""Builders for the webhook tests: a real receiver on loopback that verifies every signature with
`standardwebhooks`, endpoints pointing at it, and a worker on a clock the test moves."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from valueproof.tenancy.clock import now_us
from valueproof.tenancy.tenants import Tenant
from valueproof.webhooks.delivery import Deliverer
from valueproof.webhooks.endpoint_store import Endpoint
from valueproof.webhooks.writes import add_endpoint

from ..conftest import LEDGER_PASSPHRASE


@dataclass(frozen=True, slots=True)
class Received:
    """One request the receiver took: its path, Standard Webhooks headers and parsed body."""

    path: str
    id: str
    timestamp: str
    body: dict[str, Any]
    answered: int


@dataclass
class Receiver:
    """A webhook receiver on a fixed loopback port that can go down and come back.

    Each path has its endpoint's secret; a request whose signature does not verify is answered
    400 and counted in `forged`. `answer` is the status it gives to good requests.
    """

    secrets: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    forged: list[str] = field(default_factory=list)
    answer: int = 200
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                secret = receiver.secrets.get(self.path)
                try:
                    if secret is None:
                        raise WebhookVerificationError("no secret for this path")
                    Webhook(secret).verify(body, dict(self.headers.items()))
                except WebhookVerificationError as error:
                    with receiver._lock:
                        receiver.forged.append(str(error))
                    self.send_response(400)
                    self.end_headers()
                    return
                status = receiver.answer
                with receiver._lock:
                    receiver.received.append(
                        Received(
                            self.path,
                            self.headers["webhook-id"],
                            self.headers["webhook-timestamp"],
                            orjson.loads(body),
                            status,
                        )
                    )
                reply = b'{"ok": true}' if status < 300 else b"try later"
                self.send_response(status)
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def acknowledged(self) -> list[Received]:
        """The requests answered 2xx."""
        return [r for r in self.received if 200 <= r.answered < 300]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver, up."""
    running = Receiver()
    running.start()
    try:
        yield running
    finally:
        running.stop()


@dataclass
class Clock:
    """The worker's clock: real time plus what the test added."""

    offset_us: int = 0

    def __call__(self) -> int:
        return now_us() + self.offset_us

    def advance(self, seconds: float) -> None:
        self.offset_us += int(seconds * 1_000_000)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def worker(engine: Engine, tenant: Tenant, clock: Clock) -> Iterator[Deliverer]:
    """A worker for the test tenant's deliveries, on the test's clock."""
    running = Deliverer(
        engine, LEDGER_PASSPHRASE, timeout_seconds=5, tenant_id=tenant.id, clock=clock
    )
    try:
        yield running
    finally:
        running.close()


def subscribe(
    engine: Engine,
    tenant: Tenant,
    receiver: Receiver,
    path: str = "/hooks",
    event_types: list[str] | None = None,
) -> Endpoint:
    """An endpoint of the tenant at `path` on the receiver, which learns its secret."""
    found, secret = add_endpoint(
        engine, tenant.id, receiver.url(path), event_types or [], "test", LEDGER_PASSPHRASE
    )
    receiver.secrets[path] = secret
    return found

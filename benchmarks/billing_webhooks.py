"""Webhook delivery speed (issue 14): deliveries per second to a local receiver, and the time
from a change's commit to its delivery with `serve`'s delivery beat.

- Throughput: `--messages` events enqueued (committed), then `valueproof webhooks deliver`'s
  worker (`webhooks.writes.deliver_due`: signed, POSTed by a pool of threads over keep-alive
  connections, the attempts of each batch recorded in one transaction) until none is due.
- Latency: the assembled server (`valueproof serve`'s app, its lifespan on, the beat every
  `VALUEPROOF_WEBHOOK_DELIVERY_SECONDS`, default 1) while `--latency-messages` events are
  committed one transaction each at `--rate` per second; per event, its commit to the receiver
  having it; p50, p99 and the worst.

The receiver is a threaded HTTP/1.1 server in this process answering 204; it notes each
`webhook-id` on arrival (the tests verify every signature; this measures the sender). Printed
with the ratios to the goals: 500 deliveries/s, p99 <= 2 s.

    .venv/bin/python benchmarks/billing_webhooks.py
    .venv/bin/python benchmarks/billing_webhooks.py --messages 2000 --database-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import Engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.seasonality import machine  # noqa: E402

from valueproof.config import Settings  # noqa: E402
from valueproof.server import create_app  # noqa: E402
from valueproof.store import connect_engine, upgrade, write  # noqa: E402
from valueproof.tenancy.clock import now_us  # noqa: E402
from valueproof.tenancy.tenants import create_tenant  # noqa: E402
from valueproof.webhooks.outbox import enqueue  # noqa: E402
from valueproof.webhooks.writes import add_endpoint, deliver_due  # noqa: E402

SCRATCH = Path(__file__).resolve().parent / "scratch"
PASSPHRASE = "benchmark passphrase, not a secret"
GOAL_RATE = 500.0
GOAL_P99 = 2.0
DATA = {"id": "in_000123", "total": "1234.56", "currency": "EUR", "leaf_index": 42}


class Receiver:
    """A local receiver: notes when each `webhook-id` arrived, answers 204."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.requests = 0
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a production receiver

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                with lock:
                    receiver.requests += 1
                    receiver.arrived.setdefault(self.headers["webhook-id"], time.perf_counter())
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def serving(engine: Engine, config: Settings) -> Iterator[None]:
    """The assembled server with its beats (lifespan on), on a loopback port, in a thread."""
    server = uvicorn.Server(
        uvicorn.Config(create_app(engine, config), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def enqueue_many(engine: Engine, tenant_id: int, count: int) -> list[str]:
    with write(engine) as connection:
        return [
            enqueue(connection, tenant_id, "invoice.finalized", DATA, now_us())
            for _ in range(count)
        ]


def throughput(
    engine: Engine, config: Settings, tenant_id: int, receiver: Receiver, n: int
) -> float:
    """Deliveries per second of one `webhooks deliver` run over `n` due messages."""
    sent = enqueue_many(engine, tenant_id, n)
    started = time.perf_counter()
    counts = deliver_due(engine, config)
    elapsed = time.perf_counter() - started
    missing = [m for m in sent if m not in receiver.arrived]
    if counts.delivered != n or missing:
        raise SystemExit(f"delivered {counts.delivered} of {n}; {len(missing)} never arrived")
    return n / elapsed


def latency(
    engine: Engine, config: Settings, tenant_id: int, receiver: Receiver, n: int, rate: float
) -> list[float]:
    """Seconds from each commit to its arrival, with the serve beat delivering."""
    committed: dict[str, float] = {}
    with serving(engine, config):
        start = time.perf_counter()
        for index in range(n):
            pause = start + index / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            [message] = enqueue_many(engine, tenant_id, 1)
            committed[message] = time.perf_counter()
        deadline = time.perf_counter() + 120
        while not committed.keys() <= receiver.arrived.keys():
            if time.perf_counter() > deadline:
                raise SystemExit("some messages never arrived")
            time.sleep(0.05)
    return sorted(receiver.arrived[m] - at for m, at in committed.items())


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=5000, help="for the throughput run")
    parser.add_argument("--latency-messages", type=int, default=500)
    parser.add_argument("--rate", type=float, default=100.0, help="commits per second")
    parser.add_argument("--database-url", help="default: a scratch SQLite file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    SCRATCH.mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="webhooks-", dir=SCRATCH))
    url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    engine = connect_engine(url)
    receiver = Receiver()
    try:
        upgrade(engine)
        with write(engine) as connection:
            tenant = create_tenant(connection, f"bench-{time.time_ns()}")
        add_endpoint(engine, tenant.id, receiver.url, [], "benchmark", PASSPHRASE)
        config = Settings(database_url=url, ledger_passphrase=PASSPHRASE, success_refresh_seconds=0)
        print(f"webhook delivery benchmark on {engine.dialect.name}; {machine()}")
        rate = throughput(engine, config, tenant.id, receiver, args.messages)
        print(
            f"throughput: {args.messages} deliveries at {rate:,.0f}/s "
            f"({rate / GOAL_RATE:.2f}x the goal of {GOAL_RATE:.0f}/s)"
        )
        waits = latency(engine, config, tenant.id, receiver, args.latency_messages, args.rate)
        p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
        print(
            f"commit -> delivery, {len(waits)} events at {args.rate:.0f}/s with the serve beat "
            f"every {config.webhook_delivery_seconds:g} s: p50 {statistics.median(waits):.3f} s, "
            f"p99 {p99:.3f} s ({p99 / GOAL_P99:.2f} of the goal of {GOAL_P99:g} s), "
            f"worst {waits[-1]:.3f} s"
        )
        duplicates = receiver.requests - len(receiver.arrived)
        print(f"receiver: {receiver.requests} requests, {duplicates} repeated")
    finally:
        receiver.close()
        engine.dispose()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

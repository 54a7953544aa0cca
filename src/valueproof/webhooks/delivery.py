"""The delivery worker: claim due deliveries, sign each (Standard Webhooks, with the
`standardwebhooks` package), POST them concurrently with one pooled httpx client, and record the
attempts of the whole batch in one transaction."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from sqlalchemy import Engine
from standardwebhooks import Webhook

from valueproof.store import write
from valueproof.tenancy.clock import now_us
from valueproof.webhooks.delivery_store import DeliveryCounts, Due, Outcome, claim_due, record
from valueproof.webhooks.endpoint_store import open_secret
from valueproof.webhooks.errors import WebhookSecretUnavailable

__all__ = ["HEAD_BYTES", "Deliverer", "signed_headers"]

HEAD_BYTES = 256  # of each response, kept in the attempt log
_DAY_US = 86_400_000_000


def signed_headers(webhook: Webhook, message_id: str, body: bytes, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt: the id (the same on every attempt), the
    time of this attempt, and its signature over both and the body."""
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": webhook.sign(message_id, at, body),
    }


@dataclass(slots=True)
class Deliverer:
    """One worker: a pooled HTTP client, a thread pool, and the endpoint secrets it opened (the
    KDF is slow on purpose, so each is opened once per worker). Safe to run beside other
    workers, in this process or another: deliveries are claimed under a lease."""

    engine: Engine
    passphrase: str | None
    timeout_seconds: float = 10.0
    disable_after_days: float = 5.0
    batch: int = 256
    threads: int = 32
    tenant_id: int | None = None  # deliver one tenant's messages only; None: every tenant's
    clock: Callable[[], int] = now_us  # what is due, and when to retry; signatures use real time
    _client: httpx.Client = field(init=False)
    _pool: ThreadPoolExecutor = field(init=False)
    _secrets: dict[tuple[int, bytes], Webhook] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        limits = httpx.Limits(max_connections=self.threads, max_keepalive_connections=self.threads)
        self._client = httpx.Client(timeout=self.timeout_seconds, limits=limits)
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="webhooks")

    def close(self) -> None:
        """Release the client's connections and the threads."""
        self._pool.shutdown(wait=True)
        self._client.close()

    def run_due(self) -> DeliveryCounts:
        """Deliver batches until none is due; what was done."""
        total = DeliveryCounts()
        while True:
            counts, claimed = self.run_once()
            total += counts
            if claimed < self.batch:
                return total

    def run_once(self) -> tuple[DeliveryCounts, int]:
        """Claim one batch of due deliveries and attempt each; what was done, and how many were
        claimed."""
        lease_us = int((self.timeout_seconds * 2 + 60) * 1_000_000)
        with write(self.engine) as connection:
            claimed = claim_due(connection, self.clock(), lease_us, self.batch, self.tenant_id)
        if not claimed:
            return DeliveryCounts(), 0
        # Open each endpoint's secret once, here, before the threads: scrypt takes ~32 MiB a run.
        webhooks = {due.endpoint_id: self._webhook(due) for due in claimed}
        outcomes = list(self._pool.map(self._attempt, claimed, [webhooks] * len(claimed)))
        with write(self.engine) as connection:
            counts = record(
                connection, outcomes, self.clock(), int(self.disable_after_days * _DAY_US)
            )
        return counts, len(claimed)

    def _webhook(self, due: Due) -> Webhook | str:
        """The endpoint's signer, or why its secret does not open (logged as the attempt's
        error, so the operator sees it in the delivery log)."""
        key = (due.endpoint_id, bytes(due.endpoint.ciphertext))
        webhook = self._secrets.get(key)
        if webhook is None:
            try:
                webhook = Webhook(open_secret(due.endpoint, self.passphrase))
            except WebhookSecretUnavailable as unavailable:
                return unavailable.detail
            self._secrets[key] = webhook
        return webhook

    def _attempt(self, due: Due, webhooks: dict[int, Webhook | str]) -> Outcome:
        started = self.clock()
        clock = time.perf_counter_ns()
        webhook = webhooks[due.endpoint_id]
        if isinstance(webhook, str):
            return Outcome(due, started, None, webhook, 0, "")
        headers = signed_headers(webhook, due.message_id, due.payload, datetime.now(UTC))
        try:
            with self._client.stream(
                "POST", due.endpoint.url, content=due.payload, headers=headers
            ) as response:
                head = b""
                for chunk in response.iter_bytes():
                    head += chunk
                    if len(head) >= HEAD_BYTES:
                        break
                code, error = response.status_code, None
        except (httpx.HTTPError, httpx.InvalidURL) as failure:
            code, error, head = None, f"{type(failure).__name__}: {failure}", b""
        elapsed = (time.perf_counter_ns() - clock) // 1000
        text = head[:HEAD_BYTES].decode("utf-8", "replace").replace("\x00", "\ufffd")
        return Outcome(due, started, code, error, elapsed, text)

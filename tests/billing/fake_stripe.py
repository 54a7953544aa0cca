"""A FAKE of Stripe's HTTP API, for tests only: Stripe is a third-party service that cannot be
reached from here, so this stands in for it on loopback (real HTTP, a server thread).

It implements just what valueproof's hand-off calls through the official `stripe` SDK:
customers create, invoice items create, invoices create, finalize and retrieve; form-encoded
bodies as the SDK sends them, errors in Stripe's `{"error": {...}}` shape. `Idempotency-Key`
is honoured as Stripe does: the same key with the same request gets the first response again,
with other parameters an `idempotency_error`. Every request is recorded for assertions. It
signs webhook events the way Stripe does (`Stripe-Signature: t=<time>,v1=<HMAC-SHA256 of
"<time>.<body>" under the endpoint secret>`). It knows nothing of payments, tax or emails.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import orjson

API_KEY = "sk_test_fake"
WEBHOOK_SECRET = "whsec_fake"


@dataclass(frozen=True)
class Recorded:
    """One request the fake answered: what was asked, and whether it was an idempotent replay."""

    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    status: int
    replayed: bool


@dataclass
class _Fault:
    path: re.Pattern[str]
    times: int
    after: bool
    skip: int = 0  # process (and remember) the request, then answer 500 as if the reply was lost


@dataclass
class FakeStripe:
    """The fake's state: its objects by id, the requests it answered, and faults to inject."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    _answers: dict[str, tuple[str, dict[str, Any], int, bytes]] = field(default_factory=dict)
    _faults: list[_Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- what tests call ---------------------------------------------------------------------

    def posts(self, path_prefix: str, *, replays: bool = False) -> list[Recorded]:
        """The POSTs under `path_prefix` that made something (with `replays`, also replays)."""
        return [
            r
            for r in self.requests
            if r.method == "POST"
            and r.path.startswith(path_prefix)
            and r.status == 200
            and (replays or not r.replayed)
        ]

    def refuse(self, path: str, times: int = 1, skip: int = 0) -> None:
        """Answer `times` POSTs whose path matches `path` (a regex), after the next `skip` of
        them, with a 400."""
        self._faults.append(_Fault(re.compile(path), times, after=False, skip=skip))

    def lose_reply(self, path: str, times: int = 1) -> None:
        """Do the next `times` POSTs matching `path`, then answer 500 as if the reply was lost
        on the way (with `Stripe-Should-Retry: true`, as Stripe does): the client's retry with
        the same idempotency key must get the first answer, not a second object."""
        self._faults.append(_Fault(re.compile(path), times, after=True))

    def invoice_items(self, invoice_id: str) -> list[dict[str, Any]]:
        """The items on a Stripe invoice, in the order they were added."""
        return [item for item in self.items.values() if item["invoice"] == invoice_id]

    def event(self, kind: str, invoice_id: str, status: str | None = None) -> tuple[bytes, str]:
        """A signed webhook of `kind` about the invoice (moved to `status` first, if given): the
        body and its `Stripe-Signature` header."""
        with self._lock:
            invoice = self.invoices[invoice_id]
            if status is not None:
                invoice["status"] = status
            body = orjson.dumps(
                {
                    "id": _new_id("evt"),
                    "object": "event",
                    "api_version": "2025-01-01",
                    "created": int(time.time()),
                    "livemode": False,
                    "type": kind,
                    "data": {"object": invoice},
                }
            )
        return body, sign(body)

    # -- the HTTP API ------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, params: dict[str, Any], key: str | None
    ) -> tuple[int, bytes]:
        with self._lock:
            fault = self._fault(method, path)
            if fault is not None and not fault.after:
                return self._record(method, path, params, key, 400, _error("refused by the fake"))
            if key is not None and key in self._answers:
                was_path, was_params, status, body = self._answers[key]
                if (was_path, was_params) != (path, params):
                    body = _error(
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with.",
                        "idempotency_error",
                    )
                    return self._record(method, path, params, key, 400, body)
                return self._record(method, path, params, key, status, body, replayed=True)
            status, answer = self._route(method, path, params)
            body = orjson.dumps(answer)
            if key is not None and method == "POST":
                self._answers[key] = (path, params, status, body)
            if fault is not None:
                return self._record(method, path, params, key, 500, _error("lost reply"))
            return self._record(method, path, params, key, status, body)

    def _fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if method == "POST" and fault.times > 0 and fault.path.search(path):
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                fault.times -= 1
                return fault
        return None

    def _record(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        key: str | None,
        status: int,
        body: bytes,
        replayed: bool = False,
    ) -> tuple[int, bytes]:
        self.requests.append(Recorded(method, path, params, key, status, replayed))
        return status, body

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if method == "POST" and parts == ["v1", "customers"]:
            return self._create_customer(params)
        if method == "POST" and parts == ["v1", "invoices"]:
            return self._create_invoice(params)
        if method == "POST" and parts == ["v1", "invoiceitems"]:
            return self._create_item(params)
        if method == "POST" and len(parts) == 4 and parts[1::2] == ["invoices", "finalize"]:
            return self._finalize(parts[2], params)
        if method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "invoices"]:
            if parts[2] in self.invoices:
                return 200, self.invoices[parts[2]]
            return 404, orjson.loads(_error(f"No such invoice: '{parts[2]}'"))
        return 404, orjson.loads(_error(f"Unrecognized request URL ({method}: {path})"))

    def _create_customer(self, params: dict[str, Any]) -> tuple[int, Any]:
        customer = {
            "id": _new_id("cus"),
            "object": "customer",
            "name": params.get("name"),
            "email": params.get("email"),
            "metadata": params.get("metadata", {}),
        }
        self.customers[customer["id"]] = customer
        return 200, customer

    def _create_invoice(self, params: dict[str, Any]) -> tuple[int, Any]:
        if params.get("customer") not in self.customers:
            return 400, orjson.loads(_error("No such customer", param="customer"))
        invoice = {
            "id": _new_id("in"),
            "object": "invoice",
            "customer": params["customer"],
            "currency": params.get("currency", "usd"),
            "description": params.get("description"),
            "status": "draft",
            "auto_advance": params.get("auto_advance") == "true",
            "collection_method": params.get("collection_method", "charge_automatically"),
            "days_until_due": _int(params.get("days_until_due")),
            "automatic_tax": {"enabled": params.get("automatic_tax", {}).get("enabled") == "true"},
            "metadata": params.get("metadata", {}),
            "subtotal": 0,
            "total": 0,
            "amount_due": 0,
        }
        self.invoices[invoice["id"]] = invoice
        return 200, invoice

    def _create_item(self, params: dict[str, Any]) -> tuple[int, Any]:
        invoice = self.invoices.get(params.get("invoice", ""))
        if invoice is None or invoice["status"] != "draft":
            return 400, orjson.loads(_error("The invoice is not a draft", param="invoice"))
        if params.get("customer") != invoice["customer"]:
            return 400, orjson.loads(_error("Customer differs from the invoice's"))
        if params.get("currency") != invoice["currency"]:
            return 400, orjson.loads(_error("Currency differs from the invoice's"))
        item = {
            "id": _new_id("ii"),
            "object": "invoiceitem",
            "amount": int(params["amount"]),
            "currency": params["currency"],
            "customer": params["customer"],
            "invoice": invoice["id"],
            "description": params.get("description"),
            "metadata": params.get("metadata", {}),
        }
        self.items[item["id"]] = item
        invoice["subtotal"] += item["amount"]
        invoice["total"] = invoice["amount_due"] = invoice["subtotal"]
        return 200, item

    def _finalize(self, invoice_id: str, params: dict[str, Any]) -> tuple[int, Any]:
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            return 404, orjson.loads(_error(f"No such invoice: '{invoice_id}'"))
        if invoice["status"] != "draft":
            return 400, orjson.loads(_error("This invoice is already finalized"))
        invoice["status"] = "paid" if invoice["total"] == 0 else "open"
        if "auto_advance" in params:
            invoice["auto_advance"] = params["auto_advance"] == "true"
        return 200, invoice


def sign(body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header for `body`, as Stripe computes it."""
    moment = int(time.time()) if timestamp is None else timestamp
    signed = f"{moment}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"


def _error(message: str, kind: str = "invalid_request_error", param: str | None = None) -> bytes:
    return orjson.dumps({"error": {"type": kind, "message": message, "param": param}})


def _new_id(prefix: str) -> str:
    """An id as Stripe makes them: a prefix and random text, unique across test runs."""
    return f"{prefix}_{secrets.token_hex(8)}"


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def form_params(body: str) -> dict[str, Any]:
    """The SDK's form encoding back into nested dicts: `metadata[a]=1` is {"metadata": {"a": "1"}}
    (every value stays text, as Stripe reads it)."""
    found: dict[str, Any] = {}
    for name, value in parse_qsl(body, keep_blank_values=True):
        keys = re.findall(r"[^\[\]]+", name)
        place = found
        for part in keys[:-1]:
            place = place.setdefault(part, {})
        place[keys[-1]] = value
    return found


def _handler(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer("GET", {})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._answer("POST", form_params(self.rfile.read(length).decode()))

        def _answer(self, method: str, params: dict[str, Any]) -> None:
            path = self.path.split("?", 1)[0]
            if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                status, body = 401, _error("Invalid API Key provided", "invalid_request_error")
            else:
                status, body = fake.handle(method, path, params, self.headers["Idempotency-Key"])
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if status == 500:
                self.send_header("Stripe-Should-Retry", "true")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    return Handler


@contextmanager
def fake_stripe() -> Iterator[FakeStripe]:
    """A FakeStripe serving on a free loopback port until the block ends."""
    fake = FakeStripe()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

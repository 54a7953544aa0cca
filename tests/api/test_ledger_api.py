"""The ledger's read API over real HTTP: what it serves verifies with the public key alone."""

from __future__ import annotations

import gzip
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from valueproof.api.routers.ledger import accepts_gzip
from valueproof.ledger.keyring import StoredKey
from valueproof.ledger.merkle import HASH_SIZE
from valueproof.ledger.verifier import (
    parse_consistency_proof,
    parse_entry,
    parse_inclusion_proof,
    verify_checkpoint,
    verify_consistency_document,
    verify_inclusion_document,
    verify_log,
    verify_log_entry,
)
from valueproof.store import write
from valueproof.tenancy.keys import Scope, create_api_key
from valueproof.tenancy.tenants import Tenant, create_tenant

EVENT_TYPE = {"key": "api.call", "properties": {"tokens": {"type": "integer"}}}


def call(number: int) -> dict[str, Any]:
    return {
        "id": f"e{number}",
        "account": "acme",
        "type": "api.call",
        "timestamp": "2026-11-01T10:00:00Z",
        "properties": {"tokens": number},
    }


@pytest.fixture
def logged(http: httpx.Client, signing_key: StoredKey) -> httpx.Client:
    """300 events on the log in two batches (checkpoints at 100 and 300)."""
    assert http.put("/v1/event-types/api.call", json=EVENT_TYPE).status_code == 201
    assert (
        http.post("/v1/accounts", json={"external_id": "acme", "name": "Acme"}).status_code == 201
    )
    for numbers in (range(100), range(100, 300)):
        answer = http.post("/v1/events", json={"events": [call(n) for n in numbers]})
        assert answer.status_code == 200, answer.text
    return http


def test_proofs_verify_with_the_published_key_alone(
    logged: httpx.Client, signing_key: StoredKey
) -> None:
    keys = logged.get("/v1/ledger/keys").json()["keys"]
    assert [key["vkey"] for key in keys] == [signing_key.verifier.vkey]
    vkey = keys[0]["vkey"]

    latest = logged.get("/v1/ledger/checkpoint").json()
    checkpoint = verify_checkpoint(latest["note"], vkey)
    assert (checkpoint.size, latest["size"], latest["log_size"]) == (300, 300, 300)

    entry = parse_entry(logged.get("/v1/ledger/entries/5").json())
    assert logged.get("/v1/ledger/entries/5").json()["record"]["record"]["id"] == "e5"
    proof = parse_inclusion_proof(logged.get("/v1/ledger/proofs/inclusion?index=5").json())
    verify_inclusion_document(checkpoint, proof, entry)
    by_event = logged.get("/v1/ledger/proofs/inclusion", params={"event_id": "e5"}).json()
    assert by_event["index"] == 5 and by_event["checkpoint"] == latest["note"]

    answer = logged.get("/v1/ledger/proofs/consistency?from=100").json()
    assert answer["old_checkpoint"] is not None
    old = verify_checkpoint(answer["old_checkpoint"], vkey)
    verify_consistency_document(old, checkpoint, parse_consistency_proof(answer))


def test_tlog_tiles_serve_a_log_any_tiles_client_can_verify(
    logged: httpx.Client, server: str, admin_key: str, tenant: Tenant, signing_key: StoredKey
) -> None:
    base = f"/tlog/{tenant.slug}"
    note = logged.get(f"{base}/checkpoint")
    assert note.headers["content-type"].startswith("text/plain")
    full = logged.get(f"{base}/tile/0/000")
    assert len(full.content) == 256 * HASH_SIZE
    assert "immutable" in full.headers["cache-control"]
    # a bearer key reads every tile: no shared cache may keep one for the next caller
    assert full.headers["cache-control"].startswith("private")
    head = logged.head(f"{base}/tile/0/000")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["cache-control"] == full.headers["cache-control"]
    assert logged.head(f"{base}/checkpoint").status_code == 200
    assert len(logged.get(f"{base}/tile/0/001.p/44").content) == 44 * HASH_SIZE
    assert len(logged.get(f"{base}/tile/1/000.p/1").content) == HASH_SIZE
    assert logged.get(f"{base}/tile/0/001").status_code == 404  # not full yet
    headers = {"Authorization": f"Bearer {admin_key}"}
    report = verify_log(f"{server}{base}", signing_key.verifier.vkey, headers=headers)
    assert (report.checkpoint.size, report.note) == (300, note.text)
    one = verify_log_entry(f"{server}{base}", signing_key.verifier.vkey, 257, headers=headers)
    assert b'"id":"e257"' in one.entry


def test_entry_bundles_are_gzipped_for_clients_that_accept_it(
    logged: httpx.Client, tenant: Tenant
) -> None:
    path = f"/tlog/{tenant.slug}/tile/entries/000"
    plain = logged.get(path, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["vary"] == "Accept-Encoding"
    encoding, packed = _raw(logged, path, "gzip")
    assert encoding == "gzip"
    assert gzip.decompress(packed) == plain.content
    assert len(packed) * 3 < len(plain.content)  # JSON leaves shrink several times
    assert _raw(logged, path, "gzip")[1] == packed  # an immutable tile: the same bytes every time
    refused = logged.get(path, headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in refused.headers
    hashes = logged.get(f"/tlog/{tenant.slug}/tile/0/000", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in hashes.headers  # random hashes: gzip would only grow them


def _raw(client: httpx.Client, path: str, accept: str) -> tuple[str | None, bytes]:
    """The Content-Encoding and the bytes as sent, before httpx would decode them."""
    with client.stream("GET", path, headers={"Accept-Encoding": accept}) as answer:
        return answer.headers.get("content-encoding"), b"".join(answer.iter_raw())


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", True),
        ("gzip, identity", True),
        ("deflate, gzip;q=0.5", True),
        ("*", True),
        ("identity", False),
        ("", False),
        ("gzip;q=0", False),
        ("gzip;q=0, *", False),
        ("br, *;q=0", False),
        ("GZIP;Q=1", True),
        ("gzip;q=nonsense", False),
    ],
)
def test_accept_encoding_is_read_as_rfc_9110_says(header: str, expected: bool) -> None:
    assert accepts_gzip(header) is expected


def test_bad_requests_are_refused_with_the_field(logged: httpx.Client, tenant: Tenant) -> None:
    past = logged.get("/v1/ledger/proofs/inclusion?index=300")
    assert past.status_code == 422 and "index" in past.json()["detail"]
    too_big = logged.get("/v1/ledger/proofs/inclusion?index=1&size=301")
    assert too_big.status_code == 422 and "size" in too_big.json()["detail"]
    both = logged.get("/v1/ledger/proofs/inclusion?index=1&event_id=e1")
    assert both.status_code == 422
    backwards = logged.get("/v1/ledger/proofs/consistency?from=300&to=100")
    assert backwards.status_code == 422 and "from" in backwards.json()["detail"]
    assert logged.get("/v1/ledger/entries/300").status_code == 404
    assert logged.get(f"/tlog/{tenant.slug}/tile/0/0001").status_code == 422
    assert logged.get("/tlog/someone-else/checkpoint").status_code == 403


def test_reads_need_a_key_and_signing_needs_admin(
    engine: Engine, logged: httpx.Client, tenant: Tenant, server: str
) -> None:
    with write(engine) as connection:
        reader = create_api_key(connection, tenant.id, frozenset({Scope.READ})).token
        stranger = create_tenant(connection, f"{tenant.slug}-other")
        stranger_key = create_api_key(connection, stranger.id, frozenset({Scope.READ})).token
    with httpx.Client(base_url=server, timeout=30) as anonymous:
        assert anonymous.get(f"/tlog/{tenant.slug}/checkpoint").status_code == 401
    as_reader = {"Authorization": f"Bearer {reader}"}
    with httpx.Client(base_url=server, headers=as_reader, timeout=30) as client:
        assert client.get("/v1/ledger/checkpoint").status_code == 200
        assert client.post("/v1/ledger/checkpoint").status_code == 403
    as_stranger = {"Authorization": f"Bearer {stranger_key}"}
    with httpx.Client(base_url=server, headers=as_stranger, timeout=30) as client:
        assert client.get(f"/tlog/{tenant.slug}/tile/0/000").status_code == 403
        assert client.get("/v1/ledger/checkpoint").status_code == 404  # its own log is empty
    signed = logged.post("/v1/ledger/checkpoint")
    assert signed.status_code == 200 and signed.json()["size"] == 300

"""`/v1/oracles` over real HTTP on loopback, on both backends: sources, metric rules, signed
readings (accepted, duplicate, conflict, rejected) and the values rules give."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, func, select

from valueproof.api.app import create_app
from valueproof.config import Settings
from valueproof.ledger.keyring import StoredKey
from valueproof.ledger.log import log_size
from valueproof.ledger.publish import latest_checkpoint
from valueproof.outcomes.readings import (
    Reading,
    new_nonce,
    parse_public_key,
    public_key_text,
    sign_reading,
    submission,
    verify_signature,
)
from valueproof.outcomes.tables import oracle_readings
from valueproof.periods import format_rfc3339, parse_rfc3339
from valueproof.store import read, write
from valueproof.tenancy.keys import Scope, create_api_key
from valueproof.tenancy.tenants import Tenant

NOW = datetime.now(UTC).replace(microsecond=0)


def source(key: str, private: Ed25519PrivateKey, metrics: list[str]) -> dict[str, Any]:
    public = public_key_text(private.public_key())
    return {"key": key, "name": key, "public_key": public, "metrics": metrics}


def signed(
    private: Ed25519PrivateKey,
    source_key: str,
    value: str,
    metric: str = "nrr",
    as_of: datetime | None = None,
    nonce: str | None = None,
) -> dict[str, Any]:
    """A submission of one reading signed with `private`."""
    reading = Reading(
        source_key,
        metric,
        Decimal(value),
        as_of or NOW - timedelta(minutes=1),
        nonce or new_nonce(),
    )
    return submission(reading, sign_reading(private, reading))


def post(http: httpx.Client, *items: dict[str, Any]) -> httpx.Response:
    return http.post("/v1/oracles/readings", json={"readings": list(items)})


def stored(engine: Engine, tenant: Tenant) -> int:
    with read(engine) as connection:
        query = select(func.count()).where(oracle_readings.c.tenant_id == tenant.id)
        return int(connection.execute(query).scalar_one())


@pytest.fixture
def bi_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def oracle(http: httpx.Client, bi_key: Ed25519PrivateKey) -> httpx.Client:
    """The tenant with source `acme-bi` (reports `nrr`) and a single-source rule for `nrr`."""
    created = http.put("/v1/oracles/sources/acme-bi", json=source("acme-bi", bi_key, ["nrr"]))
    assert created.status_code == 201, created.text
    rule = {"key": "nrr", "rule": "single", "sources": ["acme-bi"]}
    assert http.put("/v1/oracles/metrics/nrr", json=rule).status_code == 201
    return http


def problem_fields(answer: httpx.Response) -> list[str]:
    assert answer.headers["content-type"] == "application/problem+json", answer.text
    return [error["field"] for error in answer.json()["errors"]]


def test_sources_and_metrics_are_created_unchanged_updated_and_listed(
    http: httpx.Client, bi_key: Ed25519PrivateKey
) -> None:
    body = source("acme-bi", bi_key, ["nrr"])
    first = http.put("/v1/oracles/sources/acme-bi", json=body)
    assert (first.status_code, first.json()["status"]) == (201, "created")
    again = http.put("/v1/oracles/sources/acme-bi", json=body)
    assert (again.status_code, again.json()["status"]) == (200, "unchanged")
    wider = http.put("/v1/oracles/sources/acme-bi", json={**body, "metrics": ["nrr", "csat"]})
    assert (wider.status_code, wider.json()["status"]) == (200, "updated")
    listed = http.get("/v1/oracles/sources").json()["sources"]
    assert [(s["key"], s["metrics"]) for s in listed] == [("acme-bi", ["nrr", "csat"])]

    rule = {"key": "nrr", "sources": ["acme-bi"]}
    assert http.put("/v1/oracles/metrics/nrr", json=rule).status_code == 201
    assert http.put("/v1/oracles/metrics/nrr", json=rule).json()["status"] == "unchanged"
    (metric,) = http.get("/v1/oracles/metrics").json()["metrics"]
    assert (metric["key"], metric["rule"], metric["sources"]) == ("nrr", "single", ["acme-bi"])


def test_definitions_are_refused_with_the_field_that_is_wrong(
    http: httpx.Client, bi_key: Ed25519PrivateKey
) -> None:
    body = source("acme-bi", bi_key, ["nrr"])
    mismatch = http.put("/v1/oracles/sources/other", json=body)
    assert mismatch.status_code == 422
    assert problem_fields(mismatch) == ["key"]
    bad_key = http.put("/v1/oracles/sources/acme-bi", json={**body, "public_key": "AAAA"})
    assert bad_key.status_code == 422
    assert problem_fields(bad_key) == ["public_key"]
    assert http.get("/v1/oracles/sources").json()["sources"] == []

    unknown = http.put("/v1/oracles/metrics/nrr", json={"key": "nrr", "sources": ["nobody"]})
    assert unknown.status_code == 422
    assert problem_fields(unknown) == ["sources[0]"]
    assert http.put("/v1/oracles/sources/acme-bi", json=body).status_code == 201
    other_metric = http.put(
        "/v1/oracles/metrics/csat", json={"key": "csat", "sources": ["acme-bi"]}
    )
    assert other_metric.status_code == 422
    assert "may not report" in other_metric.json()["errors"][0]["reason"]
    two = {"key": "nrr", "rule": "single", "sources": ["acme-bi", "x"]}
    assert http.put("/v1/oracles/metrics/nrr", json=two).status_code == 422


def test_only_admin_keys_define_and_ingest_keys_submit(
    oracle: httpx.Client, server: str, engine: Engine, tenant: Tenant, bi_key: Ed25519PrivateKey
) -> None:
    with write(engine) as connection:
        ingest = create_api_key(connection, tenant.id, frozenset({Scope.INGEST})).token
    with httpx.Client(
        base_url=server, headers={"Authorization": f"Bearer {ingest}"}
    ) as source_side:
        body = source("other", bi_key, ["nrr"])
        assert source_side.put("/v1/oracles/sources/other", json=body).status_code == 403
        assert source_side.get("/v1/oracles/sources").status_code == 403
        assert post(source_side, signed(bi_key, "acme-bi", "101")).status_code == 200


def test_a_signed_reading_is_a_ledger_leaf_the_customer_can_re_verify(
    oracle: httpx.Client,
    bi_key: Ed25519PrivateKey,
    signing_key: StoredKey,
    engine: Engine,
    tenant: Tenant,
) -> None:
    item = signed(bi_key, "acme-bi", "108.50")
    answer = post(oracle, item)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["accepted"], body["duplicate"], body["conflict"], body["rejected"]) == (1, 0, 0, 0)
    (result,) = body["results"]
    assert (result["index"], result["status"], result["errors"]) == (0, "accepted", [])
    leaf_index = result["leaf_index"]

    entry = oracle.get(f"/v1/ledger/entries/{leaf_index}").json()["record"]
    assert (entry["type"], entry["v"]) == ("oracle_reading", 1)
    record = entry["record"]
    assert {k: v for k, v in record.items() if k != "signature"} == item["reading"]
    # The record alone, with the source's registered key, proves who said what.
    (registered,) = oracle.get("/v1/oracles/sources").json()["sources"]
    again = Reading(
        record["source"],
        record["metric"],
        Decimal(record["value"]),
        parse_rfc3339(record["as_of"]),
        record["nonce"],
    )
    assert again.payload()["value"] == "108.50"  # trailing zeros are signed and kept
    key = parse_public_key(registered["public_key"])
    verify_signature(key, again, base64.b64decode(record["signature"]))

    with read(engine) as connection:  # the batch signed a checkpoint that covers the leaf
        checkpoint = latest_checkpoint(connection, tenant.id)
        assert checkpoint is not None
        assert checkpoint.checkpoint.size == log_size(connection, tenant.id) == leaf_index + 1

    listed = oracle.get("/v1/oracles/readings", params={"metric": "nrr"}).json()
    assert listed["readings"] == [
        {**item["reading"], "leaf_index": leaf_index},
    ]


def test_a_replay_is_a_duplicate_and_a_reused_nonce_a_conflict(
    oracle: httpx.Client, bi_key: Ed25519PrivateKey, engine: Engine, tenant: Tenant
) -> None:
    item = signed(bi_key, "acme-bi", "101", nonce="nonce-0001")
    first = post(oracle, item).json()["results"][0]
    replay = post(oracle, item)
    assert replay.status_code == 200
    (again,) = replay.json()["results"]
    assert (again["status"], again["leaf_index"]) == ("duplicate", first["leaf_index"])

    other = signed(bi_key, "acme-bi", "150", nonce="nonce-0001")
    clash = post(oracle, other)
    assert clash.status_code == 422
    body = clash.json()
    assert (body["accepted"], body["conflict"]) == (0, 1)
    assert body["results"][0]["errors"][0]["field"] == "reading.nonce"
    assert stored(engine, tenant) == 1


def test_each_refused_reading_names_its_field_and_never_blocks_the_others(
    oracle: httpx.Client, bi_key: Ed25519PrivateKey, engine: Engine, tenant: Tenant
) -> None:
    stranger = Ed25519PrivateKey.generate()
    good = signed(bi_key, "acme-bi", "103")
    unsigned = {"reading": signed(bi_key, "acme-bi", "104")["reading"]}
    forged = signed(stranger, "acme-bi", "105")
    tampered = signed(bi_key, "acme-bi", "106")
    tampered["reading"]["value"] = "160"
    stale = signed(bi_key, "acme-bi", "107", as_of=NOW - timedelta(days=2))
    future = signed(bi_key, "acme-bi", "108", as_of=NOW + timedelta(hours=1))
    unknown = signed(bi_key, "nobody", "109")
    not_allowed = signed(bi_key, "acme-bi", "4.5", metric="csat")
    as_number = signed(bi_key, "acme-bi", "110")
    as_number["reading"]["value"] = 110
    items = [good, unsigned, forged, tampered, stale, future, unknown, not_allowed, as_number]
    answer = post(oracle, *items, good)
    assert answer.status_code == 207, answer.text
    body = answer.json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (1, 1, 9 - 1)

    outcomes = [(r["status"], [e["field"] for e in r["errors"]]) for r in body["results"]]
    assert outcomes == [
        ("accepted", []),
        ("rejected", ["signature"]),
        ("rejected", ["signature"]),
        ("rejected", ["signature"]),
        ("rejected", ["reading.as_of"]),
        ("rejected", ["reading.as_of"]),
        ("rejected", ["reading.source"]),
        ("rejected", ["reading.metric"]),
        ("rejected", ["reading.value"]),
        ("duplicate", []),
    ]
    reasons = [r["errors"][0]["reason"] for r in body["results"][1:9]]
    assert reasons[0] == "is missing"
    assert "does not verify" in reasons[1] and "does not verify" in reasons[2]
    assert "stale" in reasons[3] and "future" in reasons[4]
    assert "no source 'nobody'" in reasons[5]
    assert "may not report 'csat'" in reasons[6]
    assert "not a JSON number" in reasons[7]
    assert all(r["leaf_index"] is None for r in body["results"][1:9])
    assert stored(engine, tenant) == 1


def test_a_malformed_or_oversized_batch_is_refused_whole(
    oracle: httpx.Client, serve: Any, engine: Engine, admin_key: str, bi_key: Ed25519PrivateKey
) -> None:
    assert problem_fields(oracle.post("/v1/oracles/readings", content=b"{")) == ["(body)"]
    assert problem_fields(oracle.post("/v1/oracles/readings", json=[])) == ["readings"]

    small = Settings(database_url=str(engine.url), max_batch_events=2)
    with serve(create_app(engine, small)) as url:
        items = [signed(bi_key, "acme-bi", str(n)) for n in range(3)]
        answer = httpx.post(
            f"{url}/v1/oracles/readings",
            json={"readings": items},
            headers={"Authorization": f"Bearer {admin_key}"},
        )
    assert answer.status_code == 413
    assert problem_fields(answer) == ["readings"]


@pytest.fixture
def three_sources(http: httpx.Client) -> list[tuple[str, Ed25519PrivateKey]]:
    """Sources a, b and c report `nrr`, a median of at least 2 within 5 points."""
    keys = [(name, Ed25519PrivateKey.generate()) for name in ("a", "b", "c")]
    for name, private in keys:
        assert http.put(
            f"/v1/oracles/sources/{name}", json=source(name, private, ["nrr"])
        ).is_success
    rule = {
        "key": "nrr",
        "rule": "median",
        "sources": ["a", "b", "c"],
        "min_sources": 2,
        "tolerance": "5",
    }
    assert http.put("/v1/oracles/metrics/nrr", json=rule).status_code == 201
    return keys


def test_the_median_of_three_sources_and_a_flag_when_they_disagree(
    http: httpx.Client, three_sources: list[tuple[str, Ed25519PrivateKey]]
) -> None:
    (a, a_key), (b, b_key), (c, c_key) = three_sources
    earlier = NOW - timedelta(hours=2)
    for name, private, value in ((a, a_key, "101"), (b, b_key, "104"), (c, c_key, "102")):
        assert post(http, signed(private, name, value, as_of=earlier)).status_code == 200
    at = format_rfc3339(earlier + timedelta(minutes=30))
    agreed = http.get("/v1/oracles/metrics/nrr/value", params={"at": at})
    assert agreed.status_code == 200, agreed.text
    answer = agreed.json()
    assert (answer["metric"], answer["value"], answer["as_of"]) == (
        "nrr",
        "102",
        format_rfc3339(earlier),
    )
    assert sorted(u["source"] for u in answer["used"]) == ["a", "b", "c"]
    assert all(isinstance(u["leaf_index"], int) for u in answer["used"])

    before = http.get(
        "/v1/oracles/metrics/nrr/value",
        params={"at": format_rfc3339(earlier - timedelta(minutes=1))},
    )
    assert "value" not in before.json()
    assert "0 of the 2 sources" in before.json()["flag"]

    assert post(http, signed(c_key, c, "130")).status_code == 200
    disputed = http.get("/v1/oracles/metrics/nrr/value").json()
    assert "value" not in disputed
    assert disputed["flag"].startswith("readings disagree")
    assert sorted(u["value"] for u in disputed["used"]) == ["101", "104", "130"]


def test_value_of_an_unknown_metric_is_not_found(http: httpx.Client) -> None:
    assert http.get("/v1/oracles/metrics/nrr/value").status_code == 404
    bad = http.get("/v1/oracles/metrics/nrr/value", params={"at": "yesterday"})
    assert problem_fields(bad) == ["at"]


def test_readings_are_listed_by_metric_within_from_and_to(
    oracle: httpx.Client, bi_key: Ed25519PrivateKey
) -> None:
    times = [NOW - timedelta(hours=h) for h in (3, 2, 1)]
    for n, moment in enumerate(times):
        assert (
            post(oracle, signed(bi_key, "acme-bi", str(100 + n), as_of=moment)).status_code == 200
        )
    params = {"metric": "nrr", "from": format_rfc3339(times[1]), "to": format_rfc3339(times[2])}
    found = oracle.get("/v1/oracles/readings", params=params).json()["readings"]
    assert [(r["value"], r["as_of"]) for r in found] == [("101", format_rfc3339(times[1]))]
    everything = oracle.get("/v1/oracles/readings", params={"metric": "nrr"}).json()["readings"]
    assert [r["value"] for r in everything] == ["100", "101", "102"]
    assert oracle.get("/v1/oracles/readings", params={"metric": "csat"}).json()["readings"] == []

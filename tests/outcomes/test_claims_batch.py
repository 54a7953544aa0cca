"""A mixed batch of claims end to end, both backends, held byte for byte to a recorded vector:
results, verdict leaves and rows, so faster ingestion cannot change what goes on record.

`vectors/claims_batch_v1.json` was recorded with the per-claim ingestion (before batching) by
running this module as a script: `python tests/outcomes/test_claims_batch.py`. Salts and the
known-set secret come from a fixed byte stream instead of `secrets.token_bytes`. Its results
were then reworded once, by hand, for the one batch vocabulary: a claim its verdict refused is
`rejected` with its reasons as `errors` (`claim_records.batch_status`); leaves and rows are as
recorded.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select

from valueproof.ledger import log as ledger_log
from valueproof.outcomes import knownset_store
from valueproof.outcomes.claim_intake import submit_claims
from valueproof.outcomes.claim_records import claim_result_json
from valueproof.outcomes.definition_store import apply_definition
from valueproof.outcomes.definitions import parse_definition
from valueproof.outcomes.knownset import known_hashes
from valueproof.outcomes.tables import outcome_claims
from valueproof.periods import format_rfc3339
from valueproof.store import tenant_lock, write
from valueproof.tenancy.accounts import AccountCreate, create_account
from valueproof.tenancy.tenants import create_tenant

VECTOR = Path(__file__).parent / "vectors" / "claims_batch_v1.json"
PASSPHRASE = "correct horse battery staple"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
LEADS: dict[str, Any] = {
    "contract": "acme-leads",
    "outcome": "qualified_lead",
    "attributes": {
        "email": {"type": "string", "required": True, "personal": True},
        "industry": {"type": "string", "required": True},
        "employees": {"type": "integer", "required": True},
        "score": {"type": "number"},
        "region": {"type": "string"},
        "born": {"type": "timestamp", "personal": True},
        "consent": {"type": "boolean"},
    },
    "criteria": [
        {"name": "industry", "expression": 'claim.industry in ["saas", "fintech", "santé"]'},
        {"name": "size", "expression": "claim.employees >= 50 && claim.employees <= 5000"},
        {"name": "score", "expression": "claim.score >= 0.6"},
        {"name": "region", "expression": 'has(claim.region) ? claim.region != "APAC" : true'},
        {"name": "consented", "expression": "lower(claim.industry) != 'x' && claim.consent"},
    ],
    "dedupe_key": "email_domain(claim.email)",
    "known_key": "normalize(claim.email)",
    "verification_window_days": 30,
    "dispute_window_days": 14,
}
MEETINGS: dict[str, Any] = {
    "contract": "acme-leads",
    "outcome": "meeting",
    "attributes": {"lead": {"type": "string", "required": True}, "minutes": {"type": "number"}},
    "dedupe_key": "claim.lead",
    "verification_window_days": 7,
    "dispute_window_days": 0,
}


class _Stream:
    """A fixed byte stream in place of `secrets.token_bytes`: the same bytes in the same order
    however the callers cut them."""

    def __init__(self) -> None:
        self.counter = 0
        self.buffer = b""

    def __call__(self, size: int | None = None) -> bytes:
        size = 32 if size is None else size
        while len(self.buffer) < size:
            self.buffer += hashlib.sha256(b"stream %d" % self.counter).digest()
            self.counter += 1
        taken, self.buffer = self.buffer[:size], self.buffer[size:]
        return taken


def _lead(n: int, account: str = "acme", days: float = 2, **attributes: Any) -> dict[str, Any]:
    values = {
        "email": f"lead{n}@co{n}.example",
        "industry": "saas",
        "employees": 120,
        "score": 0.75,
        "consent": True,
        **attributes,
    }
    return {
        "id": f"c{n}",
        "account": account,
        "contract": "acme-leads",
        "outcome": "qualified_lead",
        "occurred_at": format_rfc3339(NOW - timedelta(days=days)),
        "attributes": {k: v for k, v in values.items() if v is not None},
    }


def _meeting(n: int, lead: str, minutes: Any = 30.5) -> dict[str, Any]:
    return {
        "id": f"m{n}",
        "account": "globex",
        "contract": "acme-leads",
        "outcome": "meeting",
        "occurred_at": format_rfc3339(NOW - timedelta(hours=3)),
        "attributes": {"lead": lead, "minutes": minutes},
    }


def _earlier_batch() -> list[Any]:
    return [_lead(1), _lead(2, account="globex"), _lead(3, industry="retail"), _meeting(1, "x")]


def _mixed_batch() -> list[Any]:
    same_domain = _lead(20, email="other@CO1.example")  # the dedupe key of c1, on record
    return [
        _lead(10),  # accepted
        _lead(11, industry="retail", employees=12, score=0.1),  # three criteria fail
        _lead(10),  # the same claim again in this batch: a duplicate
        _lead(10, employees=99),  # the same id, other content: a conflict
        _lead(1),  # on record: a duplicate with its original verdict
        _lead(3, score=0.9),  # on record with other content: a conflict
        same_domain,  # a duplicate of an earlier claim (c1) by its dedupe key
        _lead(21, email="x@co10.example"),  # a duplicate of c10, accepted in this batch
        _lead(22, email="y@co11.example"),  # c11 was not accepted: this one is
        _lead(23, days=45),  # outside the verification window
        _lead(24, days=-1),  # in the future of its submission
        _lead(25, account="globex", email=" Known@Example.COM "),  # already known
        _lead(26, account="globex", email="new@fresh.example"),  # known set checked, new
        _lead(27, born="1984-02-29 secret"),  # a personal value a parser would echo
        _lead(28, born="1990-01-01T00:00:00Z", region="APAC", score=1),  # region fails
        _lead(29, employees="many", score=True, consent=None),  # wrong types, consent not set
        _lead(30, email=None),  # a required attribute missing: no dedupe key
        _lead(31, nickname={"nested": ["ok", 1.5]}, ünïcode="é"),  # undeclared attributes
        _lead(32, industry="santé", score=1e-7, region="EMEA"),  # non-ASCII, a small float
        _lead(33, employees=2**53 + 1),  # a large integer
        _lead(34, account="nobody"),  # unknown account: rejected
        {**_lead(35), "outcome": "unheard_of"},  # no definition: rejected
        {**_lead(36), "extra": 1},  # not a field of a claim: rejected
        {"id": "c37"},  # missing fields: rejected
        "not a claim",  # rejected
        {**_lead(38), "occurred_at": "yesterday"},  # rejected
        _meeting(2, "lead-a"),  # accepted
        _meeting(3, "lead-a", minutes=-0.0),  # duplicate key of m2
        _meeting(4, "x", minutes=1e21),  # duplicate of m1 on record
        _meeting(5, "lead-b", minutes="long"),  # invalid attribute
        _lead(39, consent=False),  # a criterion is false
        _lead(40, consent=None),  # a criterion cannot be evaluated: consent is not set
    ]


def scenario(connection_of: Any) -> dict[str, Any]:
    """Run both batches; the results, every leaf and every claim row, as JSON."""
    with connection_of() as connection:
        tenant_id = create_tenant(connection, f"golden-{time.time_ns() % 10**9}").id
        tenant_lock(connection, tenant_id)
        ids = {
            name: create_account(
                connection, tenant_id, AccountCreate(external_id=name, name=name)
            ).id
            for name in ("acme", "globex")
        }
        apply_definition(connection, tenant_id, parse_definition(LEADS), 1)
        apply_definition(connection, tenant_id, parse_definition(MEETINGS), 2)
        secret = secrets.token_bytes(32)
        knownset_store.set_secret(connection, tenant_id, ids["globex"], secret, PASSPHRASE, 3)
        had = known_hashes(secret, ["known@example.com", "someone@else.example"])
        knownset_store.add_hashes(connection, tenant_id, ids["globex"], had, 3)
    results = []
    for items, now in ((_earlier_batch(), NOW - timedelta(hours=1)), (_mixed_batch(), NOW)):
        with connection_of() as connection:
            tenant_lock(connection, tenant_id)
            batch = submit_claims(connection, tenant_id, items, now, PASSPHRASE)
            results.append([claim_result_json(result) for result in batch])
    with connection_of() as connection:
        return _recorded(connection, tenant_id, {v: k for k, v in ids.items()}, results)


def _recorded(
    connection: Connection, tenant_id: int, names: dict[int, str], results: list[Any]
) -> dict[str, Any]:
    size = ledger_log.log_size(connection, tenant_id)
    leaves = [ledger_log.entry(connection, tenant_id, i).decode() for i in range(size)]
    t = outcome_claims.c
    rows = []
    for row in connection.execute(
        select(outcome_claims).where(t.tenant_id == tenant_id).order_by(t.leaf_index)
    ):
        values = dict(row._mapping)
        del values["id"], values["tenant_id"]
        values["account_id"] = names[values["account_id"]]
        values["content_sha256"] = bytes(values["content_sha256"]).hex()
        values["accepted"] = bool(values["accepted"])
        rows.append(values)
    return {"results": results, "leaves": leaves, "rows": rows}


@pytest.fixture
def byte_stream(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(secrets, "token_bytes", _Stream())
    yield


@pytest.mark.usefixtures("byte_stream")
def test_a_mixed_batch_gives_the_recorded_results_leaves_and_rows(engine: Engine) -> None:
    recorded = json.loads(VECTOR.read_text())
    got = scenario(lambda: write(engine))
    assert got["results"] == recorded["results"]
    assert got["leaves"] == recorded["leaves"]
    assert got["rows"] == recorded["rows"]


def _record(path: Path) -> None:
    """Write the vector from a fresh SQLite database at `path` (never the test database)."""
    from valueproof.store import connect_engine, upgrade

    secrets.token_bytes = _Stream()  # type: ignore[assignment]
    engine = connect_engine(f"sqlite:///{path}")
    upgrade(engine)
    recorded = scenario(lambda: write(engine))
    engine.dispose()
    VECTOR.write_text(json.dumps(recorded, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    _record(Path(sys.argv[1]))


def test_lookups_of_more_keys_than_one_query_takes_find_every_earlier_claim(
    engine: Engine,
) -> None:
    with write(engine) as connection:
        tenant_id = create_tenant(connection, f"many-{time.time_ns() % 10**9}").id
        tenant_lock(connection, tenant_id)
        create_account(connection, tenant_id, AccountCreate(external_id="globex", name="g"))
        apply_definition(connection, tenant_id, parse_definition(MEETINGS), 1)
    earlier = [_meeting(n, f"lead-{n}") for n in range(700)]
    # 700 keys on record, then 600 new ones twice each: 1,900 claims over 1,300 keys.
    later = [_meeting(1_000 + n, f"lead-{n}") for n in range(700)]
    later += [_meeting(2_000 + n, f"lead-{700 + n % 600}") for n in range(1_200)]
    for items in (earlier, later):
        with write(engine) as connection:
            tenant_lock(connection, tenant_id)
            results = submit_claims(connection, tenant_id, items, NOW)
    assert [r.accepted for r in results] == [False] * 700 + [True] * 600 + [False] * 600
    firsts = [r.reasons[0].detail.split()[1] for r in results if not r.accepted]
    assert firsts == [f"m{n}" for n in range(700)] + [f"m{2_000 + n}" for n in range(600)]

"""Stored contracts on both backends: versions as ledger leaves, amendments, refusals, audit."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import update

from valueproof.contracts.errors import ContractInvalid
from valueproof.contracts.records import CONTRACT_VERSION, document_json
from valueproof.contracts.registry import (
    account_versions,
    contract_problems,
    in_force,
    list_contracts,
    tenant_versions,
    versions,
)
from valueproof.contracts.tables import contract_versions
from valueproof.contracts.validation import parse_contract
from valueproof.contracts.versions_source import ContractVersionSource
from valueproof.errors import Conflict, InvalidInput, NotFound
from valueproof.ledger import log as ledger_log
from valueproof.ledger.audit import audit
from valueproof.ledger.leaves import parse_leaf
from valueproof.metering.events_source import UsageEventSource
from valueproof.metering.registry import load_catalog
from valueproof.store import read, write

from .conftest import Priced, call, contract_document

SOURCES = (UsageEventSource(), ContractVersionSource())


def test_a_version_is_a_ledger_leaf_that_commits_to_the_whole_document(priced: Priced) -> None:
    priced.ingest([call(1), call(2)])
    applied = priced.apply(contract_document())
    assert applied.status == "created"
    assert applied.version.version == 1
    assert applied.version.leaf_index == 2  # after the two events
    with read(priced.engine) as connection:
        leaf = ledger_log.entry(connection, priced.tenant.id, 2)
    parsed = parse_leaf(leaf)
    assert parsed.record_type == CONTRACT_VERSION
    assert parsed.record["document"] == document_json(applied.version.document)
    assert parsed.record["effective_from"] == "2026-01-01T00:00:00Z"


def test_reapplying_the_same_document_is_a_no_op(priced: Priced) -> None:
    first = priced.apply(contract_document())
    again = priced.apply(contract_document())
    assert again.status == "unchanged"
    assert again.version.leaf_index == first.version.leaf_index
    with read(priced.engine) as connection:
        assert ledger_log.log_size(connection, priced.tenant.id) == 1


def test_an_amendment_is_a_new_version_in_force_from_its_date(priced: Priced) -> None:
    priced.apply(contract_document())
    amended = contract_document(effective_from="2026-07-01")
    amended["components"][1]["unit_price"] = "0.001"
    applied = priced.apply(amended)
    assert applied.status == "amended"
    with read(priced.engine) as connection:
        history = versions(connection, priced.tenant.id, "acme-2026")
        account_id = history[0].account_id
        assert [v.version for v in history] == [1, 2]
        by_account = account_versions(connection, priced.tenant.id, account_id)
        assert tenant_versions(connection, priced.tenant.id)[account_id] == by_account
        [latest] = list_contracts(connection, priced.tenant.id, account="acme")
    assert latest.version == 2
    assert in_force(history, datetime(2026, 6, 30, tzinfo=UTC)).version == 1  # type: ignore[union-attr]
    assert in_force(history, datetime(2026, 7, 1, tzinfo=UTC)).version == 2  # type: ignore[union-attr]
    assert in_force(history, datetime(2027, 1, 1, tzinfo=UTC)) is None  # the term is over


def test_a_restatement_from_the_term_start_supersedes_every_earlier_version(
    priced: Priced,
) -> None:
    priced.apply(contract_document())
    priced.apply(contract_document(effective_from="2026-07-01", description="v2"))
    priced.apply(contract_document(description="v3 restates from the start"))
    with read(priced.engine) as connection:
        history = versions(connection, priced.tenant.id, "acme-2026")
    assert in_force(history, datetime(2026, 9, 1, tzinfo=UTC)).version == 3  # type: ignore[union-attr]


def test_amendments_take_force_at_a_period_start_and_keep_the_currency(priced: Priced) -> None:
    priced.apply(contract_document())
    with pytest.raises(ContractInvalid) as caught:
        priced.apply(contract_document(effective_from="2026-07-15"))
    assert caught.value.field == "effective_from"
    assert "next: 2026-08-01T00:00:00Z" in caught.value.reason
    with pytest.raises(ContractInvalid) as caught:
        priced.apply(contract_document(currency="EUR"))
    assert caught.value.field == "currency"
    assert "currency mismatch" in caught.value.reason


def test_refusals_store_nothing(priced: Priced) -> None:
    unknown_meter = contract_document()
    unknown_meter["components"][1]["meter"] = "nope"
    grouped = contract_document()
    grouped["components"][1]["filter"] = "group.plan == 'pro'"
    cases = [
        (unknown_meter, "components[1].meter", "unknown meter 'nope'"),
        (grouped, "components[1].filter", "does not group by (group_by: region)"),
        (contract_document(account="nobody"), "account", "unknown account"),
    ]
    for document, field, reason in cases:
        with pytest.raises(InvalidInput) as caught:
            priced.apply(document)
        assert caught.value.field == field
        assert reason in caught.value.reason
    percentage = contract_document()
    percentage["components"][1] = {"id": "p", "type": "percentage", "meter": "calls", "percent": 1}
    with pytest.raises(ContractInvalid, match="a percentage needs a sum meter"):
        priced.apply(percentage)
    with read(priced.engine) as connection:
        assert list_contracts(connection, priced.tenant.id) == []
        assert ledger_log.log_size(connection, priced.tenant.id) == 0
        with pytest.raises(NotFound):
            versions(connection, priced.tenant.id, "acme-2026")


def test_one_contract_at_a_time_per_account_and_a_key_keeps_its_account(priced: Priced) -> None:
    priced.apply(contract_document())
    with pytest.raises(ContractInvalid, match="overlaps contract 'acme-2026'"):
        priced.apply(contract_document(key="acme-other", term={"start": "2026-06-01"}))
    renewal = contract_document(key="acme-2027", term={"start": "2027-01-01"})
    assert priced.apply(renewal).status == "created"
    with pytest.raises(Conflict):
        priced.apply(contract_document(account="globex"))


def test_the_audit_rebuilds_contract_leaves_and_catches_an_edited_version(
    priced: Priced,
) -> None:
    priced.ingest([call(1)])
    priced.apply(contract_document())
    with read(priced.engine) as connection:
        assert audit(connection, priced.tenant.id, SOURCES, ()).ok
    with write(priced.engine) as connection:
        stored = connection.execute(
            contract_versions.select().where(contract_versions.c.tenant_id == priced.tenant.id)
        ).one()
        document = orjson.loads(stored.document)
        document["components"][1]["unit_price"] = "0.02"  # ten times the agreed price
        connection.execute(
            update(contract_versions)
            .where(contract_versions.c.tenant_id == priced.tenant.id)
            .values(document=orjson.dumps(document).decode())
        )
    with read(priced.engine) as connection:
        report = audit(connection, priced.tenant.id, SOURCES, ())
    assert [(f.kind, f.record) for f in report.findings] == [("edited", "acme-2026@1")]


def test_contract_problems_names_every_refusal_of_apply_without_storing(priced: Priced) -> None:
    priced.apply(contract_document())
    priced.apply(contract_document(key="globex-2026", account="globex"))
    amendment = contract_document(currency="EUR", effective_from="2026-07-15")
    amendment["components"][1]["meter"] = "nope"
    stranger = contract_document(key="other", account="nobody")
    overlapping = contract_document(key="acme-other", term={"start": "2026-06-01"})
    taken = contract_document(key="globex-2026", account="acme")
    with read(priced.engine) as connection:
        catalog = load_catalog(connection, priced.tenant.id)

        def problems(document: dict[str, object]) -> dict[str, str]:
            found = contract_problems(
                connection, priced.tenant.id, parse_contract(document), catalog
            )
            return dict(found)

        assert set(problems(amendment)) == {"currency", "effective_from", "components[1].meter"}
        assert "unknown account 'nobody'" in problems(stranger)["account"]
        assert "overlaps contract 'acme-2026'" in problems(overlapping)["term"]
        assert "belongs to another account" in problems(taken)["account"]
        assert problems(contract_document()) == {}
        assert ledger_log.log_size(connection, priced.tenant.id) == 2

"""A meter a running contract prices cannot be deleted (its accounts could no longer be rated,
nor their periods closed); once the contract is amended away from it, or has ended, it can."""

from __future__ import annotations

import httpx
import pytest
from tests.contracts.conftest import Priced, contract_document

from valueproof.contracts.errors import MeterInUse
from valueproof.contracts.writes import delete_meter
from valueproof.metering.registry import load_catalog
from valueproof.store import read


def _meters(priced: Priced) -> set[str]:
    with read(priced.engine) as connection:
        return set(load_catalog(connection, priced.tenant.id).meters_by_key)


def test_a_meter_a_running_contract_prices_is_kept_and_the_contract_named(priced: Priced) -> None:
    priced.apply(contract_document(term={"start": "2026-01-01", "end": None}))
    with pytest.raises(MeterInUse, match=r"'calls' is priced by acme-2026 \(account acme\)"):
        delete_meter(priced.engine, priced.tenant.id, "calls")
    assert "calls" in _meters(priced)
    delete_meter(priced.engine, priced.tenant.id, "payments")  # no contract prices it
    assert "payments" not in _meters(priced)


def test_an_ended_or_amended_contract_no_longer_holds_its_meter(priced: Priced) -> None:
    priced.apply(contract_document(term={"start": "2025-01-01", "end": "2026-01-01"}))
    delete_meter(priced.engine, priced.tenant.id, "calls")  # its term is over
    assert "calls" not in _meters(priced)


def test_the_api_answers_409_naming_the_contract(priced: Priced, http: httpx.Client) -> None:
    priced.apply(contract_document(term={"start": "2026-01-01", "end": None}))
    answer = http.delete("/v1/meters/calls")
    assert answer.status_code == 409 and "acme-2026" in answer.json()["detail"]


def test_an_amendment_that_drops_the_meter_frees_it(priced: Priced) -> None:
    priced.apply(contract_document(term={"start": "2026-01-01", "end": None}))
    flat_only = [{"id": "platform", "type": "flat", "amount": "100.00"}]
    priced.apply(contract_document(term={"start": "2026-01-01", "end": None}, components=flat_only))
    delete_meter(priced.engine, priced.tenant.id, "calls")
    assert "calls" not in _meters(priced)

"""A contract naming an outcome or oracle metric nobody defined is refused, or, declared pending,
applied with warnings that every rating repeats until the name is defined; on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import example, given
from hypothesis import strategies as st

from valueproof.contracts.errors import ContractInvalid
from valueproof.contracts.rating import charges_json
from valueproof.contracts.references import (
    Registered,
    did_you_mean,
    reference_problems,
    undefined_warnings,
)
from valueproof.contracts.registry import contract_problems, contract_warnings
from valueproof.contracts.service import preview, rate_accounts, rate_period
from valueproof.contracts.validation import parse_contract
from valueproof.ledger import log as ledger_log
from valueproof.metering.registry import load_catalog
from valueproof.outcomes.definition_store import apply_definition
from valueproof.outcomes.definitions import parse_definition
from valueproof.outcomes.oracles import (
    MetricDefinition,
    SourceDefinition,
    apply_metric,
    apply_source,
    metrics,
)
from valueproof.outcomes.readings import public_key_text
from valueproof.store import read, tenant_lock, write

from .conftest import Priced, contract_document

NOW = datetime(2026, 11, 15, tzinfo=UTC)
LEADS = {"id": "leads", "type": "per_outcome", "outcome": "qualified_lead", "unit_price": "40.00"}
RETENTION = {
    "id": "retention",
    "type": "gain_share",
    "metric": "net_retention",
    "baseline": {"value": 100},
    "value_per_unit": "1000.00",
    "tiers": [{"threshold": 5, "percent": 10}],
}


def definition(contract: str = "acme-2026", outcome: str = "qualified_lead") -> dict[str, Any]:
    return {
        "contract": contract,
        "outcome": outcome,
        "attributes": {"email": {"type": "string", "required": True}},
        "dedupe_key": "claim.email",
        "verification_window_days": 30,
        "dispute_window_days": 30,
    }


def define(priced: Priced, document: dict[str, Any]) -> None:
    with write(priced.engine) as connection:
        tenant_lock(connection, priced.tenant.id)
        apply_definition(connection, priced.tenant.id, parse_definition(document), 1)


def register_metric(priced: Priced, key: str) -> None:
    """A source `bi` that may report `key`, and the metric's rule: read from `bi` alone."""
    public_key = public_key_text(Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key())
    with write(priced.engine) as connection:
        tenant_lock(connection, priced.tenant.id)
        reported = [*metrics(connection, priced.tenant.id), key]
        source = SourceDefinition(key="bi", public_key=public_key, metrics=reported)
        apply_source(connection, priced.tenant.id, source, 1)
        rule = MetricDefinition(key=key, sources=["bi"])
        apply_metric(connection, priced.tenant.id, rule, 1)


def with_components(*extra: dict[str, Any], **fields: Any) -> dict[str, Any]:
    document = contract_document(**fields)
    document["components"] = [*document["components"], *extra]
    return document


def problems_of(priced: Priced, document: dict[str, Any]) -> list[tuple[str, str]]:
    with read(priced.engine) as connection:
        catalog = load_catalog(connection, priced.tenant.id)
        return contract_problems(connection, priced.tenant.id, parse_contract(document), catalog)


def test_a_misspelt_outcome_is_refused_with_its_path_and_the_defined_name(priced: Priced) -> None:
    define(priced, definition())
    typo = with_components({**LEADS, "outcome": "qualified_laed"})
    expected = (
        "components[2].outcome",
        "no outcome 'qualified_laed' is defined for contract 'acme-2026' (did you mean "
        "'qualified_lead'?); define it first, or list it under pending.outcomes if it comes later",
    )
    assert problems_of(priced, typo) == [expected]
    with read(priced.engine) as connection:
        before = ledger_log.log_size(connection, priced.tenant.id)
    with pytest.raises(ContractInvalid) as refused:
        priced.apply(typo)
    assert refused.value.problems == (expected,)
    with read(priced.engine) as connection:  # nothing half-applied
        assert ledger_log.log_size(connection, priced.tenant.id) == before
    assert priced.apply(with_components(LEADS)).status == "created"


def test_an_outcome_defined_for_another_contract_says_which(priced: Priced) -> None:
    define(priced, definition(contract="acme-2025"))
    [(field, reason)] = problems_of(priced, with_components(LEADS))
    assert field == "components[2].outcome"
    assert "(it is defined for contract 'acme-2025')" in reason


def test_an_unregistered_metric_is_refused_with_the_closest_registered_one(
    priced: Priced,
) -> None:
    register_metric(priced, "net_retention_rate")
    [(field, reason)] = problems_of(priced, with_components(RETENTION))
    assert field == "components[2].metric"
    assert reason.startswith(
        "no oracle metric 'net_retention' is registered (did you mean 'net_retention_rate'?)"
    )
    register_metric(priced, "net_retention")
    assert problems_of(priced, with_components(RETENTION)) == []


def test_a_misspelt_meter_suggests_the_meter(priced: Priced) -> None:
    document = contract_document()
    document["components"][1]["meter"] = "cals"
    assert problems_of(priced, document) == [
        ("components[1].meter", "unknown meter 'cals' (did you mean 'calls'?)")
    ]


def test_pending_names_apply_with_warnings_and_every_rating_warns_until_defined(
    priced: Priced,
) -> None:
    pending = {"outcomes": ["qualified_lead"], "metrics": ["net_retention"]}
    document = with_components(LEADS, RETENTION, pending=pending)
    assert problems_of(priced, document) == []
    with read(priced.engine) as connection:
        warned = contract_warnings(connection, priced.tenant.id, parse_contract(document))
    assert [field for field, _ in warned] == ["pending.outcomes[0]", "pending.metrics[0]"]
    applied = priced.apply(document)
    assert applied.status == "created"
    assert applied.warnings == tuple(warned)

    with read(priced.engine) as connection:
        charges = rate_period(connection, priced.tenant.id, "acme", NOW, NOW)
        [run] = list(rate_accounts(connection, priced.tenant.id, NOW, NOW))
        projected = preview(connection, priced.tenant.id, "acme", NOW).projected
    fields = ["components[2].outcome", "components[3].metric"]
    for rated in (charges, run, projected):
        assert [field for field, _ in rated.warnings] == fields
    outcome_reason = charges.warnings[0][1]
    assert "no outcome 'qualified_lead' is defined for contract 'acme-2026'" in outcome_reason
    assert outcome_reason.endswith("this component bills 0 until it is")
    shown = charges_json(charges)["warnings"]
    assert shown[1] == {"field": "components[3].metric", "reason": charges.warnings[1][1]}

    define(priced, definition())
    register_metric(priced, "net_retention")
    with read(priced.engine) as connection:
        assert rate_period(connection, priced.tenant.id, "acme", NOW, NOW).warnings == ()
        assert contract_warnings(connection, priced.tenant.id, parse_contract(document)) == []


def test_a_pending_name_no_component_refers_to_is_refused(priced: Priced) -> None:
    document = with_components(LEADS, pending={"outcomes": ["qualified_lead", "qualified_leed"]})
    assert problems_of(priced, document) == [
        ("pending.outcomes[1]", "no per-outcome component names 'qualified_leed'")
    ]


# --- the pure core ------------------------------------------------------------------------------

NAMES = st.from_regex(r"[a-z][a-z_]{2,12}", fullmatch=True)


def _document(outcome: str, metric: str, pending: dict[str, list[str]]) -> Any:
    leads = {**LEADS, "outcome": outcome}
    retention = {**RETENTION, "metric": metric}
    return parse_contract(with_components(leads, retention, pending=pending))


@given(outcome=NAMES, metric=NAMES, defined=st.frozensets(NAMES, max_size=5))
def test_every_undefined_name_is_refused_or_pending_never_silent(
    outcome: str, metric: str, defined: frozenset[str]
) -> None:
    registered = Registered(outcomes={"acme-2026": defined}, metrics=defined)
    plain = _document(outcome, metric, {})
    refused = {field for field, _ in reference_problems(plain, registered)}
    undefined = {
        field
        for field, name in (("components[2].outcome", outcome), ("components[3].metric", metric))
        if name not in defined
    }
    assert refused == undefined
    later = _document(outcome, metric, {"outcomes": [outcome], "metrics": [metric]})
    assert reference_problems(later, registered) == []
    assert {field for field, _ in undefined_warnings(later, registered)} == undefined


@given(name=NAMES, position=st.integers(min_value=0, max_value=12))
@example(name="a_a_", position=1)  # difflib alone missed 'axa_': its greedy blocks match 'a_'
def test_a_one_letter_typo_suggests_the_name(name: str, position: int) -> None:
    at = position % len(name)
    typo = name[:at] + ("x" if name[at] != "x" else "y") + name[at + 1 :]
    assert did_you_mean(typo, {name, "zzzzzzzzzzzzzzzzzzzz"}) == f" (did you mean {name!r}?)"

"""`/v1/contracts` and `/v1/accounts/{id}/preview` over real HTTP on loopback, on both backends."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from valueproof.contracts.records import document_json
from valueproof.contracts.validation import read_contract
from valueproof.ledger.keyring import StoredKey
from valueproof.store import write
from valueproof.tenancy.keys import Scope, create_api_key
from valueproof.tenancy.tenants import Tenant

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = (ROOT / "tests" / "contracts" / "fixtures" / "per_unit.yaml").read_text()
# The sample amended from June: a dearer call.
AMENDED = (
    SAMPLE.replace('unit_price: "0.25"', 'unit_price: "0.30"') + "effective_from: 2024-06-01\n"
)
YAML = {"Content-Type": "application/yaml"}
CENT = Decimal("0.01")

EVENT_TYPE = {"key": "api.call", "properties": {"region": {"type": "string"}}}
METER = {"key": "calls", "event_type": "api.call", "aggregation": "count"}


@pytest.fixture
def catalog(http: httpx.Client) -> httpx.Client:
    """The test tenant with a `calls` meter and the accounts acme and globex."""
    assert http.put("/v1/event-types/api.call", json=EVENT_TYPE).status_code == 201
    assert http.post("/v1/meters", json=METER).status_code == 201
    for external_id in ("acme", "globex"):
        created = http.post("/v1/accounts", json={"external_id": external_id, "name": external_id})
        assert created.status_code == 201
    return http


def apply(http: httpx.Client, text: str) -> httpx.Response:
    return http.post("/v1/contracts", content=text, headers=YAML)


def fields(answer: httpx.Response) -> list[str]:
    assert answer.headers["content-type"] == "application/problem+json", answer.text
    return [error["field"] for error in answer.json()["errors"]]


def test_apply_creates_is_unchanged_then_amends_each_version_on_the_ledger(
    catalog: httpx.Client, signing_key: StoredKey
) -> None:
    first = apply(catalog, SAMPLE)
    assert first.status_code == 201, first.text
    created = first.json()
    assert (created["status"], created["contract"], created["account"], created["version"]) == (
        "created",
        "acme-2024",
        "acme",
        1,
    )
    assert created["effective_from"] == "2024-05-01T00:00:00Z"

    again = catalog.post("/v1/contracts", json=created["document"])  # the same, as JSON
    assert again.status_code == 200, again.text
    assert (again.json()["status"], again.json()["version"]) == ("unchanged", 1)

    second = apply(catalog, AMENDED)
    assert second.status_code == 201, second.text
    amended = second.json()
    assert (amended["status"], amended["version"]) == ("amended", 2)
    assert amended["effective_from"] == "2024-06-01T00:00:00Z"

    leaf = catalog.get(f"/v1/ledger/entries/{amended['leaf_index']}").json()["record"]
    assert leaf["type"] == "contract_version"
    assert (leaf["record"]["contract"], leaf["record"]["version"]) == ("acme-2024", 2)
    assert leaf["record"]["document"] == document_json(read_contract(AMENDED))
    # A checkpoint was signed in the same transaction, covering the new version.
    checkpoint = catalog.get("/v1/ledger/checkpoint").json()
    assert checkpoint["size"] == checkpoint["log_size"] == amended["leaf_index"] + 1


@pytest.fixture
def amended(catalog: httpx.Client) -> httpx.Client:
    """The tenant with the sample contract at versions 1 and 2."""
    assert apply(catalog, SAMPLE).status_code == 201
    assert apply(catalog, AMENDED).status_code == 201
    return catalog


def test_versions_are_listed_and_read_back(amended: httpx.Client) -> None:
    [latest] = amended.get("/v1/contracts").json()["contracts"]
    assert (latest["contract"], latest["version"]) == ("acme-2024", 2)
    assert amended.get("/v1/contracts", params={"account": "acme"}).json()["contracts"] == [latest]
    assert amended.get("/v1/contracts", params={"account": "globex"}).json()["contracts"] == []

    contract = amended.get("/v1/contracts/acme-2024").json()
    assert contract["version"] == 2 and contract["document"] == latest["document"]
    assert [(v["version"], v["effective_from"]) for v in contract["versions"]] == [
        (1, "2024-05-01T00:00:00Z"),
        (2, "2024-06-01T00:00:00Z"),
    ]
    assert contract["versions"][1]["leaf_index"] == latest["leaf_index"]

    first = amended.get("/v1/contracts/acme-2024/versions/1").json()
    assert first["document"]["components"][0]["unit_price"] == "0.25"
    for missing in ("/v1/contracts/acme-2024/versions/3", "/v1/contracts/acme-2024/versions/0"):
        assert amended.get(missing).status_code == 404
    assert amended.get("/v1/contracts/nope").status_code == 404


def test_diff_names_changes_by_component_id(amended: httpx.Client) -> None:
    answer = amended.get("/v1/contracts/acme-2024/diff")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "contract": "acme-2024",
        "from": 1,
        "to": 2,
        "changes": [
            {
                "path": "effective_from",
                "kind": "changed",
                "old": None,
                "new": "2024-06-01T00:00:00Z",
            },
            {"path": "components[api].unit_price", "kind": "changed", "old": "0.25", "new": "0.30"},
        ],
    }
    back = amended.get("/v1/contracts/acme-2024/diff", params={"from": 2, "to": 1}).json()
    assert [(c["path"], c["old"], c["new"]) for c in back["changes"]][1] == (
        "components[api].unit_price",
        "0.30",
        "0.25",
    )
    same = amended.get("/v1/contracts/acme-2024/diff", params={"from": 1, "to": 1}).json()
    assert same["changes"] == []
    first = amended.get("/v1/contracts/acme-2024/diff", params={"to": 1}).json()
    assert first["from"] is None and {c["kind"] for c in first["changes"]} == {"added"}
    assert fields(amended.get("/v1/contracts/acme-2024/diff", params={"from": 3})) == ["from"]
    assert amended.get("/v1/contracts/nope/diff").status_code == 404


CONTRACT_HEAD = """\
contract: bad
account: acme
currency: USD
term: {start: 2024-05-01}
components:
"""

# Each stage of validation lists every problem it finds (the model's fields first, then the
# whole document, then the tenant's meters, which need a document that passed the others).
INVALID = {
    "fields": (
        """\
  - {id: platform, type: flat, amount: "100.00 EUR"}
  - {id: api, type: per_unit, meter: calls, unit_price: -1}
""",
        ["components[0].amount", "components[1].unit_price"],
    ),
    "document": (
        """\
  - {id: platform, type: flat, amount: "100.001"}
  - id: api
    type: graduated
    meter: calls
    tiers:
      - {up_to: 100, unit_price: "0.2"}
      - {from: 50, up_to: null, unit_price: "0.1"}
  - {id: web, type: per_unit, meter: calls, unit_price: "0.1", when: "usage.calls >"}
""",
        ["components[0].amount", "components[1].tiers[1]", "components[2].when"],
    ),
    "catalogue": (
        """\
  - {id: api, type: per_unit, meter: requests, unit_price: "0.1"}
  - {id: fees, type: percentage, meter: calls, percent: 2}
  - {id: gpu, type: per_unit, meter: gpu_hours, unit_price: "1"}
""",
        ["components[0].meter", "components[1].meter", "components[2].meter"],
    ),
}


@pytest.mark.parametrize("stage", list(INVALID))
def test_every_problem_is_listed_and_nothing_is_stored(catalog: httpx.Client, stage: str) -> None:
    components, expected = INVALID[stage]
    text = CONTRACT_HEAD + components
    checked = catalog.post("/v1/contracts/validate", content=text, headers=YAML)
    assert checked.status_code == 422
    assert fields(checked) == expected
    assert checked.json()["title"] == "Invalid contract"
    applied = apply(catalog, text)
    assert applied.status_code == 422
    assert fields(applied) == expected
    assert catalog.get("/v1/contracts").json()["contracts"] == []
    assert catalog.get("/v1/ledger/entries/0").status_code == 404  # nothing reached the log


def test_problem_reasons_say_what_is_wrong(catalog: httpx.Client) -> None:
    reasons = {}
    for stage, (components, _fields) in INVALID.items():
        answer = catalog.post("/v1/contracts/validate", content=CONTRACT_HEAD + components)
        reasons[stage] = [error["reason"] for error in answer.json()["errors"]]
    assert reasons["fields"][0] == "currency mismatch: EUR in a USD contract"
    assert "greater than or equal to 0" in reasons["fields"][1]
    assert reasons["document"][1].startswith("overlaps the previous tier")
    assert reasons["document"][2].startswith("invalid CEL")
    assert reasons["catalogue"][0] == "unknown meter 'requests'"
    assert reasons["catalogue"][1].startswith("a percentage needs a sum meter")


def test_a_valid_document_validates_without_being_stored(catalog: httpx.Client) -> None:
    answer = catalog.post("/v1/contracts/validate", content=SAMPLE, headers=YAML)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"valid": True, "problems": [], "warnings": []}
    as_json = catalog.post("/v1/contracts/validate", json=document_json(read_contract(SAMPLE)))
    assert as_json.status_code == 200
    assert catalog.get("/v1/contracts").json()["contracts"] == []


@pytest.mark.parametrize(
    ("text", "status", "field"),
    [
        (SAMPLE.replace("account: acme", "account: nobody"), 422, "account"),
        (SAMPLE.replace("account: acme", "account: globex"), 409, None),
        (AMENDED.replace("currency: USD", "currency: EUR"), 422, "currency"),
        (AMENDED.replace("2024-06-01", "2024-06-15"), 422, "effective_from"),
        ("contract: [unclosed\n", 422, "(document)"),
    ],
)
def test_apply_refuses_what_contradicts_the_record(
    catalog: httpx.Client, text: str, status: int, field: str | None
) -> None:
    assert apply(catalog, SAMPLE).status_code == 201
    answer = apply(catalog, text)
    assert answer.status_code == status, answer.text
    if field is not None:
        assert fields(answer) == [field]
    assert [c["version"] for c in catalog.get("/v1/contracts").json()["contracts"]] == [1]


def test_body_types_and_scopes(
    catalog: httpx.Client, server: str, engine: Engine, tenant: Tenant
) -> None:
    refused = catalog.post("/v1/contracts", content=SAMPLE, headers={"Content-Type": "text/plain"})
    assert fields(refused) == ["content-type"]
    with write(engine) as connection:
        reader = create_api_key(connection, tenant.id, frozenset({Scope.READ})).token
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {reader}"}) as client:
        assert client.post("/v1/contracts/validate", content=SAMPLE, headers=YAML).is_success
        assert client.post("/v1/contracts", content=SAMPLE, headers=YAML).status_code == 403
    assert httpx.post(f"{server}/v1/contracts/validate", content=SAMPLE).status_code == 401


def test_the_schema_is_public_and_is_the_published_one(server: str) -> None:
    answer = httpx.get(f"{server}/v1/contracts/schema")
    assert answer.status_code == 200
    assert answer.json() == json.loads((ROOT / "docs" / "contract.schema.json").read_text())


def call(number: int, account: str, day: int) -> dict[str, Any]:
    return {
        "id": f"call-{number}",
        "account": account,
        "type": "api.call",
        "timestamp": f"2024-05-{day:02d}T10:00:00Z",
        "properties": {"region": "eu"},
    }


def test_preview_prices_the_period_so_far_and_projects_it(catalog: httpx.Client) -> None:
    assert apply(catalog, SAMPLE).status_code == 201
    events = [call(n, "acme" if n % 3 else "globex", 1 + n % 10) for n in range(20)]
    assert catalog.post("/v1/events", json={"events": events}).status_code == 200
    calls = sum(1 for event in events if event["account"] == "acme")
    price = Decimal("0.25")

    answer = catalog.get("/v1/accounts/acme/preview", params={"at": "2024-05-11T00:00:00Z"})
    assert answer.status_code == 200, answer.text
    preview = answer.json()
    assert preview["as_of"] == "2024-05-11T00:00:00Z"
    factor = Decimal(31 * 24) / Decimal(10 * 24)  # May's hours over the hours elapsed
    assert Decimal(preview["factor"]) == factor

    so_far = preview["period_to_date"]
    assert (so_far["period"]["start"], so_far["period"]["end"]) == (
        "2024-05-01T00:00:00Z",
        "2024-06-01T00:00:00Z",
    )
    [line] = so_far["lines"]
    assert (line["component"], Decimal(line["quantity"])) == ("api", calls)
    assert Decimal(line["amount"]) == Decimal(so_far["total"]) == calls * price
    assert line["sources"][0]["key"] == "calls" and line["sources"][0]["events"] == calls

    [projected] = preview["projection"]["lines"]
    assert Decimal(projected["quantity"]) == calls * factor
    assert Decimal(projected["exact"]) == Decimal(line["exact"]) * factor
    expected = (calls * price * factor).quantize(CENT, rounding=ROUND_HALF_EVEN)
    assert Decimal(projected["amount"]) == Decimal(preview["projection"]["total"]) == expected


def test_preview_refusals_name_the_field(catalog: httpx.Client) -> None:
    assert apply(catalog, SAMPLE).status_code == 201
    now = catalog.get("/v1/accounts/acme/preview")
    assert now.status_code == 200 and now.json()["period_to_date"]["total"] == "0.00"
    cases = [
        ("acme", {"at": "yesterday"}, "at"),
        ("acme", {"at": "2024-04-30T00:00:00Z"}, "account"),  # before the term
        ("globex", {}, "account"),  # no contract
        ("nobody", {}, "account"),
    ]
    for account, params, field in cases:
        answer = catalog.get(f"/v1/accounts/{account}/preview", params=params)
        assert answer.status_code == 422
        assert fields(answer) == [field]

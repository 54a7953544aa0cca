"""docs/contract.schema.json is the JSON Schema the contract model gives, byte for byte.

Regenerate it after changing `contracts/document.py`:
`.venv/bin/python -m tests.contracts.test_schema_published`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from valueproof.contracts.document import SCHEMA_ID, ContractDocument
from valueproof.contracts.validation import parse_contract

DOCS = Path(__file__).resolve().parents[2] / "docs"
PUBLISHED = DOCS / "contract.schema.json"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def schema_text() -> str:
    """The schema as published: sorted keys, two-space indents, a final newline."""
    schema = ContractDocument.model_json_schema(by_alias=True)
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def test_the_published_schema_is_the_models() -> None:
    assert PUBLISHED.read_text() == schema_text(), "regenerate docs/contract.schema.json"


def test_the_schema_names_itself_and_every_component_type() -> None:
    schema = json.loads(PUBLISHED.read_text())
    assert (schema["$id"], schema["title"]) == (SCHEMA_ID, "valueproof contract")
    components = schema["properties"]["components"]["items"]
    assert components["discriminator"]["propertyName"] == "type"
    assert sorted(components["discriminator"]["mapping"]) == [
        "commitment",
        "flat",
        "gain_share",
        "graduated",
        "graduated_percentage",
        "package",
        "per_outcome",
        "per_unit",
        "percentage",
        "prepaid_credits",
        "seats",
        "volume",
    ]
    assert "from" in schema["$defs"]["Tier"]["properties"]  # the alias, not `from_`
    assert schema["$defs"]["Tier"]["additionalProperties"] is False


def test_the_sample_contract_has_only_fields_the_schema_declares() -> None:
    # jsonschema is not a dependency: check the fields the sample uses against the schema.
    schema = json.loads(PUBLISHED.read_text())
    sample = yaml.safe_load((FIXTURES / "per_unit.yaml").read_text())
    assert set(schema["required"]) <= set(sample) <= set(schema["properties"])
    mapping = schema["properties"]["components"]["items"]["discriminator"]["mapping"]
    for component in sample["components"]:
        definition = schema["$defs"][mapping[component["type"]].rsplit("/", 1)[1]]
        assert set(definition["required"]) <= set(component) <= set(definition["properties"])


# The YAML examples of docs/contracts.md: whole documents, or components and discounts that the
# test completes into one (with components `api` and `checks` for them to apply to).
EXAMPLES = re.findall(r"```yaml\n(.*?)```", (DOCS / "contracts.md").read_text(), re.DOTALL)
FILLER = [
    {"id": "api", "type": "per_unit", "meter": "api_calls", "unit_price": "0.001"},
    {"id": "checks", "type": "per_unit", "meter": "background_checks", "unit_price": "1"},
]


def completed(example: Any) -> dict[str, Any]:
    if isinstance(example, dict) and "contract" in example:
        return example
    components = example if isinstance(example, list) else []
    ids = {c["id"] for c in components}
    document = {
        "contract": "example",
        "account": "globex",
        "currency": "USD",
        "term": {"start": "2026-01-01"},
        "components": components + [c for c in FILLER if c["id"] not in ids],
    }
    return document | (example if isinstance(example, dict) else {})


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda text: text.split("\n")[0][:40])
def test_every_example_of_the_documentation_is_valid(example: str) -> None:
    parse_contract(completed(yaml.safe_load(example)))


def test_the_documentation_shows_every_component_type() -> None:
    shown = {c["type"] for text in EXAMPLES for c in completed(yaml.safe_load(text))["components"]}
    mapping = json.loads(PUBLISHED.read_text())["properties"]["components"]["items"]
    assert shown == set(mapping["discriminator"]["mapping"])


if __name__ == "__main__":
    PUBLISHED.write_text(schema_text())

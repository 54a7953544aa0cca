"""The server does what its OpenAPI document says: schemathesis, bounded and derandomized, on a
real server on loopback over each backend, with admin, read and customer keys.

Each operation gets `EXAMPLES` generated requests (a fixed seed, so a run is reproducible); every
answer must be no 5xx, a documented status code and content type, and a body that matches the
documented schema. Every failing operation is reported, not only the first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from valueproof.api.openapi import PUBLIC_PATHS
from valueproof.store import write
from valueproof.tenancy.accounts import AccountCreate, create_account
from valueproof.tenancy.keys import Scope, create_api_key
from valueproof.tenancy.tenants import Tenant

EXAMPLES = 16  # per operation: 30 to 50 seconds per backend on two shared cores
ACCOUNT = "acme"  # the seeded account, which half the generated paths name


@dataclass(frozen=True, slots=True)
class Keys:
    admin: str
    read: str
    customer: str


@pytest.fixture
def keys(engine: Engine, tenant: Tenant, admin_key: str) -> Keys:
    """An admin, a read and a customer key of the test tenant, whose account `acme` exists."""
    with write(engine) as connection:
        account = create_account(
            connection, tenant.id, AccountCreate(external_id=ACCOUNT, name="A")
        )
        reader = create_api_key(connection, tenant.id, frozenset({Scope.READ}))
        customer = create_api_key(
            connection, tenant.id, frozenset({Scope.CUSTOMER}), "portal", account.id
        )
    return Keys(admin_key, reader.token, customer.token)


@pytest.fixture
def document(server: str) -> dict[str, Any]:
    """The OpenAPI document as the server publishes it."""
    answer = httpx.get(f"{server}/openapi.json", timeout=30)
    assert answer.status_code == 200
    published: dict[str, Any] = answer.json()
    return published


@pytest.fixture
def session() -> Iterator[Any]:
    import requests

    with requests.Session() as opened:
        yield opened


def test_every_operation_answers_as_documented(
    server: str, keys: Keys, document: dict[str, Any], session: Any
) -> None:
    import schemathesis

    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50  # every router is in the document
    failures: dict[str, str] = {}
    for operation in operations:
        _fuzz(operation, server, keys, session, failures)
    assert not failures, "\n".join(f"{label}:\n{why}" for label, why in sorted(failures.items()))


def _fuzz(operation: Any, server: str, keys: Keys, session: Any, failures: dict[str, str]) -> None:
    """Send the operation's generated requests; note its first failure in `failures`."""
    from schemathesis.checks import not_a_server_error
    from schemathesis.core.failures import FailureGroup
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    cases = operation.as_strategy()
    if "{external_id}" in operation.path:
        seeded = operation.as_strategy(path_parameters={"external_id": ACCOUNT})
        cases = st.one_of(cases, seeded)
    who = st.sampled_from([keys.admin, keys.admin, keys.read, keys.customer])

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, key=who)
    def run(case: Any, key: str) -> None:
        if operation.label in failures:
            return  # one failing request per operation is enough to report
        headers = {"Authorization": f"Bearer {key}"}
        response = case.call(base_url=server, session=session, headers=headers)
        try:
            case.validate_response(response, checks=checks)
        except FailureGroup as group:
            failures[operation.label] = str(group)

    run()


def test_a_method_a_path_lacks_is_a_405_allowing_every_documented_one(
    server: str, keys: Keys, document: dict[str, Any]
) -> None:
    templates = {
        re.compile(re.sub(r"\{[a-z_]+\}", "[^/]+", t.replace("{path}", ".+")) + "$"): t
        for t in document["paths"]
    }
    with httpx.Client(base_url=server, timeout=30) as client:
        for template in document["paths"]:
            path = template.replace("{external_id}", ACCOUNT).replace("{path}", "0/000")
            path = path.replace("{", "").replace("}", "")  # any other parameter: its own name
            answer = client.options(path)
            assert answer.status_code == 405, path
            assert answer.headers["content-type"] == "application/problem+json"
            allowed = set(answer.headers["allow"].split(", "))
            # `/v1/contracts/validate` is also `/v1/contracts/{key}`: both templates serve it
            documented = {
                method.upper()
                for pattern, other in templates.items()
                if pattern.match(path)
                for method in document["paths"][other]
            }
            assert allowed - {"HEAD"} == documented - {"HEAD"}, path


def test_every_refusal_is_declared_a_problem_and_every_key_route_its_401_and_403(
    document: dict[str, Any],
) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            for code, response in responses.items():
                if int(code) >= 400:
                    assert "application/problem+json" in response["content"], (method, path, code)
            public = operation.get("security") == []
            assert public == (path in PUBLIC_PATHS)
            assert public or {"401", "403"} <= responses.keys(), (method, path)
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"

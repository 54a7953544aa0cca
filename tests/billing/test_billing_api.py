"""The billing API over real HTTP: close, invoices, void, mark, credit notes, settings, profiles."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest

from tests.billing.conftest import Billing, cn, inv, pdf_text
from tests.contracts.conftest import call, contract_document
from valueproof.ledger.keyring import StoredKey
from valueproof.store import write
from valueproof.tenancy.accounts import account_id
from valueproof.tenancy.keys import Scope, create_api_key


@pytest.fixture
def billed(billing: Billing, http: httpx.Client) -> httpx.Client:
    billing.contract(term={"start": "2026-11-01", "end": "2027-01-01"})
    billing.priced.ingest([call(n) for n in range(20)])
    closed = http.post("/v1/billing/close", json={"as_of": "2026-12-05T00:00:00Z"})
    assert closed.status_code == 200, closed.text
    assert closed.json()["finalized"] == [inv(1)]
    return http


def test_invoices_are_listed_by_state_and_read_by_number(billed: httpx.Client) -> None:
    listed = billed.get("/v1/invoices", params={"status": "finalized"}).json()["invoices"]
    assert [i["number"] for i in listed] == [inv(1)]
    assert billed.get("/v1/invoices", params={"status": "paid"}).json()["invoices"] == []
    invoice = billed.get(f"/v1/invoices/{inv(1)}").json()
    assert invoice["document"]["total"] == "100.04"
    assert invoice["leaf_index"] is not None
    wrong = billed.get("/v1/invoices", params={"status": "open"})
    assert wrong.status_code == 422 and "status" in wrong.text


def test_void_credit_and_mark_through_the_api(billed: httpx.Client) -> None:
    missing = billed.post(f"/v1/invoices/{inv(1)}/void", json={})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "reason"
    too_much = billed.post(
        f"/v1/invoices/{inv(1)}/credit-notes",
        json={"reason": "goodwill", "lines": [{"line": 1, "amount": "1.00"}]},
    )
    assert too_much.status_code == 422
    assert too_much.json()["errors"][0]["field"] == "lines[0].amount"
    note = billed.post(
        f"/v1/invoices/{inv(1)}/credit-notes",
        json={"reason": "goodwill", "lines": [{"line": 0, "amount": "10.00"}]},
    )
    assert note.status_code == 201 and note.json()["number"] == cn(1)
    paid = billed.post(f"/v1/invoices/{inv(1)}/mark", json={"status": "paid", "reference": "tr_9"})
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    refused = billed.post(f"/v1/invoices/{inv(1)}/void", json={"reason": "late"})
    assert refused.status_code == 409 and "credit note" in refused.json()["detail"]


def test_closing_a_period_twice_and_amending_into_it_are_409(billed: httpx.Client) -> None:
    again = billed.post(
        "/v1/billing/periods/close", json={"account": "acme", "at": "2026-11-20T00:00:00Z"}
    )
    assert again.status_code == 409 and inv(1) in again.json()["detail"]
    amended = contract_document(
        term={"start": "2026-11-01", "end": "2027-01-01"},
        components=[{"id": "platform", "type": "flat", "amount": "120.00"}],
    )
    locked = billed.post("/v1/contracts", json=amended)
    assert locked.status_code == 409
    assert inv(1) in locked.json()["detail"]


def test_settings_and_profiles_name_their_bad_fields(billed: httpx.Client) -> None:
    bad = billed.put("/v1/billing/settings", json={"grace_hours": -1, "invoice_prefix": "a b"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"grace_hours", "invoice_prefix"}
    good = billed.put("/v1/billing/settings", json={"grace_hours": 0, "auto_finalize": False})
    assert good.status_code == 200
    assert billed.get("/v1/billing/settings").json()["grace_hours"] == 0
    profile = billed.put("/v1/accounts/acme/billing-profile", json={"tax_rates": {"VAT": "1.5"}})
    assert profile.status_code == 422 and "tax_rates" in profile.text


def test_a_customer_key_sees_its_own_issued_invoices_only(
    billing: Billing, billed: httpx.Client, server: str
) -> None:
    with write(billing.engine) as connection:
        globex = account_id(connection, billing.tenant_id, "globex")
        token = create_api_key(
            connection, billing.tenant_id, frozenset({Scope.CUSTOMER}), "portal", globex
        ).token
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"}) as customer:
        assert customer.get("/v1/invoices").json()["invoices"] == []
        assert customer.get(f"/v1/invoices/{inv(1)}").status_code == 404


def test_the_invoice_pdf_reads_back_with_its_lines_and_verification(
    billed: httpx.Client, tmp_path: Path
) -> None:
    got = billed.get(f"/v1/invoices/{inv(1)}/pdf")
    assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
    assert f'filename="{inv(1)}.pdf"' in got.headers["content-disposition"]
    text = pdf_text(got.content, tmp_path)
    assert inv(1) in text and "100.04" in text
    leaf = billed.get(f"/v1/invoices/{inv(1)}").json()["leaf_index"]
    assert re.search(rf"Leaf index\s+{leaf}\b", text), text
    assert "valueproof verify invoice" in text
    page = billed.get(f"/v1/invoices/{inv(1)}/html")
    assert page.status_code == 200 and "<table" in page.text
    note = billed.post(
        f"/v1/invoices/{inv(1)}/credit-notes", json={"reason": "goodwill", "lines": []}
    ).json()
    credit = billed.get(f"/v1/credit-notes/{note['number']}/pdf")
    assert credit.status_code == 200
    assert "goodwill" in pdf_text(credit.content, tmp_path)


def test_a_closed_invoice_verifies_from_its_bundle(
    billing: Billing, billed: httpx.Client, signing_key: StoredKey, tmp_path: Path
) -> None:
    got = billed.get(f"/v1/invoices/{inv(1)}/bundle")
    assert got.status_code == 200
    assert f'filename="{inv(1)}.bundle.json"' in got.headers["content-disposition"]
    path = tmp_path / "bundle.json"
    path.write_bytes(got.content)
    vkey = signing_key.verifier.vkey
    command = [sys.executable, "-m", "valueproof.cli.main", "verify", "invoice", str(path)]
    done = subprocess.run([*command, "--vkey", vkey], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "api" in done.stdout and "platform" in done.stdout
    changed = orjson.loads(got.content)
    record = changed["records"][0]
    assert '"region":"eu"' in record["entry"]
    record["entry"] = record["entry"].replace('"region":"eu"', '"region":"us"')
    path.write_bytes(orjson.dumps(changed))
    tampered = subprocess.run([*command, "--vkey", vkey], capture_output=True, text=True)
    assert tampered.returncode == 1, tampered.stdout


def test_a_draft_has_no_bundle(billing: Billing, billed: httpx.Client) -> None:
    billing.settings(auto_finalize=False)
    billing.priced.apply(
        contract_document(
            "globex-2026", "globex", term={"start": "2026-11-01", "end": "2027-01-01"}
        )
    )
    billed.post("/v1/billing/close", json={"as_of": "2026-12-05T00:00:00Z"})
    draft = billed.get("/v1/invoices", params={"status": "draft"}).json()["invoices"][0]
    refused = billed.get(f"/v1/invoices/{draft['id']}/bundle")
    assert refused.status_code == 409 and "only a finalized invoice" in refused.json()["detail"]

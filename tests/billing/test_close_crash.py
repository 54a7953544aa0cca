"""Kill -9 a close half-way and run it again: the same invoices, none twice, numbers gapless."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from tests.billing.conftest import Billing, inv
from tests.conftest import LEDGER_PASSPHRASE
from tests.contracts.conftest import contract_document
from valueproof.billing.invoice_store import invoices_of
from valueproof.billing.invoices_source import InvoiceSource, InvoiceStatusSource
from valueproof.billing.tables import invoices
from valueproof.contracts.versions_source import ContractVersionSource
from valueproof.ledger.audit import audit
from valueproof.store import read, write
from valueproof.tenancy.accounts import AccountCreate, create_account

ACCOUNTS = 12  # x 12 months of 2026: 144 invoices, one per transaction


def _close(billing: Billing, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "VALUEPROOF_DATABASE_URL": billing.engine.url.render_as_string(hide_password=False),
        "VALUEPROOF_LEDGER_PASSPHRASE": LEDGER_PASSPHRASE,
    }
    command = [sys.executable, "-m", "valueproof.cli.main", "billing", "close"]
    command += ["--as-of", "2027-01-05T00:00:00Z", "--batch", "1"]
    command += ["--tenant", billing.priced.tenant.slug]
    with log.open("ab") as out:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=out)


def _count(billing: Billing) -> int:
    with read(billing.engine) as connection:
        query = select(func.count()).where(invoices.c.tenant_id == billing.tenant_id)
        return int(connection.execute(query).scalar_one())


def test_a_killed_close_resumes_without_duplicates_or_gaps(
    billing: Billing, tmp_path: Path
) -> None:
    with write(billing.engine) as connection:
        for index in range(ACCOUNTS):
            name = f"crash-{index:02d}"
            create_account(
                connection, billing.tenant_id, AccountCreate(external_id=name, name=name)
            )
    for index in range(ACCOUNTS):
        billing.priced.apply(contract_document(f"crash-{index:02d}-2026", f"crash-{index:02d}"))
    log = tmp_path / "stderr.log"
    process = _close(billing, log)
    deadline = time.monotonic() + 120
    while process.poll() is None and _count(billing) < 20:
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = _count(billing)
    assert 0 < killed_at < ACCOUNTS * 12, "the kill did not land mid-close"
    final = _close(billing, log)
    assert final.wait(timeout=300) == 0, log.read_text()
    with read(billing.engine) as connection:
        found = invoices_of(connection, billing.tenant_id)
        report = audit(
            connection,
            billing.tenant_id,
            [ContractVersionSource(), InvoiceSource(), InvoiceStatusSource()],
        )
    periods = [(i.account, i.period_start_us) for i in found]
    assert len(periods) == len(set(periods)) == ACCOUNTS * 12
    numbers = sorted(i.number or "" for i in found)
    assert numbers == [inv(n) for n in range(1, ACCOUNTS * 12 + 1)]
    assert all(i.status == "finalized" for i in found)
    assert report.ok, report.findings

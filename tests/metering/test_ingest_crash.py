"""Kill -9 the ingesting process at random points of a large file, restart it, lose nothing.

Every acknowledged item (the `--acks` file is written after each chunk commits) must be stored
exactly once after each kill, the rollups must always equal the events on record, the ledger must
pass its audit (every stored event a leaf, every signed checkpoint matching), and after a final run
the totals equal those of a clean run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson
from sqlalchemy import func, select

from valueproof.ledger.audit import audit
from valueproof.ledger.keyring import generate_key
from valueproof.metering.events_source import UsageEventSource
from valueproof.metering.tables import events, meters, rollups
from valueproof.store import read, write
from valueproof.tenancy.tables import accounts

from .conftest import ACCOUNTS, Metered

PASSPHRASE = "crash-test passphrase"
ITEMS = 12_000
CHUNK = 400


def write_file(path: Path) -> tuple[Counter[str], set[str]]:
    """A JSONL file with a few bad lines; returns calls per account and the valid ids."""
    rng = random.Random(2026)
    calls: Counter[str] = Counter()
    valid: set[str] = set()
    with path.open("wb") as out:
        for index in range(ITEMS):
            if index % 997 == 0:
                out.write(b'{"id": "broken", \n')
                continue
            account = rng.choice(ACCOUNTS)
            event = {
                "id": f"crash-{index}",
                "account": account,
                "type": "api.call",
                "timestamp": f"2026-01-{1 + index % 28:02d}T{index % 24:02d}:{index % 60:02d}:00Z",
                "properties": {"endpoint": rng.choice(["/a", "/b"]), "bytes": rng.randint(0, 99)},
            }
            out.write(orjson.dumps(event) + b"\n")
            calls[account] += 1
            valid.add(event["id"])
    return calls, valid


def start_ingest(metered: Metered, path: Path, acks: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "VALUEPROOF_DATABASE_URL": metered.engine.url.render_as_string(hide_password=False),
        "VALUEPROOF_LEDGER_PASSPHRASE": PASSPHRASE,
    }
    command = [sys.executable, "-m", "valueproof.cli.main", "ingest", str(path)]
    command += ["--tenant", metered.tenant.slug, "--chunk", str(CHUNK), "--acks", str(acks)]
    command += ["--quiet"]
    with (acks.parent / "stderr.log").open("ab") as log:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)


def acknowledged(acks: Path) -> int:
    lines = acks.read_text().split() if acks.exists() else []
    return int(lines[-1]) if lines else 0


def stored_ids(metered: Metered) -> list[str]:
    with read(metered.engine) as connection:
        return list(
            connection.execute(
                select(events.c.event_id).where(events.c.tenant_id == metered.tenant.id)
            ).scalars()
        )


def assert_rollups_match_events(metered: Metered) -> None:
    with read(metered.engine) as connection:
        raw = connection.execute(
            select(func.count()).where(events.c.tenant_id == metered.tenant.id)
        ).scalar()
        rolled = connection.execute(
            select(func.coalesce(func.sum(rollups.c.event_count), 0))
            .select_from(rollups)
            .join(
                meters,
                rollups.c.meter_id == meters.c.id,
            )
            .where(rollups.c.tenant_id == metered.tenant.id)
            .where(meters.c.key == "calls")
        ).scalar()
    assert rolled == raw


def assert_ledger_audits_clean(metered: Metered, stored: int) -> None:
    with read(metered.engine) as connection:
        report = audit(connection, metered.tenant.id, [UsageEventSource()])
    assert report.ok, report.findings
    assert report.size == stored and report.latest_checkpoint == stored


def test_kill_nine_mid_ingest_loses_no_acknowledged_event(metered: Metered, tmp_path: Path) -> None:
    with write(metered.engine) as connection:
        generate_key(connection, metered.tenant.id, "test.localhost/crash", PASSPHRASE, 1)
    path, acks = tmp_path / "usage.jsonl", tmp_path / "acks"
    calls, valid = write_file(path)
    rng = random.Random(9)
    kills = 0
    for _attempt in range(3):
        process = start_ingest(metered, path, acks)
        target = acknowledged(acks) + rng.randint(1, 6) * CHUNK
        deadline = time.monotonic() + 120
        while process.poll() is None and acknowledged(acks) < target:
            assert time.monotonic() < deadline, "the ingest made no progress"
            time.sleep(0.005)
        time.sleep(rng.random() * 0.2)  # land anywhere inside the next chunk
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
        ids = stored_ids(metered)
        assert len(ids) == len(set(ids)), "an event was stored twice"
        first_items = acknowledged(acks)
        expected = {f"crash-{i}" for i in range(first_items)} & valid
        assert expected <= set(ids), "an acknowledged event was lost"
        assert_rollups_match_events(metered)
        assert_ledger_audits_clean(metered, len(ids))
    assert kills >= 1, "no kill landed mid-ingest: make the file larger"
    final = start_ingest(metered, path, acks)
    final.wait(timeout=300)
    log = (tmp_path / "stderr.log").read_text()
    assert final.returncode == 1, log  # the broken lines are rejected, every other item stored
    ids = stored_ids(metered)
    assert set(ids) == valid and len(ids) == len(valid)
    assert_rollups_match_events(metered)
    assert_ledger_audits_clean(metered, len(ids))
    with read(metered.engine) as connection:
        per_account = dict(
            connection.execute(
                select(accounts.c.external_id, func.count())
                .select_from(events)
                .join(
                    accounts,
                    events.c.account_id == accounts.c.id,
                )
                .where(events.c.tenant_id == metered.tenant.id)
                .group_by(accounts.c.external_id)
            ).all()
        )
    assert per_account == dict(calls)

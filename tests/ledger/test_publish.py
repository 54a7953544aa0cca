"""Checkpoints at an interval: ingest signs only when one is due, and the server's timer covers
the leaves a quiet log would otherwise leave unsigned."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from valueproof.api.app import create_app
from valueproof.config import Settings
from valueproof.ledger import log
from valueproof.ledger.errors import SigningKeyError
from valueproof.ledger.keyring import Keyring
from valueproof.ledger.publish import CheckpointPolicy, latest_checkpoint, sign_due_checkpoints
from valueproof.metering.ingest import IngestOptions, ingest_batch
from valueproof.store import read, write
from valueproof.tenancy.clock import now_us
from valueproof.tenancy.keys import Scope, create_api_key
from valueproof.tenancy.tenants import Tenant

from .conftest import call

HOUR_US = 3_600_000_000


def latest_size(engine: Engine, tenant: Tenant) -> int | None:
    with read(engine) as connection:
        latest = latest_checkpoint(connection, tenant.id)
    return None if latest is None else latest.checkpoint.size


def test_ingest_signs_at_most_once_per_interval(
    engine: Engine, ledgered: Tenant, keyring: Keyring
) -> None:
    start = now_us()  # the events' own timestamps must not look like the future
    policy = CheckpointPolicy(keyring, interval_us=HOUR_US)
    for number, moment in enumerate([start, start + 1, start + 2 * HOUR_US]):
        options = IngestOptions(checkpoints=policy, clock=lambda moment=moment: moment)
        ingest_batch(engine, ledgered.id, [call(number)], options)
        if number == 1:
            assert latest_size(engine, ledgered) == 1  # the second batch came too soon
    assert latest_size(engine, ledgered) == 3


@given(seconds=st.integers(min_value=0, max_value=10**9))
def test_the_policy_from_settings_signs_at_most_once_per_interval_in_microseconds(
    seconds: int,
) -> None:
    keyring = Keyring(None)
    policy = CheckpointPolicy.from_settings(keyring, Settings(checkpoint_interval_seconds=seconds))
    assert policy == CheckpointPolicy(keyring, interval_us=seconds * 1_000_000)


def test_the_timer_signs_what_ingest_left_unsigned(
    engine: Engine, ledgered: Tenant, keyring: Keyring
) -> None:
    ingest_batch(engine, ledgered.id, [call(1), call(2)], IngestOptions())  # no checkpoint
    assert latest_size(engine, ledgered) is None
    policy = CheckpointPolicy(keyring, interval_us=HOUR_US)
    signed = sign_due_checkpoints(engine, policy, 100 * HOUR_US)
    assert signed[ledgered.id].checkpoint.size == 2
    assert ledgered.id not in sign_due_checkpoints(engine, policy, 100 * HOUR_US + 1)
    ingest_batch(engine, ledgered.id, [call(3)], IngestOptions())
    assert ledgered.id not in sign_due_checkpoints(engine, policy, 100 * HOUR_US + 2)
    assert sign_due_checkpoints(engine, policy, 102 * HOUR_US)[ledgered.id].checkpoint.size == 3


@pytest.fixture
def timed_server(
    engine: Engine, serve: Callable[..., AbstractContextManager[str]]
) -> Iterator[str]:
    """A server with a one-second checkpoint interval and its lifespan (the timer) running."""
    settings = Settings(
        database_url=str(engine.url),
        ledger_passphrase="correct horse battery staple",
        checkpoint_interval_seconds=1,
    )
    with serve(create_app(engine, settings), lifespan="on") as url:
        yield url


def test_a_running_server_covers_the_tail_within_the_interval(
    engine: Engine, ledgered: Tenant, timed_server: str
) -> None:
    with write(engine) as connection:
        token = create_api_key(connection, ledgered.id, frozenset(Scope)).token
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=timed_server, headers=headers, timeout=30) as client:
        for batch in ([call(1)], [call(2), call(3)]):
            assert client.post("/v1/events", json={"events": batch}).status_code == 200
    assert latest_size(engine, ledgered) == 1  # the second batch came within the interval
    deadline = time.monotonic() + 15
    while latest_size(engine, ledgered) != 3:
        assert time.monotonic() < deadline, "the timer never signed the tail"
        time.sleep(0.1)
    with read(engine) as connection:
        assert log.log_size(connection, ledgered.id) == 3


def test_a_wrong_passphrase_never_blocks_ingest(engine: Engine, ledgered: Tenant) -> None:
    wrong = Keyring("not the passphrase")
    options = IngestOptions(checkpoints=CheckpointPolicy(wrong))
    for batch in ([call(1)], [call(2)]):
        assert [r.status for r in ingest_batch(engine, ledgered.id, batch, options)] == ["accepted"]
    assert latest_size(engine, ledgered) is None  # the leaves wait for a key that opens
    with read(engine) as connection, pytest.raises(SigningKeyError, match="does not open"):
        wrong.active_signer(connection, ledgered.id)

"""Tests for cli/webhooks.py: add (the secret printed once), list, update, remove, the delivery
log, replay and deliver; a URL that is not http(s) exits 2 naming `url`, with nothing added."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from valueproof.store import write
from valueproof.tenancy.clock import now_us
from valueproof.tenancy.tenants import Tenant
from valueproof.webhooks.outbox import enqueue

from ..conftest import LEDGER_PASSPHRASE
from ..webhooks.conftest import Receiver
from .conftest import Cli


@pytest.fixture
def passphrase() -> Iterator[None]:
    """The CLI reads its settings from the environment, as a user's shell would give them."""
    before = os.environ.get("VALUEPROOF_LEDGER_PASSPHRASE")
    os.environ["VALUEPROOF_LEDGER_PASSPHRASE"] = LEDGER_PASSPHRASE
    yield
    if before is None:
        del os.environ["VALUEPROOF_LEDGER_PASSPHRASE"]
    else:
        os.environ["VALUEPROOF_LEDGER_PASSPHRASE"] = before


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    running.start()
    yield running
    running.stop()


def test_endpoints_from_the_command_line(
    cli: Cli, engine: Engine, tenant: Tenant, receiver: Receiver, passphrase: None
) -> None:
    added = cli.json(
        "webhooks", "endpoint", "add", receiver.url("/cli"), "--event-type", "invoice.paid"
    )
    receiver.secrets["/cli"] = added["secret"]
    listed = cli.json("webhooks", "endpoint", "list")["endpoints"]
    assert [e["id"] for e in listed] == [added["id"]] and "secret" not in listed[0]
    with write(engine) as connection:
        sent = enqueue(connection, tenant.id, "invoice.paid", {"leaf_index": 4}, now_us())
    ran = cli("webhooks", "deliver")
    assert ran.exit_code == 0, ran.output
    assert "1 delivered" in ran.stdout
    assert [r.id for r in receiver.acknowledged()] == [sent]
    log = cli.json("webhooks", "deliveries", "--endpoint", added["id"])["deliveries"]
    assert [d["status"] for d in log] == ["delivered"]
    replayed = cli("webhooks", "replay", sent)
    assert replayed.exit_code == 0 and "1 new deliveries" in replayed.stdout
    assert cli.json("webhooks", "deliver")["delivered"] == 1
    assert [r.id for r in receiver.acknowledged()] == [sent, sent]
    off = cli.json("webhooks", "endpoint", "update", added["id"], "--disable")
    assert off["enabled"] is False
    assert cli("webhooks", "endpoint", "list").stdout.count("disabled by hand") == 1
    assert cli("webhooks", "endpoint", "remove", added["id"]).exit_code == 0
    assert cli.json("webhooks", "endpoint", "list")["endpoints"] == []


def test_a_url_that_is_not_http_exits_2_naming_url(cli: Cli, passphrase: None) -> None:
    refused = cli("webhooks", "endpoint", "add", "mailto:ops@example.com")
    assert refused.exit_code == 2
    assert "url: scheme 'mailto' is not http or https" in refused.stderr
    assert cli.json("webhooks", "endpoint", "list")["endpoints"] == []


def test_exit_codes_for_a_missing_endpoint_and_message(cli: Cli, passphrase: None) -> None:
    assert cli("webhooks", "endpoint", "remove", "ep_nope").exit_code == 3
    assert cli("webhooks", "replay", "msg_nope").exit_code == 3
    assert cli("webhooks", "endpoint", "update", "ep_nope", "--enable").exit_code == 3

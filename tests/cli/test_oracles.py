"""Tests for cli/oracles.py: a source's keygen, sign and submit (over real HTTP), and the vendor's
apply, sources, metrics, readings and value."""

from __future__ import annotations

import socket
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from typer.testing import CliRunner, Result

from valueproof.cli.main import app
from valueproof.outcomes.readings import (
    parse_public_key,
    parse_submission,
    public_key_text,
    verify_signature,
)
from valueproof.periods import format_rfc3339

from .conftest import Cli

NOW = datetime.now(UTC).replace(microsecond=0)


def offline(*args: str, env: dict[str, str] | None = None) -> Result:
    """A run of the CLI whose database cannot be reached: commands that need none still work."""
    unreachable = f"postgresql+psycopg://nobody:nothing@127.0.0.1:{_closed_port()}/none"
    result = CliRunner().invoke(app, ["--database-url", unreachable, *args], env=env)
    assert "Traceback" not in result.output, result.output
    return result


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def keygen(path: Path, *extra: str, env: dict[str, str] | None = None) -> str:
    made = offline("oracle", "keygen", "--out", str(path), *extra, env=env)
    assert made.exit_code == 0, made.output
    return made.stdout.strip()


def sign(key: Path, value: str, *extra: str, env: dict[str, str] | None = None) -> Result:
    return offline(
        "oracle",
        "sign",
        "--key",
        str(key),
        "--source",
        "acme-bi",
        "--metric",
        "nrr",
        "--value",
        value,
        *extra,
        env=env,
    )


def oracle_file(tmp_path: Path, public_key: str) -> Path:
    path = tmp_path / "oracles.yaml"
    document = {
        "sources": [
            {"key": "acme-bi", "name": "Acme BI", "public_key": public_key, "metrics": ["nrr"]}
        ],
        "metrics": [{"key": "nrr", "rule": "single", "sources": ["acme-bi"]}],
    }
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "acme-bi.pem"


@pytest.fixture
def registered(cli: Cli, tmp_path: Path, key_file: Path) -> str:
    """A source key made with keygen, registered by the vendor with `oracle apply`."""
    public_key = keygen(key_file)
    applied = cli.json("oracle", "apply", str(oracle_file(tmp_path, public_key)))
    assert applied["applied"] == [
        {"kind": "source", "key": "acme-bi", "status": "created"},
        {"kind": "metric", "key": "nrr", "status": "created"},
    ]
    return public_key


@pytest.fixture
def api_key_env(admin_key: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("VALUEPROOF_API_KEY", admin_key)
    return admin_key


def test_keygen_writes_a_private_pem_and_prints_the_public_key(key_file: Path) -> None:
    public_key = keygen(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    private = load_pem_private_key(key_file.read_bytes(), None)
    assert isinstance(private, Ed25519PrivateKey)
    assert parse_public_key(public_key) is not None
    assert key_file.read_text().startswith("-----BEGIN PRIVATE KEY-----")

    before = key_file.read_bytes()
    again = offline("oracle", "keygen", "--out", str(key_file))
    assert again.exit_code == 2
    assert "error: --out:" in again.stderr and "never overwrites" in again.stderr
    assert key_file.read_bytes() == before


def test_an_encrypted_key_signs_only_with_its_passphrase(tmp_path: Path) -> None:
    key = tmp_path / "locked.pem"
    secret = {"SOURCE_PASSPHRASE": "open sesame"}
    keygen(key, "--passphrase-env", "SOURCE_PASSPHRASE", env=secret)
    assert key.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert sign(key, "101", "--passphrase-env", "SOURCE_PASSPHRASE", env=secret).exit_code == 0
    assert sign(key, "101").exit_code == 2
    wrong = {"SOURCE_PASSPHRASE": "guess"}
    refused = sign(key, "101", "--passphrase-env", "SOURCE_PASSPHRASE", env=wrong)
    assert refused.exit_code == 2
    assert "error: --key:" in refused.stderr
    unset = offline("oracle", "keygen", "--out", str(tmp_path / "x.pem"), "--passphrase-env", "NO")
    assert unset.exit_code == 2
    assert not (tmp_path / "x.pem").exists()


def test_sign_prints_one_verifiable_submission_without_any_database(key_file: Path) -> None:
    public_key = keygen(key_file)
    as_of = format_rfc3339(NOW - timedelta(minutes=5))
    result = sign(key_file, "108.50", "--as-of", as_of, "--nonce", "reading-0001")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1
    item = orjson.loads(result.stdout)
    assert item["reading"] == {
        "source": "acme-bi",
        "metric": "nrr",
        "value": "108.50",
        "as_of": as_of,
        "nonce": "reading-0001",
    }
    reading, signature = parse_submission(item)
    verify_signature(parse_public_key(public_key), reading, signature)

    fresh = [orjson.loads(sign(key_file, "1").stdout)["reading"] for _ in range(2)]
    assert fresh[0]["nonce"] != fresh[1]["nonce"]


# The test vector of docs/oracles.md: a signer in any language must reproduce it exactly.
VECTOR_PEM = """\
-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f
-----END PRIVATE KEY-----
"""
VECTOR_SIGNATURE = (
    "1vIb7p9I0uSrv0qviEr27JkeSLOUFyeMpasPS8Y0wVws+Hiy2PJSKbuoaNOsJMxyetLlPuHmL/O0RmDKKTSVAA=="
)


def test_sign_reproduces_the_documented_test_vector(tmp_path: Path) -> None:
    key = tmp_path / "vector.pem"
    key.write_text(VECTOR_PEM)
    as_of = ("--as-of", "2026-11-23T10:00:00Z", "--nonce", "q2Lw0yJd7dVZ0x1hQvXg4A")
    result = sign(key, "108.50", *as_of)
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["signature"] == VECTOR_SIGNATURE
    documented = (Path(__file__).parents[2] / "docs" / "oracles.md").read_text()
    assert VECTOR_SIGNATURE in documented
    private = load_pem_private_key(VECTOR_PEM.encode(), None)
    assert isinstance(private, Ed25519PrivateKey)
    public_key = public_key_text(private.public_key())
    assert public_key == "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
    assert public_key in documented


@pytest.mark.parametrize(
    ("option", "args"),
    [
        ("--value", ("--value", "1e3")),
        ("--value", ("--value", "lots")),
        ("--as-of", ("--as-of", "2026-11-23")),
        ("--nonce", ("--nonce", "short")),
        ("--source", ("--source", "not a key")),
    ],
)
def test_sign_refuses_what_it_could_not_sign_as_given(
    key_file: Path, option: str, args: tuple[str, str]
) -> None:
    keygen(key_file)
    given = {"--source": "acme-bi", "--metric": "nrr", "--value": "1", args[0]: args[1]}
    flat = [part for pair in given.items() for part in pair]
    result = offline("oracle", "sign", "--key", str(key_file), *flat)
    assert result.exit_code == 2
    assert f"error: {option}:" in result.stderr


def test_keygen_sign_submit_round_trip_over_http(
    cli: Cli, registered: str, key_file: Path, server: str, api_key_env: str, tmp_path: Path
) -> None:
    lines = [sign(key_file, value).stdout for value in ("101", "102.5")]
    batch = tmp_path / "readings.jsonl"
    batch.write_text("".join(lines))
    sent = cli.root("oracle", "submit", str(batch), "--url", server, "--json")
    assert sent.exit_code == 0, sent.output
    answer = orjson.loads(sent.stdout)
    assert (answer["accepted"], answer["rejected"]) == (2, 0)
    leaves = [r["leaf_index"] for r in answer["results"]]

    replay = CliRunner().invoke(app, ["oracle", "submit", "-", "--url", server], input=lines[0])
    assert replay.exit_code == 0, replay.output
    assert "duplicate 1" in replay.stdout

    readings = cli.json("oracle", "readings", "--metric", "nrr")["readings"]
    assert [(r["value"], r["leaf_index"]) for r in readings] == list(
        zip(["101", "102.5"], leaves, strict=True)
    )
    value = cli.json("oracle", "value", "--metric", "nrr")
    assert (value["value"], value["used"][0]["leaf_index"]) == ("102.5", leaves[1])
    table = cli("oracle", "value", "--metric", "nrr")
    assert table.exit_code == 0 and "nrr: 102.5 as of" in table.stdout
    sources = cli.json("oracle", "sources")["sources"]
    assert [(s["key"], s["public_key"]) for s in sources] == [("acme-bi", registered)]
    assert [m["key"] for m in cli.json("oracle", "metrics")["metrics"]] == ["nrr"]
    assert "acme-bi" in cli("oracle", "sources").stdout


def test_submit_exits_1_when_a_reading_is_refused(
    cli: Cli, registered: str, key_file: Path, server: str, api_key_env: str, tmp_path: Path
) -> None:
    stale = sign(key_file, "99", "--as-of", format_rfc3339(NOW - timedelta(days=3))).stdout
    good = sign(key_file, "100").stdout
    batch = tmp_path / "mixed.jsonl"
    batch.write_text(good + "\n" + stale)
    sent = cli.root("oracle", "submit", str(batch), "--url", server)
    assert sent.exit_code == 1, sent.output
    assert "accepted 1, duplicate 0, conflict 0, rejected 1" in sent.stdout
    assert "reading.as_of" in sent.stdout and "stale" in sent.stdout

    reused = sign(key_file, "100.1", "--nonce", orjson.loads(good)["reading"]["nonce"]).stdout
    clash = tmp_path / "clash.json"
    clash.write_text(reused)
    assert cli.root("oracle", "submit", str(clash), "--url", server).exit_code == 1


def test_submit_exits_2_for_bad_input_a_refused_request_or_no_server(
    cli: Cli, registered: str, key_file: Path, server: str, tmp_path: Path, api_key_env: str
) -> None:
    good = tmp_path / "good.json"
    good.write_text(sign(key_file, "100").stdout)
    down = f"http://127.0.0.1:{_closed_port()}"
    unreachable = cli.root("oracle", "submit", str(good), "--url", down)
    assert unreachable.exit_code == 2
    assert "error: --url:" in unreachable.stderr

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"reading": {}}\n{not json\n')
    assert "error: line 2:" in cli.root("oracle", "submit", str(broken), "--url", server).stderr
    twice = tmp_path / "twice.json"
    twice.write_text(good.read_text().replace('{"reading":', '{"signature": "x", "reading":', 1))
    refused = cli.root("oracle", "submit", str(twice), "--url", server)
    assert refused.exit_code == 2 and "duplicate key 'signature'" in refused.stderr

    no_key = cli.root("oracle", "submit", str(good), "--url", server, "--api-key-env", "NO_KEY")
    assert no_key.exit_code == 2
    assert "error: --api-key-env:" in no_key.stderr

    bad_key = CliRunner().invoke(
        app,
        ["oracle", "submit", str(good), "--url", server, "--api-key-env", "K"],
        env={"K": "vp_nobody_nothing"},
    )
    assert bad_key.exit_code == 2
    assert "HTTP 401" in bad_key.stderr
    assert cli.json("oracle", "readings", "--metric", "nrr")["readings"] == []


def test_apply_refuses_a_bad_file_whole_with_the_path_of_the_problem(
    cli: Cli, tmp_path: Path, key_file: Path
) -> None:
    public_key = keygen(key_file)
    path = oracle_file(tmp_path, public_key)
    document = yaml.safe_load(path.read_text())
    document["metrics"][0]["sources"] = ["someone-else"]
    path.write_text(yaml.safe_dump(document))
    refused = cli("oracle", "apply", str(path))
    assert refused.exit_code == 2
    assert "error: metrics[0].sources[0]: no source 'someone-else'" in refused.stderr
    assert cli.json("oracle", "sources")["sources"] == []  # the sources before it rolled back

    document["sources"][0]["public_key"] = "AAAA"
    path.write_text(yaml.safe_dump(document))
    assert "error: sources[0].public_key:" in cli("oracle", "apply", str(path)).stderr
    document["sources"] = [document["sources"][0]] * 2
    document["sources"][0] = {**document["sources"][0], "public_key": public_key}
    document["sources"][1] = document["sources"][0]
    path.write_text(yaml.safe_dump(document))
    duplicate = cli("oracle", "apply", str(path))
    assert "error: sources[1].key: 'acme-bi' is defined already at sources[0]" in duplicate.stderr

    path.write_text("sources: []\nmeters: []\n")
    assert "error: meters: unknown section" in cli("oracle", "apply", str(path)).stderr


def test_value_of_a_metric_without_a_rule_is_not_found(cli: Cli) -> None:
    missing = cli("oracle", "value", "--metric", "nrr")
    assert missing.exit_code == 3
    assert cli("oracle", "readings", "--metric", "nrr", "--from", "soon").exit_code == 2

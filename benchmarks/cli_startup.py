"""CLI start-up benchmark: wall time of `valueproof --version`, `--help` and `usage`, each run as
a fresh process, against `python -c pass` (the interpreter's own start) as the floor.

`usage` reads a small scratch SQLite database the script builds first through the CLI itself
(a tenant, a catalogue of one event type and one meter, one account, a few events), in a temporary
folder removed at the end. Each command runs once to warm up, then `--runs` times; the figures
are the best and the median run, and the median's ratio to the floor's.

Two ways of loading the code, each measured:
- environment: as the calling environment has it. Where `PYTHONDONTWRITEBYTECODE=1` is set over
  a venv without `__pycache__` folders (the sandbox this was written in), every module outside
  the standard library is compiled from source on every run: the worst case;
- cached: bytecode written once (the warm-up) and read after, as an installed package runs; it
  is kept under the temporary folder (PYTHONPYCACHEPREFIX), never in the tree.
The script says which the environment is: whether bytecode is written, and whether valueproof
and SQLAlchemy have any.

Goals (median, both ways): `--version` and `--help` <= 1 s, `usage` <= 1.5 s.

    .venv/bin/python benchmarks/cli_startup.py
    .venv/bin/python benchmarks/cli_startup.py --runs 9 --mode cached
    .venv/bin/python benchmarks/cli_startup.py \
        --command "env PYTHONPATH=/another/checkout/src .venv/bin/python -m valueproof.cli.main"
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

TENANT = "startup-bench"
CATALOG = """\
event_types:
  - key: api_call
    properties:
      region: {type: string, required: true}
      tokens: {type: integer, required: true}
meters:
  - key: tokens
    event_type: api_call
    aggregation: sum
    value_property: tokens
    group_by: [region]
    unit: token
"""
EVENTS = [
    ("call-1", "2024-05-01T10:15:00Z", "eu", 5),
    ("call-2", "2024-05-01T11:30:00Z", "us", 7),
    ("call-3", "2024-05-02T09:00:00Z", "eu", 11),
    ("call-4", "2024-05-03T17:45:00Z", "us", 13),
]
USAGE = (
    "usage --meter tokens --from 2024-05-01T00:00:00Z --to 2024-06-01T00:00:00Z "
    f"--group-by region --tenant {TENANT}"
)
# What each command is measured against: its goal in seconds (median run).
FIGURES = (("--version", 1.0), ("--help", 1.0), (USAGE, 1.5))
MODES = ("environment", "cached")


@dataclass(frozen=True, slots=True)
class Timing:
    """The wall times of one command's runs, in seconds."""

    runs: tuple[float, ...]

    @property
    def best(self) -> float:
        return min(self.runs)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


def run(argv: Sequence[str], env: dict[str, str], check: bool = True) -> float:
    """Run one process to its end; its wall time. Output is captured, and shown if it fails."""
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if check and done.returncode != 0:
        sys.exit(f"{shlex.join(argv)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return elapsed


def timed(argv: Sequence[str], env: dict[str, str], runs: int) -> Timing:
    """One warm-up run (fills the bytecode cache, or the page cache), then `runs` measured."""
    run(argv, env)
    return Timing(tuple(run(argv, env) for _ in range(runs)))


def mode_env(base: dict[str, str], mode: str, folder: Path) -> dict[str, str]:
    """The environment of a loading mode: the caller's, or with a bytecode folder of its own."""
    env = dict(base)
    if mode == "cached":
        env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def bytecode_note() -> str:
    """How the environment loads code: whether bytecode is written, and whether any is cached."""
    cached = [name for name in ("valueproof.cli.main", "sqlalchemy") if has_bytecode(name)]
    written = not sys.flags.dont_write_bytecode
    note = f"bytecode is {'' if written else 'not '}written; cached for "
    note += " and ".join(cached) if cached else "neither valueproof nor sqlalchemy"
    if not written and not cached:
        note += ": every run compiles them and the other libraries from source"
    return note


def has_bytecode(module: str) -> bool:
    """Whether `module` (found, not imported) has bytecode where this interpreter looks."""
    spec = importlib.util.find_spec(module)
    return spec is not None and spec.cached is not None and Path(spec.cached).exists()


def build_database(cli: Sequence[str], env: dict[str, str], folder: Path) -> None:
    """A migrated database with one tenant, catalogue, account and a few events, via the CLI."""
    catalog = folder / "catalog.yaml"
    catalog.write_text(CATALOG)
    events = folder / "events.jsonl"
    events.write_text(
        "".join(
            f'{{"id": "{event_id}", "account": "acme", "type": "api_call", "timestamp": '
            f'"{at}", "properties": {{"region": "{region}", "tokens": {tokens}}}}}\n'
            for event_id, at, region, tokens in EVENTS
        )
    )
    for command in (
        f"tenant create {TENANT}",
        f"meters apply {catalog} --tenant {TENANT}",
        f"accounts create acme --name Acme --tenant {TENANT}",
        f"ingest {events} --tenant {TENANT}",
    ):
        run([*cli, *shlex.split(command)], env)


def verdict(seconds: float, goal: float) -> str:
    if seconds <= goal:
        return f"met ({goal / seconds:.1f}x under)"
    return f"MISSED by {seconds - goal:.2f} s ({seconds / goal:.1f}x over)"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs per command (5)")
    parser.add_argument("--mode", choices=(*MODES, "both"), default="both")
    parser.add_argument(
        "--command",
        help="the CLI to time, as a shell-quoted command (default: valueproof beside Python)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    cli = (
        shlex.split(args.command)
        if args.command
        else [str(Path(sys.executable).with_name("valueproof"))]
    )
    modes = MODES if args.mode == "both" else (args.mode,)
    rows = []
    with tempfile.TemporaryDirectory(prefix="valueproof-startup-") as scratch:
        folder = Path(scratch)
        base = dict(os.environ, VALUEPROOF_DATABASE_URL=f"sqlite:///{folder / 'startup.db'}")
        base.pop("VALUEPROOF_TENANT", None)
        print(f"building the scratch database in {folder} ...", flush=True)
        build_database(cli, mode_env(base, "cached", folder), folder)
        for mode in modes:
            env = mode_env(base, mode, folder)
            floor = timed([sys.executable, "-c", "pass"], env, args.runs)
            print(f"{mode}: python -c pass median {floor.median:.3f} s", flush=True)
            for command, goal in FIGURES:
                timing = timed([*cli, *shlex.split(command)], env, args.runs)
                name = command.split(" --")[0] if command == USAGE else command
                print(f"{mode}: valueproof {name} median {timing.median:.3f} s", flush=True)
                rows.append((name, mode, timing, goal, floor))
    print(f"\nenvironment: {bytecode_note()}.")
    print(
        f"{args.runs} runs each after one warm-up; {os.cpu_count()} cores, Python "
        f"{sys.version.split()[0]}; `usage` is `valueproof {USAGE}`.\n"
    )
    print("| Command | Loading | Best | Median | Median / `python -c pass` | Goal | Verdict |")
    print("|---|---|---|---|---|---|---|")
    for name, mode, timing, goal, floor in rows:
        print(
            f"| `valueproof {name}` | {mode} | {timing.best:.3f} s | {timing.median:.3f} s | "
            f"{timing.median / floor.median:.1f}x ({floor.median * 1000:.0f} ms) | "
            f"<= {goal:g} s | {verdict(timing.median, goal)} |"
        )


if __name__ == "__main__":
    main()

"""`make demo` benchmark: from a fresh clone to a usable dashboard, against the 90 s goal.

Three stages, each a fresh process as `make demo` runs them, in a temporary folder removed at
the end:
- install: `git clone` of this checkout's commit and `make install` in the clone (uv, the locked
  dependencies; uv's cache is whatever this machine has). `--skip-install` uses this checkout's
  `.venv` instead and leaves the stage out;
- seed: `valueproof demo seed` (its options after `--`) into a scratch SQLite database, with a
  passphrase so checkpoints are signed, as `make demo` does;
- dashboard: `valueproof serve` on a free loopback port, until the first page after signing in
  (GET /login, POST the form with the seed's key, GET /) answers 200 with the accounts table.

Wall time per stage, and the CPU time of the seed's process (user + system: on a machine shared
with other work the wall time stretches and the CPU time does not). `--profile` runs the seed
under cProfile and prints its 25 costliest functions by cumulative time.

    .venv/bin/python benchmarks/demo.py
    .venv/bin/python benchmarks/demo.py --skip-install -- --accounts 200
"""

from __future__ import annotations

import argparse
import os
import pstats
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path

GOAL_SECONDS = 90.0
ROOT = Path(__file__).resolve().parent.parent
PASSPHRASE = "demo-benchmark-passphrase"
_HIDDEN = r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"'


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    wall: float
    cpu: float | None = None
    note: str = ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-install", action="store_true", help="use this checkout's .venv")
    parser.add_argument("--profile", action="store_true", help="profile the seed (cProfile)")
    parser.add_argument("seed_args", nargs="*", help="options for `demo seed`, after --")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vp-demo-bench-") as scratch:
        folder = Path(scratch)
        stages = []
        if args.skip_install:
            checkout = ROOT
        else:
            checkout = folder / "clone"
            stages.append(_install(checkout))
        env = {
            **os.environ,
            "VALUEPROOF_DATABASE_URL": f"sqlite:///{folder / 'demo.db'}",
            "VALUEPROOF_LEDGER_PASSPHRASE": PASSPHRASE,
        }
        seeded, key = _seed(checkout, env, args.seed_args, folder if args.profile else None)
        stages.append(seeded)
        stages.append(_dashboard(checkout, env, key))
    _report(stages, args.seed_args)


def _install(checkout: Path) -> Stage:
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    started = time.perf_counter()
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(checkout)], check=True)
    subprocess.run(["git", "checkout", "--quiet", head], cwd=checkout, check=True)
    done = subprocess.run(["make", "install"], cwd=checkout, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"make install failed:\n{done.stdout}\n{done.stderr}")
    return Stage("install (clone, make install)", time.perf_counter() - started)


def _seed(
    checkout: Path, env: dict[str, str], options: list[str], profile_to: Path | None
) -> tuple[Stage, str]:
    python = str(checkout / ".venv" / "bin" / "python")
    command = [python, "-m", "valueproof.cli.main", "demo", "seed", *options]
    if profile_to is not None:
        profiled = ["-m", "cProfile", "-o", str(profile_to / "seed.prof")]
        command = [python, *profiled, *command[1:]]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    found = re.search(r"API key for tenant \S+ \(shown once\): (\S+)", done.stdout)
    if found is None:
        sys.exit(f"the seed printed no API key:\n{done.stdout}\n{done.stderr}")
    events = re.search(r"│ \S+\s+│ (\d+)\s+│ (\d+)", done.stdout)
    note = f"{int(events[2]):,} events" if events else ""
    if profile_to is not None:
        stats = pstats.Stats(str(profile_to / "seed.prof"))
        stats.sort_stats("cumulative").print_stats(25)
    return Stage("seed (demo seed)", wall, cpu, note), found[1]


def _dashboard(checkout: Path, env: dict[str, str], key: str) -> Stage:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [str(checkout / ".venv" / "bin" / "valueproof"), "serve", "--port", str(port)]
    started = time.perf_counter()
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        form = _until_up(opener, f"{base}/login", server)
        fields = dict(re.findall(_HIDDEN, form))  # a CSRF token, if the form has one
        body = urllib.parse.urlencode({**fields, "key": key}).encode()
        with opener.open(f"{base}/login", data=body, timeout=120) as answer:
            page = answer.read().decode()
        if "<table" not in page:
            with opener.open(f"{base}/", timeout=120) as answer:
                page = answer.read().decode()
        if "data-account" not in page:
            sys.exit("the dashboard's first page shows no accounts")
        return Stage("dashboard (serve, sign in, first page)", time.perf_counter() - started)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _until_up(
    opener: urllib.request.OpenerDirector, url: str, server: subprocess.Popen[bytes]
) -> str:
    while True:
        if server.poll() is not None:
            error = server.stderr.read().decode() if server.stderr else ""
            sys.exit(f"`valueproof serve` stopped:\n{error}")
        try:
            with opener.open(url, timeout=5) as answer:
                return str(answer.read().decode())
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _report(stages: list[Stage], options: list[str]) -> None:
    total = sum(stage.wall for stage in stages)
    load = os.getloadavg()
    book = " ".join(options) or "default book"
    averages = " / ".join(f"{value:.1f}" for value in load)
    print(f"make demo, {book}; {os.cpu_count()} cores, load average {averages}")
    print(f"{'stage':<42} {'wall':>8} {'cpu':>8}  note")
    for stage in stages:
        cpu = "" if stage.cpu is None else f"{stage.cpu:.1f} s"
        print(f"{stage.name:<42} {stage.wall:>6.1f} s {cpu:>8}  {stage.note}")
    verdict = "met" if total <= GOAL_SECONDS else "missed"
    print(f"{'total':<42} {total:>6.1f} s           goal <= {GOAL_SECONDS:.0f} s: {verdict}")


if __name__ == "__main__":
    main()

"""Scoring a replay of the usage alerts against labels (pure, no SQL): the alert episodes of the
replayed days, the labels read from a file or a request, and precision, recall, false alerts and
detection delay per alert type. `backtest_store` does the replay on stored data.

An episode is an (account, type, reason) signal held on consecutive replay days. A label says an
account's usage truly changed that way from `start` (to `end`, or still). An episode is true when
it overlaps a label of its account and type, from the label's start to its end plus
`GRACE_DAYS`; a label is detected when such an episode exists, `delay_days` after its start.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import orjson

from valueproof.errors import InvalidInput
from valueproof.success.errors import LabelsInvalid

__all__ = [
    "DEFAULT_DAYS",
    "GRACE_DAYS",
    "REPLAYED",
    "Episode",
    "Label",
    "TypeScore",
    "account_months",
    "episodes",
    "label_documents",
    "parse_labels",
    "replay_window",
    "score",
    "score_json",
]

# The alert types a replay raises. commitment_at_risk and credit_runout need each day's contract
# rating, which the replay does not do.
REPLAYED = ("decline", "surge", "quiet")
DEFAULT_DAYS = 90  # the replay when no range is given: the 90 days ending yesterday
GRACE_DAYS = 7  # an alert this long after a label's end still counts as seeing it
_MONTH_DAYS = 365.25 / 12


@dataclass(frozen=True, slots=True)
class Episode:
    """Replay days `start` to `end` (inclusive) on which one (account, type, reason) held."""

    account: str
    type: str
    reason: str
    start: date
    end: date


@dataclass(frozen=True, slots=True)
class Label:
    """An account's usage truly changed as `type` says from `start`, until `end` (None: still)."""

    account: str
    type: str
    start: date
    end: date | None = None

    def until(self, grace: int) -> date:
        """The last day an episode may start and still match this label."""
        return date.max if self.end is None else self.end + timedelta(days=grace)


@dataclass(frozen=True, slots=True)
class TypeScore:
    """One alert type's score: precision and recall are None when there is nothing to divide."""

    type: str
    episodes: int
    labels: int
    true_episodes: int
    detected: int
    false_alerts: int
    false_per_100_account_months: float
    precision: float | None
    recall: float | None
    median_delay_days: float | None


def replay_window(first: str | None, last: str | None, today: date) -> tuple[date, date]:
    """The replay's first and last day from `--from`/`--to` (YYYY-MM-DD): by default the 90
    days ending yesterday; InvalidInput names the bad option."""
    end = today - timedelta(days=1) if last is None else _day("to", last)
    start = end - timedelta(days=DEFAULT_DAYS - 1) if first is None else _day("from", first)
    return start, end


def _day(field: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(field, f"{text!r} is not a date (YYYY-MM-DD)") from None


def episodes(
    held: Mapping[date, Collection[tuple[str, str, str]]], days: Sequence[date]
) -> list[Episode]:
    """The episodes of `held` (replay day -> the (account, type, reason) signals that held),
    over the replay days `days` in order: a signal missing on one replay day ends its episode."""
    found: list[Episode] = []
    open_: dict[tuple[str, str, str], tuple[date, date]] = {}
    for day in days:
        today = set(held.get(day, ()))
        for key in [k for k in open_ if k not in today]:
            start, end = open_.pop(key)
            found.append(Episode(*key, start, end))
        for key in today:
            open_[key] = (open_[key][0] if key in open_ else day, day)
    found.extend(Episode(*key, start, end) for key, (start, end) in open_.items())
    return sorted(found, key=lambda e: (e.type, e.account, e.start, e.reason))


def _overlaps(episode: Episode, label: Label, grace: int) -> bool:
    return (
        episode.account == label.account
        and episode.type == label.type
        and episode.end >= label.start
        and episode.start <= label.until(grace)
    )


def account_months(accounts: int, first: date, last: date) -> float:
    """Accounts times the replayed span in months (of 365.25 / 12 days)."""
    return accounts * ((last - first).days + 1) / _MONTH_DAYS


def score(
    found: Sequence[Episode],
    labels: Sequence[Label],
    first: date,
    last: date,
    accounts: Collection[str],
    grace: int = GRACE_DAYS,
) -> list[TypeScore]:
    """Each replayed type's score over the replay [first, last] of `accounts`. Any label of a
    replayed account makes its episodes true; recall and delay count only the labels that start
    within [first, last], since a replay cannot see a change before its first day."""
    months = account_months(len(accounts), first, last)
    scores = []
    for kind in REPLAYED:
        mine = [e for e in found if e.type == kind and e.account in accounts]
        truth = [t for t in labels if t.type == kind and t.account in accounts]
        true = sum(1 for e in mine if any(_overlaps(e, t, grace) for t in truth))
        scored = [t for t in truth if first <= t.start <= last]
        delays = []
        for label in scored:
            starts = [e.start for e in mine if _overlaps(e, label, grace)]
            if starts:
                delays.append(max((min(starts) - label.start).days, 0))
        false = len(mine) - true
        scores.append(
            TypeScore(
                type=kind,
                episodes=len(mine),
                labels=len(scored),
                true_episodes=true,
                detected=len(delays),
                false_alerts=false,
                false_per_100_account_months=100 * false / months if months else 0.0,
                precision=true / len(mine) if mine else None,
                recall=len(delays) / len(scored) if scored else None,
                median_delay_days=float(statistics.median(delays)) if delays else None,
            )
        )
    return scores


def score_json(scores: Iterable[TypeScore]) -> list[dict[str, Any]]:
    """The scores as the API and `--json` print them (ratios to four places)."""
    return [
        {
            "type": s.type,
            "episodes": s.episodes,
            "labels": s.labels,
            "true_episodes": s.true_episodes,
            "detected": s.detected,
            "false_alerts": s.false_alerts,
            "false_per_100_account_months": round(s.false_per_100_account_months, 2),
            "precision": None if s.precision is None else round(s.precision, 4),
            "recall": None if s.recall is None else round(s.recall, 4),
            "median_delay_days": s.median_delay_days,
        }
        for s in scores
    ]


def _date(value: Any, where: str, problems: list[tuple[str, str]]) -> date | None:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    problems.append((where, f"{value!r} is not a date (YYYY-MM-DD)"))
    return None


def _label(record: Mapping[str, Any], where: str, problems: list[tuple[str, str]]) -> Label | None:
    """One label from its keys, each bad field added to `problems` under `where`."""
    before = len(problems)
    unknown = sorted(set(record) - {"account", "type", "start", "end"})
    if unknown:
        problems.append((where, f"unknown keys {', '.join(unknown)}"))
    account = record.get("account")
    if not isinstance(account, str) or not account:
        problems.append((f"{where}.account", "an account's external id is required"))
    kind = record.get("type")
    if kind not in REPLAYED:
        problems.append((f"{where}.type", f"{kind!r}: one of {', '.join(REPLAYED)}"))
    start = _date(record.get("start"), f"{where}.start", problems)
    raw_end = record.get("end")
    end = None if raw_end in (None, "") else _date(raw_end, f"{where}.end", problems)
    if start is not None and end is not None and end < start:
        problems.append((f"{where}.end", "is before start"))
    if len(problems) > before:
        return None
    return Label(str(account), str(kind), start or date.min, end)


def label_documents(items: Any, field: str = "labels") -> list[Label]:
    """Labels from a request's list of objects; LabelsInvalid lists every bad field at once."""
    if not isinstance(items, list):
        raise LabelsInvalid([(field, 'a list of {account, type, start, end} objects, or "demo"')])
    problems: list[tuple[str, str]] = []
    found = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append((f"{field}[{i}]", "an object with account, type, start and end"))
            continue
        label = _label(item, f"{field}[{i}]", problems)
        if label is not None:
            found.append(label)
    if problems:
        raise LabelsInvalid(problems)
    return found


def parse_labels(text: str) -> list[Label]:
    """Labels from CSV (header account,type,start[,end]) or JSON lines with the same keys;
    LabelsInvalid lists every bad line at once, as `line N.field`."""
    lines = text.splitlines()
    first = next((line.strip() for line in lines if line.strip()), "")
    problems: list[tuple[str, str]] = []
    found: list[Label] = []
    if first.startswith("{"):
        records: Iterable[tuple[int, Any]] = _json_lines(lines, problems)
    else:
        records = _csv_rows(text, problems)
    for number, record in records:
        label = _label(record, f"line {number}", problems)
        if label is not None:
            found.append(label)
    if problems:
        raise LabelsInvalid(sorted(problems, key=_line_number))  # stable: fields stay in order
    return found


def _line_number(problem: tuple[str, str]) -> int:
    return int(problem[0].removeprefix("line ").split(".")[0])


def _json_lines(lines: Sequence[str], problems: list[tuple[str, str]]) -> list[tuple[int, Any]]:
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            problems.append((f"line {number}", f"not JSON: {error}"))
            continue
        if not isinstance(record, dict):
            problems.append((f"line {number}", "not a JSON object"))
            continue
        records.append((number, record))
    return records


def _csv_rows(text: str, problems: list[tuple[str, str]]) -> list[tuple[int, Any]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        return []
    names = [name.strip() for name in header]
    if not {"account", "type", "start"} <= set(names) or not set(names) <= {
        "account",
        "type",
        "start",
        "end",
    }:
        problems.append(("line 1", "the header is account,type,start[,end]"))
        return []
    records = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        number = reader.line_num
        if len(row) != len(names):
            problems.append((f"line {number}", f"{len(row)} fields; the header has {len(names)}"))
            continue
        records.append((number, {n: cell.strip() for n, cell in zip(names, row, strict=True)}))
    return records

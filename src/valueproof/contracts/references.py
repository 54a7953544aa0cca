"""The names a contract refers to that the tenant defines apart: outcome types and oracle metrics.

A name nobody defined bills nothing, silently: a per-outcome price for `qualified_laed` never sees
an accepted claim, a gain-share on an unregistered metric never has a reading. So an undefined
name is refused when the contract is checked, with the closest defined name as a suggestion,
unless the document declares it under `pending` (defined later, on purpose); then validation
warns, and so does every rating while the name is still undefined. Pure: the shell gathers the
defined names (`registry.registered_names`).
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass

from valueproof.contracts.document import ContractDocument, GainShare, PerOutcome

__all__ = [
    "Registered",
    "did_you_mean",
    "pending_warnings",
    "reference_problems",
    "undefined_warnings",
]


@dataclass(frozen=True, slots=True)
class Registered:
    """What the tenant has defined: outcome types by the contract they belong to, metric rules."""

    outcomes: Mapping[str, frozenset[str]]
    metrics: frozenset[str]

    def outcomes_of(self, contract: str) -> frozenset[str]:
        return self.outcomes.get(contract, frozenset())


def did_you_mean(name: str, candidates: Collection[str]) -> str:
    """` (did you mean 'x'?)` naming the closest candidate, or "" when none is close: one a
    single letter away first (difflib's greedy matching can miss those in short names, as
    'axa_' for 'a_a_'), else difflib's closest."""
    ordered = sorted(candidates)
    close = [c for c in ordered if _one_edit(name, c)]
    close = close or difflib.get_close_matches(name, ordered, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _one_edit(name: str, candidate: str) -> bool:
    """Whether one letter changed, added or left out turns `name` into `candidate`."""
    if name == candidate or abs(len(name) - len(candidate)) > 1:
        return False
    short, long = sorted((name, candidate), key=len)
    at = next((i for i, (a, b) in enumerate(zip(short, long, strict=False)) if a != b), len(short))
    if len(short) == len(long):
        return short[at + 1 :] == long[at + 1 :]
    return short[at:] == long[at + 1 :]


def _named(document: ContractDocument) -> Iterator[tuple[str, str, str]]:
    """(field path, kind, name) of each outcome and metric the components name."""
    for i, component in enumerate(document.components):
        if isinstance(component, PerOutcome):
            yield f"components[{i}].outcome", "outcome", component.outcome
        elif isinstance(component, GainShare):
            yield f"components[{i}].metric", "metric", component.metric


def _defined(document: ContractDocument, registered: Registered, kind: str) -> frozenset[str]:
    if kind == "outcome":
        return registered.outcomes_of(document.contract)
    return registered.metrics


def _pending(document: ContractDocument, kind: str) -> list[str]:
    return document.pending.outcomes if kind == "outcome" else document.pending.metrics


def _undefined_reason(
    document: ContractDocument, registered: Registered, kind: str, name: str
) -> str:
    if kind == "metric":
        return f"no oracle metric {name!r} is registered" + did_you_mean(name, registered.metrics)
    elsewhere = sorted(c for c, names in registered.outcomes.items() if name in names)
    reason = f"no outcome {name!r} is defined for contract {document.contract!r}"
    if elsewhere:
        return f"{reason} (it is defined for contract {elsewhere[0]!r})"
    return reason + did_you_mean(name, registered.outcomes_of(document.contract))


def reference_problems(document: ContractDocument, registered: Registered) -> list[tuple[str, str]]:
    """Every outcome or metric the document names that is neither defined nor declared pending,
    and every pending name that no component refers to."""
    problems = []
    for path, kind, name in _named(document):
        if name in _defined(document, registered, kind) or name in _pending(document, kind):
            continue
        later = "outcomes" if kind == "outcome" else "metrics"
        reason = _undefined_reason(document, registered, kind, name)
        problems.append(
            (path, f"{reason}; define it first, or list it under pending.{later} if it comes later")
        )
    named = {(kind, name) for _, kind, name in _named(document)}
    for kind, field in (("outcome", "outcomes"), ("metric", "metrics")):
        for j, name in enumerate(_pending(document, kind)):
            if (kind, name) not in named:
                where = "per-outcome" if kind == "outcome" else "gain-share"
                problems.append((f"pending.{field}[{j}]", f"no {where} component names {name!r}"))
    return problems


def pending_warnings(document: ContractDocument, registered: Registered) -> list[tuple[str, str]]:
    """A warning for each name declared pending that is still undefined."""
    warnings = []
    for kind, field in (("outcome", "outcomes"), ("metric", "metrics")):
        defined = _defined(document, registered, kind)
        for j, name in enumerate(_pending(document, kind)):
            if name not in defined:
                reason = _undefined_reason(document, registered, kind, name)
                warnings.append(
                    (f"pending.{field}[{j}]", f"{reason} yet: its component bills 0 until it is")
                )
    return warnings


def undefined_warnings(document: ContractDocument, registered: Registered) -> list[tuple[str, str]]:
    """What rating warns of: each component whose outcome or metric is undefined, and so bills 0
    because nothing can be counted or read, not because nothing happened."""
    warnings = []
    for path, kind, name in _named(document):
        if name not in _defined(document, registered, kind):
            reason = _undefined_reason(document, registered, kind, name)
            warnings.append((path, f"{reason}: this component bills 0 until it is"))
    return warnings

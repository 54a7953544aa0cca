"""The demo's outcome-priced slice as documents: which accounts pay for results, their outcome
definitions and claims (the seed article's 100 leads among them), the KPI readings a gain-share
bills from, success plans and disputes.

Pure and deterministic (numpy generators keyed by the book's seed); everything is placed in time
relative to the `now` it is given. `outcomes_store.py` writes it through the product's own paths.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Literal

import numpy as np

from valueproof.demo.accounts import DemoAccount
from valueproof.periods import format_rfc3339

__all__ = [
    "HIRE_PRICE",
    "LEAD_PRICE",
    "ClaimSet",
    "DisputeStep",
    "OutcomeAccounts",
    "PlanStep",
    "ReadingPlan",
    "contract_key",
    "dispute_steps",
    "hire_claims",
    "hire_definition",
    "lead_claims",
    "lead_definition",
    "month_start",
    "outcome_accounts",
    "outcome_components",
    "plan_steps",
    "retention_readings",
]

LEAD_PRICE: Final = "40.00"
HIRE_PRICE: Final = "8.00"
LEADS: Final = 100  # the seed article: 100 leads claimed ...
KNOWN_LEADS: Final = 20  # ... 20 already known to the customer ...
OFF_PROFILE_LEADS: Final = 20  # ... and 20 off the agreed profile, so 60 are billable
HIRES: Final = 30
RETENTION_BASELINE: Final = Decimal("92.0")  # net revenue retention, %, when gain-share began
RETENTION_GAIN: Final = Decimal("11.5")  # points gained since: the 10 % tier
GAIN_MONTHS: Final = 12  # the gain-share amendment took force this many months ago


@dataclass(frozen=True, slots=True)
class OutcomeAccounts:
    """The accounts the demo prices on outcomes, one per product line (None if the book has
    no account of that line): per qualified lead, per cleared candidate, a gain-share."""

    leads: DemoAccount | None  # messaging: marketing campaigns that hand over leads
    hires: DemoAccount | None  # background checks: candidates cleared within the SLA
    retention: DemoAccount | None  # logistics: a share of the gain in net revenue retention

    def all(self) -> list[DemoAccount]:
        return [a for a in (self.leads, self.hires, self.retention) if a is not None]


@dataclass(frozen=True, slots=True)
class ClaimSet:
    """Claims to submit, and the values the customer already knew (its known set, in clear)."""

    claims: list[dict[str, Any]]
    known: list[str]


@dataclass(frozen=True, slots=True)
class ReadingPlan:
    """A KPI's readings from each source: (as_of, value) pairs, oldest first."""

    metric: str
    by_source: dict[str, list[tuple[datetime, Decimal]]]
    baseline_as_of: datetime


@dataclass(frozen=True, slots=True)
class PlanStep:
    """One change of a success-plan action: who made it, when, and the document sent."""

    account: str
    at: datetime
    party: Literal["vendor", "customer"]
    document: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DisputeStep:
    """One step of a dispute: opened by the customer, answered or resolved by the vendor."""

    claim: str
    at: datetime
    step: Literal["open", "answer", "resolve"]
    text: str
    resolution: Literal["upheld", "rejected"] | None = None


def outcome_accounts(book: Sequence[DemoAccount]) -> OutcomeAccounts:
    """The first account of each product line in the book."""
    first: dict[str, DemoAccount] = {}
    for account in book:
        first.setdefault(account.attributes["product"], account)
    return OutcomeAccounts(
        first.get("messaging"), first.get("background_checks"), first.get("logistics")
    )


def contract_key(account: DemoAccount) -> str:
    """The key of the account's demo contract (demo/contracts.py names it so)."""
    return f"{account.external_id}-terms"


def month_start(moment: datetime) -> datetime:
    """The first instant of `moment`'s UTC month: where the demo's monthly periods start."""
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _months_before(moment: datetime, months: int) -> datetime:
    """The same instant `months` months earlier (later when negative); `moment` a month start."""
    index = moment.year * 12 + moment.month - 1 - months
    return moment.replace(year=index // 12, month=index % 12 + 1)


def gain_start(term_start: datetime, now: datetime) -> datetime:
    """When the outcome amendment takes force: GAIN_MONTHS before this month, not before the
    term (always the start of a monthly period)."""
    return max(month_start(term_start), _months_before(month_start(now), GAIN_MONTHS))


def outcome_components(
    accounts: OutcomeAccounts, account: DemoAccount, effective: datetime
) -> list[dict[str, Any]]:
    """The price components the outcome amendment adds to the account's contract."""
    if account is accounts.leads:
        return [
            {
                "id": "leads",
                "type": "per_outcome",
                "outcome": "qualified_lead",
                "unit_price": LEAD_PRICE,
                "max_count": 500,
            }
        ]
    if account is accounts.hires:
        return [
            {
                "id": "cleared",
                "type": "per_outcome",
                "outcome": "cleared_candidate",
                "unit_price": HIRE_PRICE,
            }
        ]
    if account is accounts.retention:
        return [
            {
                "id": "retention",
                "type": "gain_share",
                "metric": retention_metric(account),
                "baseline": {"as_of": format_rfc3339(effective)},
                "value_per_unit": "2000.00",
                "improvement": "points",
                "direction": "higher_is_better",
                "mode": "whole",
                "tiers": [{"threshold": 5, "percent": 5}, {"threshold": 10, "percent": 10}],
                "cap": "5000.00",
            }
        ]
    return []


def retention_metric(account: DemoAccount) -> str:
    """The account's own net-retention metric (a metric's key is the tenant's, not the
    account's, so each gain-share reads its own)."""
    return f"{account.external_id}:net_retention"


def retention_sources(account: DemoAccount) -> tuple[str, str]:
    """The two sources both parties agreed on: the customer's BI and the vendor's CRM."""
    return f"{account.external_id}:bi", f"{account.external_id}:crm"


# --- definitions ---------------------------------------------------------------------------------


def lead_definition(account: DemoAccount) -> dict[str, Any]:
    """The seed article's qualified lead: a SaaS or fintech company of 50 to 5,000 people in
    EMEA or North America, scored 0.6 or better, once per email, not one the customer knew."""
    return {
        "contract": contract_key(account),
        "outcome": "qualified_lead",
        "description": f"A sales-qualified lead handed to {account.name}'s sales team.",
        "attributes": {
            "email": {"type": "string", "required": True, "personal": True},
            "company": {"type": "string", "required": True},
            "industry": {"type": "string", "required": True},
            "employees": {"type": "integer", "required": True},
            "region": {"type": "string", "required": True},
            "score": {"type": "number", "required": True},
        },
        "criteria": [
            {"name": "industry", "expression": 'claim.industry in ["saas", "fintech"]'},
            {"name": "size", "expression": "claim.employees >= 50 && claim.employees <= 5000"},
            {"name": "region", "expression": 'claim.region in ["EMEA", "NA"]'},
            {"name": "score", "expression": "claim.score >= 0.6"},
        ],
        "dedupe_key": "lower(trim(claim.email))",
        "known_key": "normalize(claim.email)",
        "verification_window_days": 30,
        "dispute_window_days": 14,
    }


def hire_definition(account: DemoAccount) -> dict[str, Any]:
    """A cleared candidate: a standard or premium check, adjudicated, done within 48 hours."""
    return {
        "contract": contract_key(account),
        "outcome": "cleared_candidate",
        "description": "A candidate cleared to start work within the agreed turnaround.",
        "attributes": {
            "candidate": {"type": "string", "required": True, "personal": True},
            "check_package": {"type": "string", "required": True},
            "country": {"type": "string", "required": True},
            "turnaround_hours": {"type": "number", "required": True},
            "adjudicated": {"type": "boolean", "required": True},
        },
        "criteria": [
            {"name": "package", "expression": 'claim.check_package in ["standard", "premium"]'},
            {"name": "turnaround", "expression": "claim.turnaround_hours <= 48.0"},
            {"name": "adjudicated", "expression": "claim.adjudicated"},
        ],
        "dedupe_key": "normalize(claim.candidate)",
        "verification_window_days": 30,
        "dispute_window_days": 30,
    }


# --- claims --------------------------------------------------------------------------------------

_FIRST: Final = ("ann", "bo", "chen", "dana", "eli", "fatima", "gus", "hana", "ivan", "jo")
_LAST: Final = ("smith", "okafor", "garcia", "tanaka", "muller", "rossi", "khan", "silva")
_COMPANIES: Final = (
    "Globex",
    "Initech",
    "Hooli",
    "Vandelay",
    "Umbrella",
    "Soylent",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
    "Gringotts",
    "Monarch",
    "Oscorp",
    "Aperture",
    "Massive Dynamic",
)


# Each lead off the agreed profile misses one criterion: industry, size, region or score.
_OFF_PROFILE: Final[tuple[dict[str, Any], ...]] = (
    {"industry": "retail"},
    {"employees": 12},
    {"region": "APAC"},
    {"score": 0.41},
)


def _rng(seed: int, role: int) -> np.random.Generator:
    return np.random.default_rng([seed, 3, role])


def _spread(start: datetime, end: datetime, count: int) -> list[str]:
    """`count` instants evenly inside (start, end), as RFC 3339 text to the second."""
    span = (end - start) / (count + 1)
    return [format_rfc3339((start + span * (i + 1)).replace(microsecond=0)) for i in range(count)]


def lead_claims(account: DemoAccount, seed: int, start: datetime, end: datetime) -> ClaimSet:
    """The seed article's example: 100 leads occurring between `start` and `end`; 20 the
    customer already had (its known set holds them, with 30 it had that were never claimed)
    and 20 off the agreed profile, one criterion each, so 60 are billable."""
    rng = _rng(seed, 1)
    kinds = ["good"] * (LEADS - KNOWN_LEADS - OFF_PROFILE_LEADS)
    kinds += ["known"] * KNOWN_LEADS + ["off"] * OFF_PROFILE_LEADS
    order = rng.permutation(len(kinds)).tolist()
    claims, known = [], []
    for n, (at, index) in enumerate(zip(_spread(start, end, LEADS), order, strict=True)):
        kind = kinds[index]
        company = _COMPANIES[int(rng.integers(len(_COMPANIES)))]
        first, last = _FIRST[n % len(_FIRST)], _LAST[int(rng.integers(len(_LAST)))]
        email = f"{first}.{last}{n}@{company.lower().replace(' ', '')}.example"
        attributes: dict[str, Any] = {
            "email": email,
            "company": company,
            "industry": ["saas", "fintech"][int(rng.integers(2))],
            "employees": int(rng.integers(60, 4000)),
            "region": ["EMEA", "NA"][int(rng.integers(2))],
            "score": round(float(rng.uniform(0.62, 0.98)), 2),
        }
        if kind == "known":
            known.append(email.upper() if n % 3 == 0 else email)  # the customer's own spelling
        if kind == "off":
            attributes |= _OFF_PROFILE[n % len(_OFF_PROFILE)]
        claims.append(
            _claim(
                f"{account.external_id}-lead-{n + 1:03d}", account, "qualified_lead", at, attributes
            )
        )
    known += [f"former.customer{n}@example.com" for n in range(30)]
    return ClaimSet(claims, known)


def hire_claims(account: DemoAccount, seed: int, start: datetime, end: datetime) -> ClaimSet:
    """30 cleared candidates: 3 past the 48-hour turnaround, 2 repeating an earlier candidate,
    1 on the basic package; 24 billable."""
    rng = _rng(seed, 2)
    claims: list[dict[str, Any]] = []
    for n, at in enumerate(_spread(start, end, HIRES)):
        candidate = f"CAND-{int(rng.integers(100_000, 999_999))}"
        attributes: dict[str, Any] = {
            "candidate": candidate,
            "check_package": ["standard", "premium"][int(rng.integers(2))],
            "country": ["US", "GB", "DE", "CA"][int(rng.integers(4))],
            "turnaround_hours": round(float(rng.uniform(6, 40)), 1),
            "adjudicated": True,
        }
        if n in (7, 15, 23):
            attributes["turnaround_hours"] = round(float(rng.uniform(60, 120)), 1)
        if n in (11, 27):
            attributes["candidate"] = claims[n - 5]["attributes"]["candidate"].lower()
        if n == 19:
            attributes["check_package"] = "basic"
        claims.append(
            _claim(
                f"{account.external_id}-hire-{n + 1:03d}",
                account,
                "cleared_candidate",
                at,
                attributes,
            )
        )
    return ClaimSet(claims, [])


def _claim(
    claim_id: str, account: DemoAccount, outcome: str, at: str, attributes: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": claim_id,
        "account": account.external_id,
        "contract": contract_key(account),
        "outcome": outcome,
        "occurred_at": at,
        "attributes": attributes,
    }


# --- readings ------------------------------------------------------------------------------------


def retention_readings(
    account: DemoAccount, seed: int, since: datetime, latest: datetime
) -> ReadingPlan:
    """Monthly net-retention readings from both sources from `since` (a month start: the
    baseline, 92.0) to a last one at `latest` (11.5 points up); the CRM reads a few tenths
    apart from the BI."""
    rng = _rng(seed, 3)
    months = []
    at = since
    while at < latest:
        months.append(at)
        at = _months_before(at, -1)
    stamps = [*months, latest]
    steps = max(len(stamps) - 1, 1)
    bi, crm = retention_sources(account)
    by_source: dict[str, list[tuple[datetime, Decimal]]] = {bi: [], crm: []}
    for i, stamp in enumerate(stamps):
        trend = RETENTION_BASELINE + RETENTION_GAIN * Decimal(i) / Decimal(steps)
        noise = Decimal(0) if i in (0, len(stamps) - 1) else Decimal(int(rng.integers(-6, 7))) / 10
        value = (trend + noise).quantize(Decimal("0.1"))
        by_source[bi].append((stamp, value))
        by_source[crm].append((stamp, value + Decimal(int(rng.integers(-3, 4))) / 10))
    return ReadingPlan(retention_metric(account), by_source, since)


def reading_nonce(source: str, as_of: datetime) -> str:
    """A nonce unique per source and instant (the pattern allows no dots or colons)."""
    return hashlib.sha256(f"{source}|{format_rfc3339(as_of)}".encode()).hexdigest()[:24]


def source_seed(seed: int, source: str) -> bytes:
    """The 32-byte Ed25519 seed of a demo source's key: the customer's own, in a real book."""
    return hashlib.sha256(f"valueproof-demo/{seed}/{source}".encode()).digest()


# --- success plans and disputes ------------------------------------------------------------------


def plan_steps(account: DemoAccount, today: datetime) -> list[PlanStep]:
    """The account's success plan as it happened, every change before `today` (a midnight):
    the vendor agrees six actions 75 days ago; the customer does one on time, one late, misses
    one, drops one and is working on one not yet due; the vendor keeps its own."""
    days = timedelta(days=1)
    agreed = today - 75 * days
    actions = [
        (
            "crm_sync",
            "Connect the CRM so every handover carries the agreed fields",
            "customer",
            -60,
        ),
        ("known_list", "Upload the hashed list of contacts already known", "customer", -40),
        ("follow_up", "Follow up every handover within one working day", "customer", -12),
        ("sponsor", "Name an executive sponsor for the quarterly review", "customer", 14),
        ("pilot_region", "Extend the pilot to a second region", "customer", -30),
        ("qbr", "Run the quarterly business review with the numbers on the ledger", "vendor", -20),
        ("tuning", "Tune scoring to the agreed profile", "vendor", 10),
    ]
    due = {key: (today + offset * days).date().isoformat() for key, _, _, offset in actions}
    steps = [
        PlanStep(
            account.external_id,
            agreed + timedelta(minutes=i),
            "vendor",
            {"key": key, "title": title, "owner": owner, "due": due[key]},
        )
        for i, (key, title, owner, _) in enumerate(actions)
    ]
    docs = {step.document["key"]: step.document for step in steps}

    def change(
        key: str, offset: float, party: Literal["vendor", "customer"], **fields: Any
    ) -> None:
        at = today + timedelta(days=offset)
        steps.append(PlanStep(account.external_id, at, party, {**docs[key], **fields}))

    change("crm_sync", -63.5, "customer", status="done", evidence=["CRM connector live"])
    change("known_list", -34.3, "customer", status="done", evidence=["uploaded 50 hashes"])
    change("follow_up", -25.0, "customer", status="in_progress")
    change("pilot_region", -28.0, "customer", status="dropped")
    change("sponsor", -5.0, "customer", status="in_progress")
    change("qbr", -21.2, "vendor", status="done", evidence=["QBR deck, ledger checkpoint cited"])
    change("tuning", -3.0, "vendor", status="in_progress")
    return sorted(steps, key=lambda step: step.at)


def dispute_steps(
    leads: ClaimSet, hires: ClaimSet, verdicts: dict[str, bool], at: datetime
) -> list[DisputeStep]:
    """Disputes of accepted claims from `at` on: an open one, one the vendor answered, one it
    rejected and one it upheld (voided)."""
    accepted_leads = [c["id"] for c in leads.claims if verdicts.get(c["id"])]
    accepted_hires = [c["id"] for c in hires.claims if verdicts.get(c["id"])]
    minute = timedelta(minutes=1)
    steps: list[DisputeStep] = []
    if accepted_leads:
        claim = accepted_leads[-1]
        steps += [
            DisputeStep(
                claim, at, "open", "Our records show 30 employees, not the number claimed."
            ),
            DisputeStep(
                claim,
                at + minute,
                "answer",
                "The company's filing of last quarter lists 140 staff; attached.",
            ),
        ]
    if len(accepted_hires) >= 3:
        first, second, third = accepted_hires[-3:]
        steps += [
            DisputeStep(first, at + 2 * minute, "open", "This candidate withdrew before starting."),
            DisputeStep(second, at + 3 * minute, "open", "The report reached us after 50 hours."),
            DisputeStep(
                second,
                at + 4 * minute,
                "resolve",
                "Delivered 31 hours after submission; the portal log shows it.",
                "rejected",
            ),
            DisputeStep(third, at + 5 * minute, "open", "The check was run twice for one person."),
            DisputeStep(
                third,
                at + 6 * minute,
                "resolve",
                "Confirmed: one candidate entered twice by our intake.",
                "upheld",
            ),
        ]
    return steps

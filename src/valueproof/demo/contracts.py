"""The demo book's contracts: each account's terms, priced on its product line's meters.

Every line gets a different mix of price components, so the demo shows tiers, per-mode prices
chosen by a CEL filter, commitments, prepaid credits and discounts on real-looking usage.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from valueproof.demo.accounts import DemoAccount

PLATFORM_FEE = {"smb": "99.00", "mid": "499.00", "enterprise": "1999.00"}
MONTHLY_MINIMUM = {"smb": "0.00", "mid": "2000.00", "enterprise": "15000.00"}


def demo_contract(account: DemoAccount, start: datetime) -> dict[str, Any]:
    """The contract of `account`, in force from the month `start` falls in, with no end."""
    size = account.attributes["size"]
    product = account.attributes["product"]
    document: dict[str, Any] = {
        "contract": f"{account.external_id}-terms",
        "account": account.external_id,
        "description": f"{account.name}: {product.replace('_', ' ')}, {size}",
        "currency": "USD",
        "term": {"start": start.strftime("%Y-%m-01")},
        "components": [{"id": "platform", "type": "flat", "amount": PLATFORM_FEE[size]}],
    }
    document["components"] += _USAGE[product](size)
    if size != "smb":
        minimum = {"id": "minimum", "type": "commitment", "minimum": MONTHLY_MINIMUM[size]}
        document["components"].append(minimum)
    if size == "enterprise":
        document["discounts"] = [{"id": "enterprise", "percent": "8"}]
    return document


def _background_checks(size: str) -> list[dict[str, Any]]:
    tiers = [
        {"up_to": 100, "unit_price": "25.00"},
        {"up_to": 1000, "unit_price": "18.00"},
        {"up_to": None, "unit_price": "12.00"},
    ]
    return [{"id": "checks", "type": "graduated", "meter": "background_checks", "tiers": tiers}]


def _messaging(size: str) -> list[dict[str, Any]]:
    tiers = [
        {"up_to": 100000, "unit_price": "0.0079"},
        {"up_to": 1000000, "unit_price": "0.0065"},
        {"up_to": None, "unit_price": "0.0049"},
    ]
    whatsapp = 'group.channel == "whatsapp"'
    return [
        {
            "id": "messages",
            "type": "volume",
            "meter": "messages",
            "tiers": tiers,
            "filter": f"!({whatsapp})",
        },
        {
            "id": "whatsapp",
            "type": "per_unit",
            "meter": "messages",
            "unit_price": "0.0140",
            "filter": whatsapp,
        },
    ]


def _logistics(size: str) -> list[dict[str, Any]]:
    components: list[dict[str, Any]] = [
        {
            "id": "truckload",
            "type": "per_unit",
            "meter": "shipments",
            "unit_price": "450.00",
            "filter": 'group.mode == "TL"',
        },
        {
            "id": "less_than_truckload",
            "type": "per_unit",
            "meter": "shipments",
            "unit_price": "120.00",
            "filter": 'group.mode == "LTL"',
        },
    ]
    if size == "mid":
        components.append(
            {
                "id": "prepaid",
                "type": "prepaid_credits",
                "recurring": {"amount": "1500.00", "rollover_cap": "3000.00"},
            }
        )
    return components


_USAGE = {
    "background_checks": _background_checks,
    "messaging": _messaging,
    "logistics": _logistics,
}

"""The message a receiver gets: Standard Webhooks' body shape, and signatures that its
`standardwebhooks` verifies (and that fail for any other body, id or secret)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from valueproof.webhooks.delivery import signed_headers
from valueproof.webhooks.outbox import EVENT_TYPES, message_id, payload, subscribes

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
_secret = st.binary(min_size=24, max_size=24).map(
    lambda raw: "whsec_" + base64.b64encode(raw).decode()
)


def test_the_body_is_type_timestamp_and_data() -> None:
    body = orjson.loads(payload("invoice.paid", {"leaf_index": 7, "total": Decimal("12.30")}, 0))
    assert body == {
        "type": "invoice.paid",
        "timestamp": "1970-01-01T00:00:00Z",
        "data": {"leaf_index": 7, "total": "12.30"},
    }


def test_a_float_free_payload_refuses_what_json_cannot_say() -> None:
    with pytest.raises(TypeError):
        payload("invoice.paid", {"when": object()}, 0)


def test_message_ids_are_unique_and_sort_by_time() -> None:
    ids = [message_id(10**15 + n) for n in range(100)]
    assert len(set(ids)) == 100
    assert ids == sorted(ids)
    assert all(i.startswith("msg_") and len(i) <= 40 for i in ids)


@given(st.sampled_from(EVENT_TYPES), st.sets(st.sampled_from(EVENT_TYPES)))
def test_an_empty_filter_takes_every_type(event_type: str, chosen: set[str]) -> None:
    assert subscribes("", event_type)
    assert subscribes(" ".join(sorted(chosen)), event_type) == (not chosen or event_type in chosen)


@given(_secret, st.sampled_from(EVENT_TYPES), st.dictionaries(st.text(), _json, max_size=4))
def test_a_signature_verifies_with_standardwebhooks(
    secret: str, event_type: str, data: dict[str, Any]
) -> None:
    body = payload(event_type, data, 1_700_000_000_000_000)
    now = datetime.now(UTC)
    headers = signed_headers(Webhook(secret), "msg_1", body, now)
    assert Webhook(secret).verify(body, headers) == orjson.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, {**headers, "webhook-id": "msg_2"})
    other = "whsec_" + base64.b64encode(b"x" * 24).decode()
    if other != secret:
        with pytest.raises(WebhookVerificationError):
            Webhook(other).verify(body, headers)

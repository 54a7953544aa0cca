"""What the webhooks domain refuses: endpoint input naming its field, a missing endpoint or
message, and secrets that cannot be opened."""

from __future__ import annotations

from valueproof.errors import Conflict, InvalidInput, NotFound

__all__ = ["EndpointInvalid", "EndpointNotFound", "MessageNotFound", "WebhookSecretUnavailable"]


class EndpointInvalid(InvalidInput):
    """An endpoint's URL, event types or description that cannot be used; `field` names it."""

    title = "Invalid webhook endpoint"


class EndpointNotFound(NotFound):
    """No endpoint with that id for this tenant."""


class MessageNotFound(NotFound):
    """No message with that id for this tenant (none is kept when no endpoint subscribed)."""


class WebhookSecretUnavailable(Conflict):
    """An endpoint secret cannot be sealed or opened: no passphrase, or a wrong one."""

    title = "Webhook secret unavailable"

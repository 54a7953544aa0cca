"""Webhooks (placeholder until h/webhooks merges)."""

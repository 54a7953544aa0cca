"""Webhooks (Standard Webhooks): an outbox written in the caller's transaction, endpoints with
sealed secrets, signed delivery with retries, the delivery log and replay."""

"""The HTTP API (FastAPI): authentication, problem responses, one router per domain."""

from valueproof.api.app import create_app

__all__ = ["create_app"]

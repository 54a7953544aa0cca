"""The HTTP API (FastAPI): authentication, problem responses, one router per domain.

The application factory lives in `valueproof.api.app`; importing this package builds nothing.
"""

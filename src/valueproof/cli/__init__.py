"""The `valueproof` command line: the operator's tool, acting on the database directly.

The Typer application lives in `valueproof.cli.main` (not imported here, so that
`python -m valueproof.cli.main` runs without importing the module twice).
"""

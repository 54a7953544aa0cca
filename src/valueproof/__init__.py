"""valueproof: metering, verifiable ledger, executable contracts and customer-success analytics."""

__version__ = "0.1.0"

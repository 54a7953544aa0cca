"""Billing: period close into invoices, their lifecycle and numbers, credit notes and taxes."""

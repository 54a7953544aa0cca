"""Outcomes and oracles: verified results and signed KPI readings that contracts price."""

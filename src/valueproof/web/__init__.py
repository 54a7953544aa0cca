"""Server-rendered pages: the dashboard (and, later, the customer portal)."""

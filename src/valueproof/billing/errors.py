"""What billing refuses: each names the invoice, the period or the field at fault."""

from __future__ import annotations

from valueproof.errors import AlreadyExists, Conflict, InvalidInput, NotFound


class InvoiceNotFound(NotFound):
    """No invoice of the tenant has this number or id."""

    title = "Invoice not found"


class CreditNoteNotFound(NotFound):
    """No credit note of the tenant has this number."""

    title = "Credit note not found"


class PeriodClosed(AlreadyExists):
    """The period already has its invoice: closing it again would bill it twice."""

    title = "Period already closed"


class InvoiceStateConflict(Conflict):
    """The invoice's state does not allow this step (finalizing a voided one, paying a draft)."""

    title = "Invoice state conflict"


class ClosedPeriodLocked(Conflict):
    """A change that would alter a finalized invoice; it names the invoice."""

    title = "Period locked by a finalized invoice"


class CreditNoteInvalid(InvalidInput):
    """A credit note that cannot be issued: larger than its line, against a draft, and so on."""

    title = "Invalid credit note"


class BillingSettingsInvalid(InvalidInput):
    """A billing setting or billing profile value that cannot be used."""

    title = "Invalid billing settings"


class BundleInvalid(InvalidInput):
    """A proof bundle that cannot be read at all: not the bundle format, or a field missing."""

    title = "Invalid proof bundle"

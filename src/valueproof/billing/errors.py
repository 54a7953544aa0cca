"""What billing refuses: each names the invoice, the period or the field at fault."""

from __future__ import annotations

from valueproof.errors import AlreadyExists, Conflict, DocumentInvalid, InvalidInput, NotFound


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


class CreditNoteInvalid(DocumentInvalid):
    """A credit note that cannot be issued: larger than its line, against a draft, and so on."""

    title = "Invalid credit note"


class BillingRequestInvalid(DocumentInvalid):
    """Billing settings, a billing profile, a void or a credit note request that cannot be
    used; `problems` lists every (field, reason)."""

    title = "Invalid billing request"


class VendorInvalid(InvalidInput):
    """Vendor details a document cannot be printed with (no name, a logo that is not embedded)."""

    title = "Invalid vendor details"


class ExportInvalid(InvalidInput):
    """An export that cannot be made as asked: a bad range, or a format that cannot hold it."""

    title = "Invalid export"


class StripeNotConfigured(InvalidInput):
    """The Stripe hand-off needs a setting that is not set; the field is its variable."""

    title = "Stripe not configured"


class StripeTaxDoubled(InvalidInput):
    """An invoice with its own taxes handed to Stripe while Stripe Tax computes them."""

    title = "Taxed twice"


class StripeSignatureInvalid(InvalidInput):
    """A Stripe webhook whose `Stripe-Signature` does not verify: nothing is changed."""

    status = 400
    title = "Invalid Stripe signature"


class StripeRefused(Conflict):
    """Stripe refused a step of an invoice's push, or could not be reached; the push resumes
    from that step when run again."""

    title = "Stripe refused the hand-off"


class BundleInvalid(InvalidInput):
    """A proof bundle that cannot be read at all: not the bundle format, or a field missing."""

    title = "Invalid proof bundle"

"""The dashboard's pages: sign-in with an API key, accounts with their recent usage and the open
alerts, one account (with its contract, health, success plan and money), and the invoices with
their admin actions (`web.billing_views`).

Signing in with a key opens a server-side session (`web.sessions`): the cookie holds its token,
not the key, and only these pages accept it. Every form carries a CSRF token and every unsafe
request must come from this site. Usage comes from the same `query_usage` the HTTP API answers
from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from sqlalchemy import Connection, Engine

from valueproof.billing.bundles import finalized_bundle
from valueproof.billing.invoice_store import STATES, StoredInvoice, find_invoice
from valueproof.billing.printing import file_name
from valueproof.billing.printing import invoice_page as invoice_document_page
from valueproof.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
    ValueproofError,
)
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.metering.aggregations import CompiledMeter
from valueproof.metering.definitions import Aggregation
from valueproof.metering.registry import load_catalog
from valueproof.metering.usage import ACCOUNT, UsageQuery, UsageRow, query_usage
from valueproof.periods import (
    Granularity,
    bucket_starts,
    format_rfc3339,
    from_micros,
    parse_instant_field,
)
from valueproof.store import read
from valueproof.tenancy import writes as tenancy_writes
from valueproof.tenancy.accounts import Account, get_account, list_accounts
from valueproof.tenancy.clock import now_us
from valueproof.tenancy.keys import Principal, Scope
from valueproof.tenancy.session_store import session_principal
from valueproof.web import billing_views
from valueproof.web.account_views import contract_view, health_view, plan_view
from valueproof.web.charts import daily_bars, quantity_text
from valueproof.web.sessions import (
    CSRF_FIELD,
    SESSION_COOKIE,
    cross_site,
    drop_session,
    engine_of,
    keep_login_csrf,
    keep_session,
    login_csrf,
    login_csrf_error,
    session_csrf,
    session_csrf_error,
    settings_of,
)
from valueproof.web.success_views import baselines, open_alerts

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
LIST_DAYS = 30
DETAIL_DAYS = 90
_MAX_LOGIN_BODY = 4096
_FIRST_ATTRIBUTES = ("industry", "size", "region", "product")
# Pages hold a tenant's data: never cached, never framed, nothing loaded from elsewhere.
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}

# Loaded through the package, not a path, so the templates travel inside the wheel.
templates = Environment(
    loader=PackageLoader("valueproof.web", "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
)
templates.filters["quantity"] = quantity_text
templates.filters["moment"] = lambda moment: f"{moment.day} {moment:%b %Y %H:%M}"


@dataclass(frozen=True, slots=True)
class Window:
    """The days a page reports: day buckets over [start, end), the first and last maybe partial."""

    start: datetime
    end: datetime
    days: list[datetime]


@dataclass(frozen=True, slots=True)
class MeterUsage:
    """One meter's usage by one account over a window: a headline number and a daily chart."""

    key: str
    name: str
    unit: str
    summary_label: str
    summary: Decimal
    chart: Markup


@dataclass(frozen=True, slots=True)
class GroupUsage:
    """One group (meter dimension values) of an account's usage of a meter."""

    labels: list[str]
    summary: Decimal
    active_days: int


@dataclass(frozen=True, slots=True)
class MeterDetail:
    usage: MeterUsage
    dimensions: list[str]
    groups: list[GroupUsage]


@dataclass(frozen=True, slots=True)
class AccountUsage:
    account: Account
    meters: list[MeterUsage]


# --- sign-in ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live session: the principal of its key, and the CSRF token its forms carry."""

    who: Principal
    csrf: str


@router.get("/login")
def login_form(request: Request) -> HTMLResponse:
    token = login_csrf(request)
    response = _page("login.html", error=None, csrf=token)
    keep_login_csrf(response, request, token)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    refused = cross_site(request)
    if refused is not None:
        return _refused(refused)
    body = await _small_body(request)
    refused = login_csrf_error(request, _form_field(body, CSRF_FIELD))
    if refused is not None:
        return _refused(refused)
    csrf = login_csrf(request)
    try:
        token, seconds = await run_in_threadpool(
            _sign_in, request, _form_field(body, "key"), request.cookies.get(SESSION_COOKIE)
        )
    except Unauthenticated as error:
        return _page(
            "login.html", 401, csrf=csrf, error=f"That key was not accepted: {error.detail}."
        )
    except Forbidden:
        return _page(
            "login.html", 403, csrf=csrf, error="That key lacks the read scope the dashboard needs."
        )
    response = RedirectResponse("/", status_code=303)
    keep_session(response, request, token, seconds)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    refused = cross_site(request)
    if refused is not None:
        return _refused(refused)
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        refused = session_csrf_error(session, _form_field(await _small_body(request), CSRF_FIELD))
        if refused is not None:
            return _refused(refused)
        await run_in_threadpool(tenancy_writes.sign_out, engine_of(request), session)
    return _to_login(request, clear=True)


def _sign_in(request: Request, key: str, previous: str | None) -> tuple[str, int]:
    """Open a session for a key that may read (ending the browser's previous one): its token
    and lifetime in seconds. Unauthenticated or Forbidden for any other key."""
    seconds = settings_of(request).web_session_hours * 3600
    opened = tenancy_writes.sign_in(engine_of(request), key, previous, seconds * 1_000_000)
    return opened.token, seconds


def _signed_in(request: Request) -> SignedIn | None:
    """The live session the request's cookie names, if any, whose key may still read."""
    session = request.cookies.get(SESSION_COOKIE)
    if not session:
        return None
    try:
        with read(engine_of(request)) as connection:
            who = session_principal(connection, session, now_us())
        who.require(Scope.READ)
    except (Unauthenticated, Forbidden):
        return None
    return SignedIn(who, session_csrf(session))


def _to_login(request: Request, clear: bool) -> Response:
    response = RedirectResponse("/login", status_code=303)
    if clear:
        drop_session(response, request)
    return response


def _refused(reason: str) -> HTMLResponse:
    return _page("message.html", 403, heading="Refused", message=reason)


async def _small_body(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _MAX_LOGIN_BODY:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _form_field(body: bytes, name: str) -> str:
    """A field of an urlencoded form (Starlette's form parser would need python-multipart)."""
    return _form_fields(body).get(name, "").strip()


def _form_fields(body: bytes) -> dict[str, str]:
    """An urlencoded form's fields, the first value of each; none if it has more fields than
    any of these pages' forms."""
    try:
        fields = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=10)
    except ValueError:
        return {}
    return {name: values[0] for name, values in fields.items()}


# --- pages -----------------------------------------------------------------------------------


@router.get("/")
def dashboard(
    request: Request,
    after: str | None = Query(None, description="Last external id of the previous page."),
    as_of: str | None = Query(None, description="RFC 3339 end of the window; default: now."),
    account: str | None = Query(None, description="Show this account's page instead."),
) -> Response:
    signed = _signed_in(request)
    if signed is None:
        return _to_login(request, clear=SESSION_COOKIE in request.cookies)
    who, csrf = signed.who, signed.csrf
    if account is not None:
        return RedirectResponse(account_url(account, as_of), status_code=303)
    try:
        end = _window_end(as_of)
    except InvalidInput as error:
        return _page(
            "message.html", 422, who=who, csrf=csrf, heading="Invalid date", message=error.detail
        )
    window = _window(end, LIST_DAYS)
    past = None if as_of is None else end  # the alerts live at that instant, not the open ones
    now = datetime.now(UTC)
    with read(engine_of(request)) as connection:
        page = list_accounts(connection, who.tenant_id, PAGE_SIZE + 1, after)
        rows = accounts_usage(connection, who.tenant_id, page[:PAGE_SIZE], window, now)
        alerts = open_alerts(connection, who.tenant_id, as_of=past)
        bands = baselines(connection, who.tenant_id, page[:PAGE_SIZE], small=True)
    next_url = None
    if len(page) > PAGE_SIZE:
        next_url = _url("/", after=page[PAGE_SIZE - 1].external_id, as_of=as_of)
    return _page(
        "accounts.html",
        who=who,
        csrf=csrf,
        rows=rows,
        alerts=alerts,
        bands=bands,
        window=window,
        days=LIST_DAYS,
        as_of=as_of,
        next_url=next_url,
    )


@router.get("/accounts/{external_id}")
def account_page(
    request: Request,
    external_id: str,
    as_of: str | None = Query(None, description="RFC 3339 end of the window; default: now."),
) -> Response:
    signed = _signed_in(request)
    if signed is None:
        return _to_login(request, clear=SESSION_COOKIE in request.cookies)
    who, csrf = signed.who, signed.csrf
    try:
        end = _window_end(as_of)
    except InvalidInput as error:
        return _page(
            "message.html", 422, who=who, csrf=csrf, heading="Invalid date", message=error.detail
        )
    window = _window(end, DETAIL_DAYS)
    past = None if as_of is None else end
    now = datetime.now(UTC)
    with read(engine_of(request)) as connection:
        try:
            account = get_account(connection, who.tenant_id, external_id)
        except NotFound as error:
            return _page(
                "message.html", 404, who=who, csrf=csrf, heading="Not found", message=error.detail
            )
        meters = account_detail(connection, who.tenant_id, account, window, now)
        alerts = open_alerts(connection, who.tenant_id, account=account.external_id, as_of=past)
        bands = baselines(connection, who.tenant_id, [account], small=False)
        contract = contract_view(connection, who.tenant_id, account, end)
        health = health_view(connection, who.tenant_id, account)
        success_plan = plan_view(connection, who.tenant_id, account, end)
        money = billing_views.money_view(connection, who.tenant_id, account, past or now)
    return _page(
        "account.html",
        who=who,
        csrf=csrf,
        account=account,
        meters=meters,
        alerts=alerts,
        bands=bands,
        contract=contract,
        health=health,
        success_plan=success_plan,
        money=money,
        window=window,
        days=DETAIL_DAYS,
        as_of=as_of,
    )


# --- invoices --------------------------------------------------------------------------------

InvoiceAction = Callable[[Engine, int, str, Mapping[str, str], CheckpointPolicy], str]


@router.get("/invoices")
def invoices_page(
    request: Request,
    state: str | None = Query(None, description="Only invoices in this state."),
    account: str | None = Query(None, description="Only this account's invoices."),
) -> Response:
    signed = _signed_in(request)
    if signed is None:
        return _to_login(request, clear=SESSION_COOKIE in request.cookies)
    try:
        with read(engine_of(request)) as connection:
            listed = billing_views.invoice_list(
                connection, signed.who.tenant_id, state or None, account or None
            )
    except InvalidInput as error:
        return _message(signed, error)
    return _page("invoices.html", who=signed.who, csrf=signed.csrf, listed=listed, states=STATES)


@router.get("/invoices/{key:path}/pdf", response_model=None)
def invoice_pdf_page(request: Request, key: str) -> Response:
    """The invoice's PDF for a signed-in user (the API's needs a bearer key)."""

    def printed(connection: Connection, tenant_id: int, invoice: StoredInvoice) -> bytes:
        content: bytes = invoice_document_page(connection, tenant_id, invoice, as_pdf=True)
        return content

    return _invoice_download(request, key, printed, "application/pdf", ".pdf")


@router.get("/invoices/{key:path}/bundle", response_model=None)
def invoice_bundle_page(request: Request, key: str) -> Response:
    """The invoice's proof bundle for a signed-in user (the API's needs a bearer key)."""

    def bundled(connection: Connection, tenant_id: int, invoice: StoredInvoice) -> bytes:
        return orjson.dumps(finalized_bundle(connection, tenant_id, invoice))

    return _invoice_download(request, key, bundled, "application/json", ".bundle.json")


def _invoice_download(
    request: Request,
    key: str,
    make: Callable[[Connection, int, StoredInvoice], bytes],
    media_type: str,
    suffix: str,
) -> Response:
    signed = _signed_in(request)
    if signed is None:
        return _to_login(request, clear=SESSION_COOKIE in request.cookies)
    try:
        with read(engine_of(request)) as connection:
            invoice = find_invoice(connection, signed.who.tenant_id, key)
            content = make(connection, signed.who.tenant_id, invoice)
    except (NotFound, Conflict) as error:
        return _message(signed, error)
    name = file_name(invoice, suffix)
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(content, media_type=media_type, headers=disposition)


@router.get("/invoices/{key:path}")
def invoice_page(
    request: Request,
    key: str,
    done: str | None = Query(None, description="What an action just did."),
) -> Response:
    signed = _signed_in(request)
    if signed is None:
        return _to_login(request, clear=SESSION_COOKIE in request.cookies)
    return _invoice_page(request, signed, key, notice=billing_views.NOTICES.get(done or ""))


@router.post("/invoices/{key:path}/void")
async def void_invoice(request: Request, key: str) -> Response:
    return await _invoice_action(request, key, billing_views.void)


@router.post("/invoices/{key:path}/credit")
async def credit_invoice(request: Request, key: str) -> Response:
    return await _invoice_action(request, key, billing_views.credit)


@router.post("/invoices/{key:path}/finalize")
async def finalize_invoice(request: Request, key: str) -> Response:
    return await _invoice_action(request, key, billing_views.finalize)


async def _invoice_action(request: Request, key: str, action: InvoiceAction) -> Response:
    """An admin's form on an invoice's page: from this site, with the session's CSRF token;
    on success to the page the action names, else the invoice's page again with the reasons."""
    refused = cross_site(request)
    if refused is not None:
        return _refused(refused)
    signed = await run_in_threadpool(_signed_in, request)
    if signed is None:
        return _to_login(request, clear=SESSION_COOKIE in request.cookies)
    form = _form_fields(await _small_body(request))
    refused = session_csrf_error(request.cookies[SESSION_COOKIE], form.get(CSRF_FIELD, ""))
    if refused is not None:
        return _refused(refused)
    try:
        signed.who.require(Scope.ADMIN)
    except Forbidden as error:
        return _message(signed, error)
    policy = CheckpointPolicy.from_settings(request.app.state.keyring, settings_of(request))
    try:
        target = await run_in_threadpool(
            action, engine_of(request), signed.who.tenant_id, key, form, policy
        )
    except ValueproofError as error:
        return await run_in_threadpool(_invoice_page, request, signed, key, error=error, form=form)
    return RedirectResponse(target, status_code=303)


def _invoice_page(
    request: Request,
    signed: SignedIn,
    key: str,
    *,
    notice: str | None = None,
    error: ValueproofError | None = None,
    form: Mapping[str, str] | None = None,
) -> Response:
    """An invoice's page; after a refused action, with its reasons and the form as sent."""
    try:
        with read(engine_of(request)) as connection:
            view = billing_views.invoice_view(connection, signed.who.tenant_id, key)
    except NotFound as missing:
        return _message(signed, missing)
    problems = [("", error.detail)] if error is not None else []
    if isinstance(error, InvalidInput):
        problems = billing_views.problems_of(error)
    return _page(
        "invoice.html",
        200 if error is None else error.status,
        who=signed.who,
        csrf=signed.csrf,
        view=view,
        notice=notice,
        problems=problems,
        failed=None if error is None else error.title,
        form=form or {},
        admin=Scope.ADMIN in signed.who.scopes,
    )


def _message(signed: SignedIn, error: ValueproofError) -> HTMLResponse:
    return _page(
        "message.html",
        error.status,
        who=signed.who,
        csrf=signed.csrf,
        heading=error.title,
        message=error.detail,
    )


# --- usage for the pages ---------------------------------------------------------------------


def accounts_usage(
    connection: Connection,
    tenant_id: int,
    accounts: Sequence[Account],
    window: Window,
    now: datetime,
) -> list[AccountUsage]:
    """Each account's daily usage of every meter it used in the window.

    One query per meter, grouped by account, however many accounts the page shows.
    """
    wanted = {account.external_id: account for account in accounts}
    used: dict[str, list[MeterUsage]] = {external_id: [] for external_id in wanted}
    for compiled in load_catalog(connection, tenant_id).meters_by_key.values():
        query = _query(compiled, window, group_by=(ACCOUNT,))
        rows_of: dict[str, list[UsageRow]] = {}
        for row in query_usage(connection, tenant_id, query, now).rows:
            rows_of.setdefault(row.group[ACCOUNT], []).append(row)
        for external_id, rows in rows_of.items():
            if external_id in wanted:
                title = f"{wanted[external_id].name}: {_meter_name(compiled)}, daily"
                used[external_id].append(_meter_usage(compiled, rows, window, title, small=True))
    return [AccountUsage(account, used[account.external_id]) for account in accounts]


def account_detail(
    connection: Connection, tenant_id: int, account: Account, window: Window, now: datetime
) -> list[MeterDetail]:
    """An account's usage of each meter it used in the window, with its group breakdown."""
    details = []
    for compiled in load_catalog(connection, tenant_id).meters_by_key.values():
        query = _query(compiled, window, account=account.external_id)
        rows = query_usage(connection, tenant_id, query, now).rows
        if not rows:
            continue
        title = f"{account.name}: {_meter_name(compiled)}, daily"
        usage = _meter_usage(compiled, rows, window, title, small=False)
        dimensions = list(compiled.meter.group_by)
        groups = []
        if dimensions:
            grouped = _query(compiled, window, account=account.external_id, group_by=dimensions)
            groups = _groups(compiled, query_usage(connection, tenant_id, grouped, now).rows)
        details.append(MeterDetail(usage, dimensions, groups))
    return details


def _query(
    compiled: CompiledMeter,
    window: Window,
    account: str | None = None,
    group_by: Iterable[str] = (),
) -> UsageQuery:
    return UsageQuery(
        meter=compiled.meter.key,
        start=window.start,
        end=window.end,
        granularity=Granularity.DAY,
        account=account,
        group_by=tuple(group_by),
    )


def _meter_usage(
    compiled: CompiledMeter, rows: list[UsageRow], window: Window, title: str, small: bool
) -> MeterUsage:
    """Rows of one account (one group each day) as a headline number and a daily chart."""
    label, summary = summarize(compiled.meter.aggregation, [row.value for row in rows])
    series = daily_series(rows, window)
    chart = daily_bars(
        series,
        width=150 if small else 720,
        height=28 if small else 160,
        title=title,
        labels=[day.date().isoformat() for day in window.days],
        scale_label=not small,
    )
    return MeterUsage(
        key=compiled.meter.key,
        name=_meter_name(compiled),
        unit=compiled.meter.unit,
        summary_label=label,
        summary=summary,
        chart=Markup(chart),  # daily_bars escapes every text it writes
    )


def _groups(compiled: CompiledMeter, rows: list[UsageRow]) -> list[GroupUsage]:
    """The window's usage per group of the meter's dimensions, largest first."""
    by_group: dict[tuple[str, ...], list[Decimal]] = {}
    for row in rows:
        labels = tuple("—" if value is None else str(value) for value in row.group.values())
        by_group.setdefault(labels, []).append(row.value)
    groups = [
        GroupUsage(list(labels), summarize(compiled.meter.aggregation, values)[1], len(values))
        for labels, values in by_group.items()
    ]
    return sorted(groups, key=lambda group: (-group.summary, group.labels))


def daily_series(rows: Iterable[UsageRow], window: Window) -> list[Decimal]:
    """One value per day of the window; days without usage are zero."""
    index = {day: position for position, day in enumerate(window.days)}
    series = [Decimal(0)] * len(window.days)
    for row in rows:
        series[index[row.start]] = row.value
    return series


def summarize(aggregation: Aggregation, daily: Sequence[Decimal]) -> tuple[str, Decimal]:
    """The window's headline from the daily values (in order) on the days with usage.

    Additive aggregations total; the others take what their daily values allow exactly: a
    window's distinct count is not the sum of its days', so it shows the busiest day.
    """
    if aggregation is Aggregation.MAX:
        return "peak", max(daily)
    if aggregation is Aggregation.MIN:
        return "lowest", min(daily)
    if aggregation is Aggregation.LATEST:
        return "latest", daily[-1]
    if aggregation is Aggregation.UNIQUE_COUNT:
        return "busiest day", max(daily)
    return "total", sum(daily, Decimal(0))


def _window(end: datetime, days: int) -> Window:
    end = end.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    starts = [max(day, start) for day in bucket_starts(start, end, Granularity.DAY)]
    return Window(start=start, end=end, days=starts)


def _window_end(as_of: str | None) -> datetime:
    """`as_of` if given, else the end of the current UTC hour (so this hour's usage shows)."""
    if as_of is None:
        return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return parse_instant_field("as_of", as_of)


def _meter_name(compiled: CompiledMeter) -> str:
    return compiled.meter.name or compiled.meter.key


# --- rendering -------------------------------------------------------------------------------


def _page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = templates.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=_PAGE_HEADERS)


def _url(path: str, **params: str | None) -> str:
    query = urlencode({name: value for name, value in params.items() if value is not None})
    return f"{path}?{query}" if query else path


def account_url(external_id: str, as_of: str | None) -> str:
    """The detail page of an account, keeping a pinned window."""
    return _url(f"/accounts/{quote(external_id, safe='')}", as_of=as_of)


def attribute_items(attributes: dict[str, Any]) -> list[tuple[str, Any]]:
    """An account's attributes, the usual purchase drivers first, the rest alphabetically."""
    first = [(name, attributes[name]) for name in _FIRST_ATTRIBUTES if name in attributes]
    rest = sorted((n, v) for n, v in attributes.items() if n not in _FIRST_ATTRIBUTES)
    return first + rest


templates.globals.update(
    account_url=account_url,
    invoice_key=billing_views.invoice_key,
    invoice_url=billing_views.invoice_url,
    period_text=billing_views.period_text,
    attribute_items=attribute_items,
    from_micros=from_micros,
    rfc3339=format_rfc3339,
    url=_url,
)

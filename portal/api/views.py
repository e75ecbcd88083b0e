"""/api/v1: thin views over portal.api.services and portal.api.usage. Each view's decorators are its
documentation: flask-smorest builds the OpenAPI document (portal.api.reference) from them, so every
status a view can answer is listed on it."""
from __future__ import annotations

import flask
from flask import current_app, jsonify, request
from flask_smorest import Blueprint
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from portal.api import auth, errors, reference, services
from portal.api import usage as usage_service
from portal.api.access import account_for, current_key, require_scope, visible_accounts
from portal.api.schemas import (
    AccountListSchema,
    AccountSchema,
    ErrorSchema,
    IdempotencyHeaderSchema,
    MeSchema,
    OrderPageSchema,
    OrderQuerySchema,
    RechargeRequestSchema,
    RechargeSchema,
    UsageRequestSchema,
    UsageSchema,
)
from portal.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1", description="Accounts, orders and quota usage.")
# Account ids are matched with <int:...>, not the portal's <id:...>: an id out of range must still
# reach this blueprint (and get its JSON 404 from portal.api.access), while <id:...> refuses it during
# routing, before any blueprint is known.
errors.register(bp)
# Keys come in a header a browser never adds by itself: there is no ambient credential to forge with.
csrf.exempt(bp)

ERROR_DESCRIPTIONS = {
    400: "Malformed JSON, or an API key in the query string (key_in_query).",
    401: "No API key, or one that is malformed, unknown, revoked or expired.",
    403: "The key lacks the permission, is used from outside its IP ranges, or its owner may not do this.",
    404: "No such account for this key.",
    409: "Over the quota (remaining says how much is left), releasing more than is in use, or (recharges) "
         "the account already holds the most unpaid orders allowed.",
    413: "The body is larger than the site allows (64 KiB by default).",
    415: "The body is not sent as application/json.",
    422: "A field is missing, unknown or invalid (fields says which), or the Idempotency-Key was used for "
         "another request.",
    429: "Too many requests with this key (or recharges started for the account); wait Retry-After seconds.",
    502: "The payment channel refused or did not answer; the order stays pending without a QR code.",
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}


def refusals(*statuses: int):
    """Document the error answers a view can give (every view: 400, 401, 403, 429)."""

    def decorate(view):
        for status in sorted({400, 401, 403, 429, *statuses}, reverse=True):
            view = bp.alt_response(status, schema=ErrorSchema, description=ERROR_DESCRIPTIONS[status],
                                   headers=RETRY_AFTER if status == 429 else None)(view)
        return view

    return decorate


@bp.before_request
def guard():
    if request.endpoint != "api.reference":  # a web page, with the site's navigation bar
        auth.ignore_sessions()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    auth.check_body_size()
    auth.authenticate()
    auth.check_body_type()


@bp.route("/me", methods=["GET"])
@bp.response(200, MeSchema)
@refusals()
def me():
    """The key's owner and the key itself."""
    require_scope("read")
    return services.me_view(current_key())


@bp.route("/accounts", methods=["GET"])
@bp.response(200, AccountListSchema)
@refusals()
def accounts():
    """Every account the key can see.

    The owner's personal account and the organizations they belong to (only one when the key is limited
    to an account): balance in fen, plan, and each resource's quota with what is used."""
    require_scope("read")
    return {"accounts": [services.account_view(account, role) for account, role in visible_accounts()]}


@bp.route("/accounts/<int:account_id>", methods=["GET"])
@bp.response(200, AccountSchema)
@refusals(404)
def account(account_id: int):
    """One account: balance, plan and quotas."""
    found, role = account_for(account_id, "read")
    return services.account_view(found, role)


@bp.route("/accounts/<int:account_id>/orders", methods=["GET"])
@bp.arguments(OrderQuerySchema, location="query", unknown="raise")
@bp.response(200, OrderPageSchema)
@refusals(404, 422)
def orders(query: dict, account_id: int):
    """The account's recharge orders, newest first.

    Pages of ``limit`` orders; pass ``next_cursor`` back as ``cursor`` for the next page. ``state``
    filters by pending, paid, expired or closed."""
    found, _role = account_for(account_id, "read")
    return services.order_page(found.id, query.get("state"), query.get("cursor"), query["limit"])


@bp.route("/accounts/<int:account_id>/recharges", methods=["POST"])
@bp.arguments(RechargeRequestSchema)
@bp.response(201, RechargeSchema)
@refusals(404, 409, 413, 415, 422, 502)
def recharges(body: dict, account_id: int):
    """Start a recharge: a pending order and the QR payload to pay it.

    The same as the recharge page: the order expires unpaid after a day; the balance is credited
    when the channel reports the payment. Needs the billing permission and an owner or admin."""
    found, _role = account_for(account_id, "billing")
    return services.start_recharge(found, current_key().user, body["channel"], body["amount_fen"])


@bp.route("/accounts/<int:account_id>/usage", methods=["POST"])
@bp.arguments(IdempotencyHeaderSchema, location="headers")
@bp.arguments(UsageRequestSchema)
@bp.response(200, UsageSchema, headers={
    "Idempotent-Replayed": {"description": "true when this is the stored answer to an earlier request "
                                           "with the same Idempotency-Key.", "schema": {"type": "string"}}})
@refusals(404, 409, 413, 415, 422)
def usage(headers: dict, body: dict, account_id: int):
    """Reserve (delta > 0) or release (delta < 0) quota units, atomically.

    Either all of delta is applied or nothing: over the quota is a 409 that says how much remains.
    Send a unique Idempotency-Key: retrying with the same key and body within 24 hours returns the
    first answer without changing usage again; the same key with another body is a 422."""
    found, _role = account_for(account_id, "usage")
    key = current_key()
    answer = usage_service.change_usage(
        key.id, headers["idempotency_key"], usage_service.fingerprint("POST", request.path, body),
        found.id, body["resource"], body["delta"],
    )
    response = jsonify(answer.body)
    response.status_code = answer.status
    if answer.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


# --- Undocumented: the document itself, its page, and whatever is not an endpoint -------------------

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


def unknown(path: str = ""):
    """404 for paths that are not endpoints; 405 with Allow for a method an endpoint lacks (this rule
    matches every method, so it must work out what the endpoint would have allowed)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = set()
    for method in ALL_METHODS:
        try:
            rule, _args = adapter.match(method=method, return_rule=True)
        except HTTPException:
            continue
        if rule.endpoint != "api.unknown":
            allowed.add(method)
    if allowed:
        raise MethodNotAllowed(valid_methods=sorted(allowed))
    raise NotFound()


flask.Blueprint.add_url_rule(bp, "/", "unknown", unknown, methods=ALL_METHODS,
                             provide_automatic_options=False)
flask.Blueprint.add_url_rule(bp, "/<path:path>", "unknown", unknown, methods=ALL_METHODS,
                             provide_automatic_options=False)
flask.Blueprint.add_url_rule(bp, "/openapi.json", "openapi", reference.openapi_json)
flask.Blueprint.add_url_rule(bp, "/docs", "reference", reference.reference_page)
PUBLIC_ENDPOINTS = {"api.unknown", "api.openapi", "api.reference"}

# Last, so that every route above is in the app's URL map when the document is built.
bp.record_once(reference.document)

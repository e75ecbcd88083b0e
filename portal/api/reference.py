"""The OpenAPI 3.1 document of /api/v1, built by flask-smorest from the views' decorators and
schemas (never written by hand), served as JSON and as a reference page rendered here, on the
server, so the page needs no script and no CDN under the strict CSP."""
from __future__ import annotations

import copy

from flask import current_app, render_template
from flask_smorest import Api

from portal.api.schemas import ErrorSchema

DESCRIPTION = """The platform's services read accounts and orders, start recharges and reserve quota with
API keys that people create in the user center (API keys tab).

Send the key as `Authorization: Bearer <key>`; keys in the query string are refused. Errors are
`{"error": {"code": "...", "message": "..."}}` with the HTTP status that fits. Each key has a rate
limit; past it the answer is 429 with Retry-After."""


class PortalApi(Api):
    """flask-smorest's Api, kept to documenting our blueprint: its own error handler would answer
    every error of the whole site (web pages included) in JSON, so /api/v1 registers its own."""

    # Errors are documented per view (portal.api.views.refusals), never as a catch-all "default".
    DEFAULT_ERROR_RESPONSE_NAME = None
    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        pass


def document(state) -> None:
    """Build the document when the blueprint is registered on an app (once per app)."""
    app, bp = state.app, state.blueprint
    api = PortalApi(app, spec_kwargs={
        "title": f"{app.config['SITE_NAME']} API",
        "version": "1",
        "openapi_version": "3.1.0",
        "info": {"description": DESCRIPTION},
        "security": [{"apiKey": []}],
    })
    api.spec.components.security_scheme("apiKey", {
        "type": "http", "scheme": "bearer",
        "description": "An API key from the user center: Authorization: Bearer pk_...",
    })
    app.extensions["flask-smorest"]["blp_name_to_api"][bp.name] = api
    bp.register_views_in_doc(api, app, api.spec, name=bp.name, parameters=None)
    api.spec.tag({"name": bp.name, "description": bp.description})
    app.extensions["portal.api"] = api


def spec_dict() -> dict:
    """The document, with what this site offers filled in: its payment channels, its quota resources
    (plugins add both) and its largest recharge."""
    from portal.accounts.quotas import resources
    from portal.billing.channels import payment_channels
    from portal.billing.forms import recharge_max_fen

    spec = copy.deepcopy(current_app.extensions["portal.api"].spec.to_dict())
    schemas = spec["components"]["schemas"]
    recharge = schemas["RechargeRequest"]["properties"]
    recharge["channel"]["enum"] = list(payment_channels())
    recharge["amount_fen"]["maximum"] = recharge_max_fen()
    schemas["UsageRequest"]["properties"]["resource"]["enum"] = [r.key for r in resources()]
    return spec


def openapi_json():
    return current_app.response_class(
        current_app.json.dumps(spec_dict()), mimetype="application/json",
    )


def _schema_name(schema: dict | None) -> str | None:
    ref = (schema or {}).get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref else None


def _type_of(prop: dict) -> str:
    if "$ref" in prop:
        return _schema_name(prop)
    if "anyOf" in prop:
        return " | ".join(_type_of(option) for option in prop["anyOf"])
    kind = prop.get("type", "object")
    kinds = kind if isinstance(kind, list) else [kind]
    text = " | ".join(kinds)
    if "array" in kinds and "items" in prop:
        text = text.replace("array", f"array of {_type_of(prop['items'])}")
    return text


def _operations(spec: dict) -> list[dict]:
    found = []
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            found.append({
                "id": f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", ""),
                "method": method.upper(), "path": path,
                "summary": operation.get("summary", ""), "description": operation.get("description", ""),
                "parameters": [
                    {"name": p["name"], "in": p["in"], "required": p.get("required", False),
                     "type": _type_of(p.get("schema", {})), "description": p.get("description", "")}
                    for p in item.get("parameters", []) + operation.get("parameters", [])
                ],
                "body": _schema_name(body.get("schema")),
                "responses": [
                    {"status": int(status), "description": answer.get("description", ""),
                     "schema": _schema_name(answer.get("content", {}).get("application/json", {})
                                            .get("schema"))}
                    for status, answer in sorted(operation.get("responses", {}).items())
                ],
            })
    return found


RULES = ("minimum", "maximum", "enum", "minLength", "maxLength", "pattern")


def _schemas(spec: dict) -> list[dict]:
    return [
        {"name": name, "fields": [
            {"name": field, "type": _type_of(prop), "required": field in schema.get("required", ()),
             "description": prop.get("description", ""),
             "rule": ", ".join(f"{k} {v}" for k, v in prop.items() if k in RULES)}
            for field, prop in schema.get("properties", {}).items()
        ]}
        for name, schema in spec.get("components", {}).get("schemas", {}).items()
    ]


def reference_page():
    spec = spec_dict()
    return render_template("api/reference.html", spec=spec, operations=_operations(spec),
                           schemas=_schemas(spec))

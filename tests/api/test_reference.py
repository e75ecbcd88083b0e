"""The OpenAPI 3.1 document is built from the views (nothing hand-written can drift), and the
reference page is readable offline under the strict CSP."""

from __future__ import annotations

import re

from portal.api.views import bp


def test_the_document_is_openapi_3_1_and_lists_every_endpoint(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    spec = response.get_json()
    assert spec["openapi"] == "3.1.0"
    operations = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post")
    }
    assert operations == {
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/accounts"),
        ("GET", "/api/v1/accounts/{account_id}"),
        ("GET", "/api/v1/accounts/{account_id}/orders"),
        ("POST", "/api/v1/accounts/{account_id}/recharges"),
        ("POST", "/api/v1/accounts/{account_id}/usage"),
    }
    assert spec["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["apiKey"]["description"],
    }
    assert spec["security"] == [{"apiKey": []}]


def test_every_operation_documents_its_errors_and_no_catch_all(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post"):
                continue
            statuses = set(operation["responses"])
            assert "default" not in statuses
            assert {"400", "401", "403", "429"} <= statuses, (method, path)
            if method == "post":
                assert {"413", "415", "422"} <= statuses, path
            assert "Retry-After" in operation["responses"]["429"]["headers"]
    usage = spec["paths"]["/api/v1/accounts/{account_id}/usage"]["post"]
    assert "409" in usage["responses"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in usage["parameters"])


def test_the_document_says_what_this_site_offers(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert schemas["UsageRequest"]["properties"]["resource"]["enum"] == ["projects", "containers", "services"]
    assert schemas["UsageRequest"]["additionalProperties"] is False
    assert schemas["RechargeRequest"]["properties"]["amount_fen"]["maximum"] == 5_000_000


def test_the_views_are_the_only_source(app):
    """Each documented operation is a route of the API blueprint (flask-smorest reads the decorators)."""
    documented = set(bp._docs)
    routed = {
        rule.endpoint.split(".", 1)[1]
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
    }
    assert documented == routed - {"unknown", "openapi", "reference"}


def test_the_reference_page_is_local_and_script_free(client):
    response = client.get("/api/v1/docs", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "/api/v1/accounts/{account_id}/usage" in page and "UsageRequest" in page
    assert "Idempotency-Key" in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    # No inline script, and nothing from another origin.
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_the_reference_page_is_linked_from_the_api_keys_tab(users):
    client, _ = users.signed_in_client("linker")
    page = client.get("/user/api-keys/").get_data(as_text=True)
    assert 'href="/api/v1/docs"' in page


def test_the_reference_page_speaks_chinese_around_the_document(client):
    page = client.get("/api/v1/docs", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "快速开始" in page and "数据结构" in page

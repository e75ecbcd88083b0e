"""Response headers every page carries (security-baseline: CSP without inline script, framing,
sniffing, referrer), and HSTS outside development."""
from __future__ import annotations

from urllib.parse import urlsplit

BASE_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    # Avatars are image URLs the user or a provider gives; the browser shows them, the server never
    # fetches them.
    "img-src": ["'self'", "data:", "https:"],
    # Browsers also apply form-action to the redirect that follows a POST, so the providers a form
    # hands the browser to (OAuth consent pages) are added with allow_form_target().
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
    "base-uri": ["'none'"],
    "object-src": ["'none'"],
}


def _policy(app) -> dict[str, list[str]]:
    return app.extensions["portal.csp"]


def allow_form_target(app, url: str) -> None:
    """Let forms on our pages lead the browser to ``url``'s origin (after a redirect)."""
    parts = urlsplit(url)
    if parts.scheme and parts.netloc:
        origin = f"{parts.scheme}://{parts.netloc}"
        sources = _policy(app)["form-action"]
        if origin not in sources:
            sources.append(origin)


def content_security_policy(app) -> str:
    return "; ".join(f"{directive} {' '.join(sources)}" for directive, sources in _policy(app).items())


def init_app(app) -> None:
    development = app.config["ENVIRONMENT"] == "development"
    app.extensions["portal.csp"] = {directive: list(sources) for directive, sources in BASE_POLICY.items()}
    # Further image origins, e.g. a provider that serves avatars over plain http.
    _policy(app)["img-src"].extend(app.config.get("CSP_EXTRA_IMG_SOURCES") or ())

    @app.after_request
    def set_security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", content_security_policy(app))
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        if not development:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response

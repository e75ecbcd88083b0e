"""The portal's own addresses as people and providers outside must use them.

Built from ``PUBLIC_URL`` (or another configured base), never from the request's Host or
X-Forwarded-Host, which anyone can set: a notify_url or redirect_uri built from them would send a
payment notification or an OAuth code to whoever forged the header.
"""
from __future__ import annotations

from flask import current_app, has_request_context, url_for


def public_url(endpoint: str, base: str | None = None, **values) -> str:
    """The absolute URL of ``endpoint`` under ``base`` (default: ``PUBLIC_URL``)."""
    base = base or current_app.config.get("PUBLIC_URL")
    if not base:
        # Development only (finalize requires PUBLIC_URL elsewhere): the demo's own address.
        if not has_request_context():
            raise RuntimeError("PUBLIC_URL is not set: the portal cannot say where it is reached.")
        return url_for(endpoint, _external=True, **values)
    # The path alone, relative to the app's root: PUBLIC_URL already says where that root is.
    path = current_app.url_map.bind("", script_name="/").build(endpoint, values)
    return base.rstrip("/") + path

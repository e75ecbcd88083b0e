"""Who is on the other end of the request."""
from flask import request


def client_ip() -> str:
    # ProxyFix (configured by TRUSTED_PROXY_COUNT) has already replaced remote_addr with the
    # address the trusted proxies saw; X-Forwarded-For is never read here.
    return request.remote_addr or "unknown"

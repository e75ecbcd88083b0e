"""The real-name backend contract: what a backend plugin implements, and what it gets and returns.

A backend plugin returns ``RealnameBackend`` instances from ``portal_realname_backends``; the operator
names the active one in ``REALNAME_BACKEND``. The core owns everything else: validation, limits,
encryption, the state machine, the pages and the rules about who counts as verified. A backend never
stores the name or the ID number and never logs them.

Example (a complete plugin module)::

    from portal.plugins import hookimpl
    from portal.realname.backends import Outcome, RealnameBackend, Started

    class FaceId(RealnameBackend):
        name = "faceid"
        label = {"zh_CN": "腾讯云人脸核身", "en": "Tencent Cloud FaceID"}
        lifetime = timedelta(hours=2)

        def start(self, attempt):
            token, url = call_faceid(attempt.name, attempt.cert_no, attempt.return_url)
            return Started(certify_id=token, url=url)

        def query(self, attempt):
            result = ask_faceid(attempt.certify_id)
            if result is None:
                return Outcome.pending()
            return Outcome.passed() if result.ok else Outcome.failed(result.reason)

    @hookimpl
    def portal_realname_backends():
        return [FaceId()]
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from flask import current_app

PASSED, FAILED, PENDING = "passed", "failed", "pending"


class BackendError(Exception):
    """The backend could not start or query (network, refusal, a response that fails verification).

    ``code`` is short and safe to log; the message never holds the name or the ID number."""

    def __init__(self, message: str, code: str = "ERROR"):
        super().__init__(message)
        self.code = code


class NoBackend(RuntimeError):
    """``REALNAME_BACKEND`` names no installed, enabled backend."""


@dataclass(frozen=True)
class Attempt:
    """What a backend is given: one attempt, with the clear name and ID number for ``start``."""

    outer_order_no: str
    # Where the backend's page sends the person back (built by the core from config).
    return_url: str
    name: str = ""
    cert_no: str = ""
    # The backend's reference, once ``start`` returned it.
    certify_id: str | None = None


@dataclass(frozen=True)
class Started:
    """``start``'s answer: the backend's reference, and the page the person opens next (shown as
    a QR code and a link), or no page when an operator reviews the request."""

    certify_id: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Outcome:
    """``query``'s answer. ``reason``: the backend's words for a failure, shown to the user.

    ``certify_id`` / ``outer_order_no``: the attempt the provider's answer names, when it names one;
    the core refuses an answer about another attempt."""

    status: str
    reason: str | None = None
    certify_id: str | None = None
    outer_order_no: str | None = None

    @classmethod
    def passed(cls, **about) -> "Outcome":
        return cls(PASSED, **about)

    @classmethod
    def failed(cls, reason: str | None = None, **about) -> "Outcome":
        return cls(FAILED, reason, **about)

    @classmethod
    def pending(cls, **about) -> "Outcome":
        return cls(PENDING, **about)


class RealnameBackend:
    """One way to verify a real name. Subclass it, set the class attributes, implement ``start`` and
    ``query``."""

    # Short, stable id, stored with each attempt; the plugin's entry-point name by convention.
    name: ClassVar[str] = ""
    # A string or a mapping of locale -> string ({"zh_CN": "支付宝身份验证", "en": "Alipay"}).
    label: ClassVar[Any] = ""
    # How long a started attempt may stay pending before it is 已过期 (after one last query).
    lifetime: ClassVar[timedelta] = timedelta(hours=23)
    # True when an operator decides (portal realname approve/reject) instead of the provider.
    reviewed_by_operator: ClassVar[bool] = False

    def start(self, attempt: Attempt) -> Started:
        """Begin verifying ``attempt.name`` / ``attempt.cert_no``; raise BackendError on failure."""
        raise NotImplementedError

    def query(self, attempt: Attempt) -> Outcome:
        """Where the attempt stands at the provider; raise BackendError when that is unknown."""
        return Outcome.pending()


def backends(app=None) -> dict[str, RealnameBackend]:
    from portal.plugins import hook

    found: dict[str, RealnameBackend] = {}
    for provided in hook(app).portal_realname_backends():
        for backend in provided or ():
            found[backend.name] = backend
    return found


def active_backend(app=None) -> RealnameBackend:
    """The backend ``REALNAME_BACKEND`` names; NoBackend when it is not installed and enabled."""
    app = app or current_app
    name = app.config.get("REALNAME_BACKEND")
    backend = backends(app).get(name) if name else None
    if backend is None:
        raise NoBackend(f"REALNAME_BACKEND {name!r} is not an installed, enabled real-name backend")
    return backend


def backend_named(name: str) -> RealnameBackend | None:
    """The backend an older attempt was started with (it may no longer be the active one)."""
    return backends().get(name)

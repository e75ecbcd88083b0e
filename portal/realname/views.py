"""实名认证: the user center tab, starting an attempt, its progress page and status, and the page a
backend sends the person back to (which only means "go and ask")."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from portal import timeutil
from portal.billing.qr import qr_svg
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l
from portal.i18n import localized
from portal.realname import guard, services
from portal.realname.backends import BackendError, NoBackend, backend_named
from portal.realname.forms import StartForm
from portal.realname.models import PENDING

log = logging.getLogger(__name__)

bp = Blueprint("realname", __name__, url_prefix="/user/realname")

STATUS_LABELS = {
    None: _l("Not verified"),
    "pending": _l("Verifying"),
    "passed": _l("Identity verified"),
    "failed": _l("Not passed"),
    "expired": _l("Expired"),
    "superseded": _l("Not verified"),
    "revoked": _l("Not verified"),
}
STATUS_BADGES = {"pending": "text-bg-info", "passed": "text-bg-success", "failed": "text-bg-danger",
                 "expired": "text-bg-warning"}


@bp.app_template_global("realname_status_label")
def status_label(status: str | None) -> str:
    return str(STATUS_LABELS.get(status, status))


@bp.app_template_global("realname_account_verified")
def account_verified(account) -> bool | None:
    """For organization pages: None when the feature is off."""
    return guard.account_verified(account) if guard.enabled() else None


@bp.before_request
def require_sign_in():
    """Every page here is about the signed-in user's own identity, except the page a backend sends
    the person back to: that is often the phone's browser, not signed in."""
    if request.endpoint != "realname.returned" and not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    return None


def _me():
    return current_user._get_current_object()


def _return_url() -> str:
    # Sent to the backend: from PUBLIC_URL when set, never from a header an attacker could choose.
    base = current_app.config.get("PUBLIC_URL")
    if base:
        return base.rstrip("/") + url_for("realname.returned")
    return url_for("realname.returned", _external=True)


def _backend_label(name: str) -> str:
    backend = backend_named(name)
    return localized(backend.label) if backend else name


@bp.route("/", methods=["GET", "POST"], endpoint="index")
def index_page():
    user = _me()
    if not guard.enabled():
        return render_template("realname/index.html", enabled=False, latest=None, form=None)
    latest = services.latest(user.id)
    if latest is not None and latest.status == PENDING:
        latest = services.refresh(latest)
    form = StartForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.start(user, form.name.data, form.cert_no.data, _return_url())
        except services.RealnameError as exc:
            form.add_error(exc.field, exc.message)
            status = 400
        except (BackendError, NoBackend) as exc:
            log.warning("real-name verification could not start: %s", exc)
            form.add_error(None, _("The verification service could not start; please try again later."))
            status = 502
        else:
            return redirect(url_for("realname.progress"))
        latest = services.latest(user.id)
    elif form.is_submitted():
        status = 400
    shown = services.display(latest) if latest is not None else None
    return render_template(
        "realname/index.html", enabled=True, latest=shown, form=form,
        backend_label=_backend_label(latest.backend) if latest else None,
    ), status


@bp.get("/progress", endpoint="progress")
def progress_page():
    latest = services.latest(_me().id)
    if latest is None or latest.status != PENDING:
        return redirect(url_for("realname.index"))
    latest = services.refresh(latest)
    if latest.status != PENDING:
        return redirect(url_for("realname.index"))
    now = timeutil.utcnow()
    qr = qr_svg(latest.next_url, _("QR code to verify your identity")) if latest.next_url else None
    return render_template(
        "realname/progress.html", attempt=services.display(latest), qr=qr,
        backend_label=_backend_label(latest.backend),
        seconds_left=max(0, int((latest.expires_at - now).total_seconds())),
    )


@bp.get("/status", endpoint="status")
def status_json():
    latest = services.latest(_me().id)
    if latest is None:
        return jsonify(status=None, label=status_label(None), reason=None)
    latest = services.refresh(latest)
    return jsonify(status=latest.status, label=status_label(latest.status),
                   reason=latest.reason if latest.status == "failed" else None)


@bp.get("/return", endpoint="returned")
def returned():
    """Where the backend's page sends the person back. Its parameters are never read: coming back
    means "ask", not "passed"; the progress page asks."""
    if not current_user.is_authenticated:
        return render_template("realname/returned.html")
    flash(_("Welcome back: checking the result of your verification."), "info")
    return redirect(url_for("realname.progress"))


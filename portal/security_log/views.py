"""安全日志: a user's own security events (90 days, by type, CSV export), and an organization's
for its owners and admins."""
from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from flask_login import current_user, login_required

from portal.security_log import services
from portal.security_log.events import KINDS

bp = Blueprint("security_log", __name__)


def _kind() -> str | None:
    kind = request.args.get("kind") or None
    return kind if kind in KINDS else None


def _page() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) < 6 and int(raw) > 0 else 1


def _managed_org(slug: str):
    from portal.orgs.services import find_org, role_of

    org = find_org(slug)
    if org is None or role_of(org, current_user) not in ("owner", "admin"):
        abort(404)
    return org


def _csv(text: str, name: str) -> Response:
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/user/security-log", endpoint="index")
@login_required
def index():
    page = services.events_page(user_id=current_user.id, kind=_kind(), page=_page())
    return render_template("security_log/index.html", page=page, kind=_kind(), kinds=KINDS, org=None,
                           days=services.VISIBLE_DAYS)


@bp.get("/user/security-log.csv", endpoint="export")
@login_required
def export():
    return _csv(services.export_csv(user_id=current_user.id, kind=_kind()), "security-log.csv")


@bp.get("/orgs/<slug>/security-log", endpoint="org_index")
@login_required
def org_index(slug):
    org = _managed_org(slug)
    page = services.events_page(org_id=org.id, kind=_kind(), page=_page())
    return render_template("security_log/index.html", page=page, kind=_kind(), kinds=KINDS, org=org,
                           days=services.VISIBLE_DAYS)


@bp.get("/orgs/<slug>/security-log.csv", endpoint="org_export")
@login_required
def org_export(slug):
    org = _managed_org(slug)
    return _csv(services.export_csv(org_id=org.id, kind=_kind()), f"security-log-{org.slug}.csv")

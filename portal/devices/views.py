"""登录设备: the user's signed-in devices, signing one out, signing out all the others."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from portal.devices import services
from portal.extensions import db
from portal.i18n import gettext as _
from portal.security_log import record

bp = Blueprint("devices", __name__, url_prefix="/user/devices")


@bp.before_request
@login_required
def require_sign_in():
    """Every page here is the signed-in user's own."""


@bp.get("", endpoint="index")
def index():
    return render_template("devices/index.html", sessions=services.live_sessions(current_user.id),
                           current=current_user.device_session_id)


@bp.post("/<id:session_id>/sign-out", endpoint="sign_out")
def sign_out(session_id):
    user = current_user._get_current_object()
    ended = services.end(user.id, session_id, "revoked")
    if ended is None:
        # Not a live session of this user: another user's, ended already, or none at all.
        abort(404)
    record("session_ended", user, details={"device": ended.device, "this_device": ended.public_id ==
                                           user.device_session_id})
    db.session.commit()
    flash(_("%(device)s was signed out.", device=ended.device), "success")
    if ended.public_id == user.device_session_id:
        return redirect(url_for("auth.sign_in"))
    return redirect(url_for("devices.index"))


@bp.post("/sign-out-others", endpoint="sign_out_others")
def sign_out_others():
    user = current_user._get_current_object()
    count = services.end_all(user.id, "others_revoked", keep_public_id=user.device_session_id)
    record("session_ended", user, details={"others": count})
    db.session.commit()
    flash(_("All your other devices were signed out."), "success")
    return redirect(url_for("devices.index"))

"""第三方账户: link, unlink, and sign in with provider accounts. One callback serves both purposes."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal.auth import signins, stepup
from portal.auth.services import is_local_path
from portal.i18n import gettext as _
from portal.i18n import localized
from portal.identities import oauth, services
from portal.identities.perks import Perk, perks
from portal.identities.providers import ProviderError
from portal.net import client_ip

bp = Blueprint("identities", __name__, url_prefix="/identities")



@bp.app_context_processor
def _sign_in_providers():
    # The sign-in page shows a button per enabled provider (templates/identities/_sign_in_buttons.html).
    return {"oauth_providers": lambda: list(oauth.providers().values())}


def _provider_or_404(name: str):
    provider = oauth.provider_or_none(name)
    if provider is None:
        abort(404)
    return provider


@bp.get("/")
@login_required
def index():
    return _render_index()


def _render_index(error: str | None = None, status: int = 200):
    user = current_user._get_current_object()
    linked = services.identities_of(user.id)
    rows = [(provider, linked.get(name), perks(user, name)) for name, provider in oauth.providers().items()]
    return render_template("identities/index.html", rows=rows, error=error), status


def _too_many(limit: str):
    """The page saying so when this IP is over ``limit``, or None while it is within it."""
    if services.allow_attempt(limit, client_ip()):
        return None
    refused = services.too_many_attempts()
    return _failed(refused.message, refused.status)


@bp.post("/<provider>/link")
@login_required
@stepup.step_up_required
def link(provider):
    provider = _provider_or_404(provider)
    if (refused := _too_many("identities_start_ip")) is not None:
        return refused
    return redirect(oauth.authorization_url(provider, oauth.LINK, current_user.id))


@bp.post("/<provider>/sign-in")
def sign_in(provider):
    provider = _provider_or_404(provider)
    if (refused := _too_many("identities_start_ip")) is not None:
        return refused
    next_path = request.form.get("next")
    return redirect(oauth.authorization_url(
        provider, oauth.SIGN_IN, next_path=next_path if is_local_path(next_path) else None
    ))


@bp.post("/<provider>/reauthenticate")
@login_required
def reauthenticate(provider):
    """Step up by signing in again with a linked provider (users with no password or contact)."""
    provider = _provider_or_404(provider)
    if (refused := _too_many("identities_start_ip")) is not None:
        return refused
    next_path = request.form.get("next")
    return redirect(oauth.authorization_url(
        provider, oauth.REAUTHENTICATE, current_user.id, next_path=next_path if is_local_path(next_path) else None
    ))


@bp.route("/<provider>/unlink", methods=["GET", "POST"])
@login_required
@stepup.step_up_required
def unlink(provider):
    """GET is the step before 解绑: which account, and what unlinking it changes."""
    provider = _provider_or_404(provider)
    if request.method == "GET":
        try:
            identity = services.unlinkable_identity(current_user._get_current_object(), provider.name)
        except services.LinkError as exc:
            if exc.status == 404:
                abort(404)
            return _render_index(exc.message, exc.status)
        kept = [perk for perk in perks(current_user._get_current_object(), provider.name) if perk.granted]
        return render_template("identities/unlink_confirm.html", provider=provider, identity=identity, kept=kept)
    try:
        services.unlink_identity(current_user._get_current_object(), provider.name)
    except services.LinkError as exc:
        return _render_index(exc.message, exc.status)
    flash(_("Your %(provider)s account was unlinked.", provider=localized(provider.label)), "success")
    return redirect(url_for("identities.index"))


@bp.get("/<provider>/callback")
def callback(provider):
    provider = _provider_or_404(provider)
    # Counted before the state is spent, so a refused callback can be retried once the minute is over.
    if (refused := _too_many("identities_callback_ip")) is not None:
        return refused
    try:
        result = oauth.complete(provider, request.args)
    except (oauth.StateError, oauth.ConsentDenied, ProviderError) as exc:
        return _failed(str(exc), 400)
    try:
        if result.purpose == oauth.LINK:
            return _finish_link(result)
        if result.purpose == oauth.REAUTHENTICATE:
            return _finish_reauthenticate(result)
        return _finish_sign_in(result)
    except ProviderError as exc:
        return _failed(str(exc), 400)
    except services.LinkError as exc:
        return _failed(exc.message, exc.status)


def _failed(message: str, status: int):
    if current_user.is_authenticated:
        return _render_index(message, status)
    return render_template("identities/failed.html", error=message), status


def _finish_link(result: oauth.Callback):
    # The link goes to the user who started it, and only if that user is still the one signed in.
    if not current_user.is_authenticated or current_user.id != result.user_id:
        return _failed(_("Sign in again, then link the account from the user center."), 403)
    user = current_user._get_current_object()
    before = perks(user, result.provider.name)
    services.link_identity(user, result.provider, result.identity)
    flash(_("Your %(provider)s account is linked.", provider=localized(result.provider.label)), "success")
    _flash_new_perks(perks(user, result.provider.name), before)
    return redirect(url_for("identities.index"))


def _flash_new_perks(after: list[Perk], before: list[Perk] = ()) -> None:
    """Name what the link just granted: granted now, and not before it (the same plugins answer in
    the same order)."""
    for i, perk in enumerate(after):
        if perk.granted and not (i < len(before) and before[i].granted):
            flash(_("You received %(gift)s for linking it.", gift=localized(perk.gift)), "success")


def _finish_reauthenticate(result: oauth.Callback):
    # Proof only when the provider account is the signed-in user's own, and that user started it.
    user = services.linked_user(result.provider, result.identity)
    if not current_user.is_authenticated or current_user.id != result.user_id or user is None \
            or user.id != current_user.id or stepup.SECOND_FACTOR in stepup.methods(user):
        return _failed(_("This %(provider)s account is not linked to your Portal account.",
                         provider=localized(result.provider.label)), 403)
    stepup.mark_fresh()
    return redirect(result.next_path if is_local_path(result.next_path) else url_for("users.profile"))


def _finish_sign_in(result: oauth.Callback):
    user = services.sign_in_with(result.provider, result.identity)
    if user is None:
        user = services.sign_up_with(result.provider, result.identity)
        flash(_("Welcome! Your Portal account %(username)s was created with %(provider)s.",
                username=user.username, provider=localized(result.provider.label)), "success")
        _flash_new_perks(perks(user, result.provider.name))
    return signins.sign_in(user, f"provider:{result.provider.name}", result.next_path, keep_flashes=True)



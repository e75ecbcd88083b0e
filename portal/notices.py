"""Security notices: after a change that adds or removes a way into an account (or moves money out),
its owner is told what changed, when and from where, so that a change they did not make is noticed.

``send_notice(user, what)`` is called after the change is committed. ``what`` is a
``lazy_gettext(...)`` sentence with its parameters, rendered here in the user's language. The notice
goes to the verified primary email and, when one is bound, the phone (plus ``also_to``: a contact
the change just removed or replaced). Plugins deliver it through ``portal_send_notice``. A delivery
failure is logged and never undoes the change.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable

from flask import current_app, has_request_context
from flask_babel import force_locale, format_datetime

from portal.i18n import gettext as _
from portal.timeutil import utcnow

log = logging.getLogger(__name__)


def _locale(user) -> str:
    languages = current_app.config.get("LANGUAGES") or {}
    return user.locale if user.locale in languages else current_app.config["BABEL_DEFAULT_LOCALE"]


def destinations(user, also_to: Iterable[str] = ()) -> list[str]:
    """Where a notice about ``user`` goes: the verified primary email, the bound phone, ``also_to``."""
    found = []
    primary = user.primary_email
    if primary is not None and primary.is_verified:
        found.append(primary.address)
    if user.phone:
        found.append(user.phone)
    for extra in also_to:
        if extra and extra.lower() not in {d.lower() for d in found}:
            found.append(extra)
    return found


def compose(user, what, ip: str | None, when=None) -> tuple[str, str, str]:
    """(subject, body, summary) in the current locale; ``summary`` is ``what`` alone (SMS)."""
    site = current_app.config.get("SITE_NAME", "Portal")
    summary = str(what)
    when = format_datetime(when or utcnow(), "yyyy-MM-dd HH:mm:ss")
    source = _("IP address: %(ip)s", ip=ip) if ip else _("Made by an operator (support).")
    body = "\n".join([
        _("Hello %(username)s,", username=user.username),
        "",
        _("A change was made to your %(site)s account:", site=site),
        summary,
        "",
        _("When: %(time)s (%(timezone)s)", time=when, timezone=current_app.config["BABEL_DEFAULT_TIMEZONE"]),
        source,
        "",
        _("If this was you, there is nothing to do. If it was not you, sign in and change your password "
          "now, remove any email, phone or linked account you do not recognize, and contact support."),
    ])
    subject = _("%(site)s security notice: your account was changed", site=site)
    return subject, body, summary


def send_notice(user, what, also_to: Iterable[str] = (), only_to: Iterable[str] | None = None) -> int:
    """Tell ``user`` that ``what`` changed. Returns how many destinations it reached; never raises.

    ``only_to``: these destinations instead of the user's primary contacts."""
    from portal.net import client_ip

    ip = client_ip() if has_request_context() else None
    locale = _locale(user)
    try:
        with force_locale(locale):
            message = compose(user, what, ip)
        targets = list(only_to) if only_to is not None else destinations(user, also_to)
    except Exception:  # noqa: BLE001 - a notice must never undo the change it reports
        log.exception("security notice for user %s could not be composed", user.id)
        return 0
    return _deliver(user, targets, message, locale)


def send_account_notice(user, what) -> int:
    """Tell ``user`` something about an account they manage (a renewal that could not be paid, a plan
    that ended): the same delivery as security notices, without the "was this you?" advice. Returns
    how many destinations it reached; never raises."""
    locale = _locale(user)
    try:
        with force_locale(locale):
            summary = str(what)
            subject = _("%(site)s account notice", site=current_app.config.get("SITE_NAME", "Portal"))
            body = "\n".join([_("Hello %(username)s,", username=user.username), "", summary])
        targets = destinations(user)
    except Exception:  # noqa: BLE001 - a notice must never undo what it reports
        log.exception("account notice for user %s could not be composed", user.id)
        return 0
    return _deliver(user, targets, (subject, body, summary), locale)


def _deliver(user, targets: list[str], message: tuple[str, str, str], locale: str) -> int:
    from portal.plugins import hook

    subject, body, summary = message
    sent = 0
    for destination in targets:
        channel = "email" if "@" in destination else "sms"
        try:
            delivered = hook().portal_send_notice(
                channel=channel, destination=destination, subject=subject, body=body, summary=summary,
                locale=locale,
            )
        except Exception as exc:  # noqa: BLE001 - any plugin failure is logged, the change stands
            log.warning("notice for user %s by %s not delivered: %s", user.id, channel, exc)
            continue
        if delivered:
            sent += 1
        else:
            log.warning("notice for user %s: no plugin delivers notices by %s", user.id, channel)
    return sent

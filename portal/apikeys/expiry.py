"""The scheduled part of a key's life: an email when it will expire within a week, a security notice
once it has expired. Each is sent once per key, whatever the number of machines running the job (a
conditional update claims the key before anything is sent: a failed delivery is logged, not retried)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale, format_datetime

from portal.apikeys.models import ApiKey
from portal.extensions import db
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l
from portal.plugins import hook
from portal.timeutil import utcnow

log = logging.getLogger(__name__)

ANNOUNCE_BEFORE = timedelta(days=7)


@dataclass
class ExpiryReport:
    announced: int = 0
    reported: int = 0


def _claim(key_id: int, column, *conditions) -> bool:
    changed = db.session.execute(
        db.update(ApiKey)
        .where(ApiKey.id == key_id, column.is_(None), *conditions)
        .values({column.key: utcnow()})
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    db.session.commit()
    return changed


def _remind(key: ApiKey) -> bool:
    """The "expires soon" email to the owner's verified primary address, in their language. A reminder,
    not a security notice: nothing has changed yet. True when a plugin delivered it."""
    user = key.user
    primary = user.primary_email
    if primary is None or not primary.is_verified:
        return False
    config = current_app.config
    locale = user.locale if user.locale in (config.get("LANGUAGES") or {}) else config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        site = config.get("SITE_NAME", "Portal")
        summary = _("Your API key \"%(name)s\" (%(prefix)s) expires on %(date)s (%(timezone)s).", name=key.name,
                    prefix=key.display_prefix, date=format_datetime(key.expires_at, "yyyy-MM-dd HH:mm"),
                    timezone=config["BABEL_DEFAULT_TIMEZONE"])
        subject = _("%(site)s: an API key of yours expires soon", site=site)
        body = "\n".join([
            _("Hello %(username)s,", username=user.username), "", summary, "",
            _("Services that use it are refused from then on. Create a new key in the user center (API keys), "
              "put it in their place, then revoke the old one."),
        ])
    try:
        return bool(hook().portal_send_notice(channel="email", destination=primary.address, subject=subject,
                                              body=body, summary=summary, locale=locale))
    except Exception as exc:  # noqa: BLE001 - one failed email must not stop the job for other keys
        log.warning("API key %s expiry reminder not delivered: %s", key.id, exc)
        return False


def run(now: datetime | None = None, limit: int = 500) -> ExpiryReport:
    """Announce keys expiring within ANNOUNCE_BEFORE, and report keys that expired."""
    from portal.apikeys.services import notify_owner

    now = now or utcnow()
    report = ExpiryReport()
    live = (ApiKey.revoked_at.is_(None), ApiKey.expires_at.is_not(None))
    soon = db.session.scalars(
        db.select(ApiKey).where(*live, ApiKey.expiry_announced_at.is_(None), ApiKey.expires_at > now,
                                ApiKey.expires_at <= now + ANNOUNCE_BEFORE)
        .order_by(ApiKey.expires_at).limit(limit).options(db.joinedload(ApiKey.user))
    ).all()
    for key in soon:
        if _claim(key.id, ApiKey.expiry_announced_at):
            _remind(key)
            report.announced += 1
    expired = db.session.scalars(
        db.select(ApiKey).where(*live, ApiKey.expiry_noticed_at.is_(None), ApiKey.expires_at <= now)
        .order_by(ApiKey.expires_at).limit(limit).options(db.joinedload(ApiKey.user))
    ).all()
    for key in expired:
        if _claim(key.id, ApiKey.expiry_noticed_at):
            # A key that expires unannounced (created for less than a week) is announced by this notice.
            _claim(key.id, ApiKey.expiry_announced_at)
            notify_owner(key.user, _l("Your API key \"%(name)s\" (%(prefix)s) has expired; calls with it are "
                                 "refused.", name=key.name, prefix=key.display_prefix))
            report.reported += 1
    return report

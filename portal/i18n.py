"""Language choice (zh-CN first, English too) and translation helpers."""
from __future__ import annotations

from flask import current_app, request, session
from flask_babel import get_locale, gettext, lazy_gettext  # noqa: F401 - re-exported for the rooms
from flask_login import current_user

from portal import ROOT
from portal.extensions import babel

TRANSLATIONS_DIR = ROOT / "portal" / "translations"


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    user_locale = getattr(current_user, "locale", None) if current_user else None
    if user_locale in languages:
        return user_locale
    best = request.accept_languages.best_match(
        ["zh-CN", "zh", "en"], default=current_app.config["BABEL_DEFAULT_LOCALE"]
    )
    return "en" if best == "en" else "zh_CN"


def localized(text) -> str:
    """Text given by a plugin: a plain string, or a mapping of locale -> string."""
    if isinstance(text, dict):
        locale = str(get_locale() or "zh_CN")
        return text.get(locale) or text.get(locale.split("_")[0]) or next(iter(text.values()))
    return str(text)


def init_app(app) -> None:
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(TRANSLATIONS_DIR),
    )
    app.jinja_env.globals["localized"] = localized
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale())

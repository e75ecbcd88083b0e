"""Language choice (zh-CN first, English too) and translation helpers."""
from __future__ import annotations

from babel import Locale
from flask import current_app, g, has_request_context, request, session
from flask_babel import get_locale, gettext, lazy_gettext  # noqa: F401 - re-exported for the rooms
from flask_login import current_user

from portal import PACKAGE
from portal.extensions import babel

TRANSLATIONS_DIR = PACKAGE / "translations"


def locale_code() -> str:
    """The key of LANGUAGES the current request speaks ("zh_CN", "en").

    Babel names zh_CN by its full CLDR name, zh_Hans_CN (translations/zh_Hans_CN links to
    translations/zh_CN for that reason), so str(get_locale()) is not a LANGUAGES key."""
    current = get_locale()
    if current is None:
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    for code in current_app.config["LANGUAGES"]:
        if Locale.parse(code) == current:
            return code
    return str(current)


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        # Services run from CLI commands and jobs too, where messages use the site's default.
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    # While the database is down (the 503 page) the signed-in user cannot be loaded.
    user_locale = None if g.get("database_down") or not current_user else getattr(current_user, "locale", None)
    if user_locale in languages:
        return user_locale
    best = request.accept_languages.best_match(
        ["zh-CN", "zh", "en"], default=current_app.config["BABEL_DEFAULT_LOCALE"]
    )
    return "en" if best == "en" else "zh_CN"


def localized(text) -> str:
    """Text given by a plugin: a plain string, or a mapping of locale -> string."""
    if isinstance(text, dict):
        locale = locale_code()
        return text.get(locale) or text.get(locale.split("_")[0]) or next(iter(text.values()))
    return str(text)


def init_app(app) -> None:
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(TRANSLATIONS_DIR),
    )
    app.jinja_env.globals["localized"] = localized
    app.jinja_env.globals["current_locale"] = locale_code

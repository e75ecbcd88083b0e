"""Language choice (zh-CN first, English too) and translation helpers."""
from __future__ import annotations

import re

from babel import Locale
from flask import current_app, g, has_request_context, request, session
from flask_babel import get_locale, get_translations
from flask_babel.speaklater import LazyString
from flask_login import current_user
from markupsafe import Markup
from jinja2 import pass_context

from portal import PACKAGE
from portal.extensions import babel

TRANSLATIONS_DIR = PACKAGE / "translations"

# Chinese typography: a space between Chinese and Latin words (已绑定 GitHub 账户). The catalog
# writes a placeholder straight against Chinese text when its value may be Chinese (已绑定%(provider)s
# 账户), and formatting adds the space only when the value's edge is a Latin letter or digit, so the
# same message gives 已绑定 GitHub 账户 and 已绑定微信账户 (tests/test_i18n.py checks the catalog).
CJK = "\u3400-\u4dbf\u4e00-\u9fff"
LATIN = "A-Za-z0-9"
_PLACEHOLDER = re.compile(r"%%|%\(\w+\)[#0 +-]*\d*(?:\.\d+)?[sdifrxXeEgGc]")
_START, _END = "\x02", "\x03"
_GAP = re.compile(
    f"(?<=[{CJK}])[{_START}{_END}]+(?=[{LATIN}])|(?<=[{LATIN}])[{_START}{_END}]+(?=[{CJK}])"
)


def spaced_format(text: str, variables: dict) -> str:
    """text % variables, with a space wherever a substituted value meets Chinese with a Latin edge.

    Markup stays Markup (its values are escaped as usual)."""
    if not variables and isinstance(text, str) and "%" not in text:
        # Nothing to substitute (most of a page's messages): the text as it is.
        return text
    marked = _PLACEHOLDER.sub(lambda m: m[0] if m[0] == "%%" else f"{_START}{m[0]}{_END}", str(text))
    if isinstance(text, Markup):
        marked = Markup(marked)
    result = _GAP.sub(" ", str(marked % variables)).replace(_START, "").replace(_END, "")
    return Markup(result) if isinstance(text, Markup) else result


# Catalogs by locale. Flask-Babel finds the current one through three context look-ups and a
# locale-to-text conversion per message (a history page translates ~55 labels); the locale alone
# decides which it is: every app here reads the one catalog directory, TRANSLATIONS_DIR.
_CATALOGS: dict[Locale, object] = {}


def current_translations():
    """flask_babel.get_translations(), force_locale included, for a third of its cost."""
    locale = get_locale()
    if locale is None:
        return get_translations()
    catalog = _CATALOGS.get(locale)
    if catalog is None:
        catalog = _CATALOGS[locale] = get_translations()
    return catalog


def gettext(string: str, **variables) -> str:
    """flask_babel.gettext with Chinese/Latin spacing around the substituted values."""
    translated = current_translations().ugettext(string)
    return spaced_format(translated, variables) if variables else translated


def lazy_gettext(string: str, **variables) -> LazyString:
    return LazyString(gettext, string, **variables)


# A page's ~60 messages are looked up in the catalog that was current when its render started:
# Flask-Babel finds the current catalog through three context look-ups per message, a tenth of a
# page's time. One render speaks one language (a notice rendered under force_locale starts its own).
RENDER_TRANSLATIONS = "_portal_translations"


def _render_translations(context):
    return context.get(RENDER_TRANSLATIONS) or current_translations()


@pass_context
def _template_gettext(context, string: str, **variables) -> str:
    """The templates' _() and {% trans %}: Jinja's own newstyle gettext, spaced like gettext."""
    translated = _render_translations(context).ugettext(string)
    if context.eval_ctx.autoescape:
        translated = Markup(translated)
    return spaced_format(translated, variables)


@pass_context
def _template_ngettext(context, singular: str, plural: str, num: int, **variables) -> str:
    variables.setdefault("num", num)
    translated = _render_translations(context).ungettext(singular, plural, num)
    if context.eval_ctx.autoescape:
        translated = Markup(translated)
    return spaced_format(translated, variables)


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
    # After Flask-Babel installed Jinja's callables; _ resolves "gettext" at call time.
    app.jinja_env.globals.update(gettext=_template_gettext, ngettext=_template_ngettext)
    app.context_processor(lambda: {RENDER_TRANSLATIONS: current_translations()})
    app.jinja_env.globals["localized"] = localized
    app.jinja_env.globals["current_locale"] = locale_code

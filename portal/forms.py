"""What the portal's forms share."""
from __future__ import annotations

import functools

from babel.support import Translations
from flask_babel import get_locale
from flask_wtf import FlaskForm
from wtforms.i18n import messages_path


@functools.lru_cache(maxsize=16)
def _wtforms_translations(locale: str) -> Translations:
    return Translations.load(messages_path(), [locale], domain="wtforms")


class PortalForm(FlaskForm):
    """A Flask-WTF form whose WTForms messages ("This field is required.") come from a catalog read
    once per language: Flask-WTF reads it from disk again in every request that uses a form."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form):
            locale = get_locale()
            return None if locale is None else _wtforms_translations(str(locale))



class ServiceErrorsMixin:
    """For forms whose rules live in a service: the service names the field an error belongs to."""

    def add_error(self, field: str | None, message: str) -> None:
        """Show a service's error on its field, or above the form when it names none."""
        target = getattr(self, field, None) if field else None
        if target is None:
            self.form_errors.append(message)
        else:
            target.errors = [*target.errors, message] if isinstance(target.errors, list) else [message]

"""Integer ids in URLs and forms, one way everywhere: ASCII digits, 1 to 2**31 - 1 (the range of the
smallest id column on PostgreSQL, which raises on a larger value rather than finding nothing).

Routes use ``<id:name>``: anything else, ``١٢`` or ``99999999999999999999`` included, is no match,
so a 404. Forms use ``IdField`` (or ``parse_id`` for a single posted value): a form error, never a 500.
"""
from __future__ import annotations

from werkzeug.routing import IntegerConverter
from wtforms import Field
from wtforms.widgets import HiddenInput

MAX_ID = 2**31 - 1
MAX_DIGITS = len(str(MAX_ID))


def parse_id(raw) -> int | None:
    """The id ``raw`` names, or None when it is not one."""
    text = raw.strip() if isinstance(raw, str) else ""
    if not (text.isascii() and text.isdigit() and 0 < len(text) <= MAX_DIGITS):
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


class IdConverter(IntegerConverter):
    # werkzeug's \d+ also matches other scripts' digits.
    regex = rf"[0-9]{{1,{MAX_DIGITS}}}"

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


class IdField(Field):
    """A posted id; ``data`` is an int or None, and an invalid value is a form error."""

    widget = HiddenInput()

    def __init__(self, label=None, validators=None, message=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.message = message

    def _value(self):
        return "" if self.data is None else str(self.data)

    def process_formdata(self, valuelist):
        self.data = parse_id(valuelist[0]) if valuelist else None
        if valuelist and self.data is None:
            from portal.i18n import gettext as _

            raise ValueError(str(self.message) if self.message else _("This is not a valid choice."))


def init_app(app) -> None:
    """Before any blueprint is registered: their rules are compiled with the converter."""
    app.url_map.converters["id"] = IdConverter

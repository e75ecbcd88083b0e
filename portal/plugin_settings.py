"""Typed plugin settings: each plugin declares its settings (hook ``portal_settings``) and the
operator's values are read against that declaration.

Values arrive as JSON (``PORTAL_PLUGINS__x__y``), from ``instance/portal.cfg`` or from the
environment (``{"$env": "NAME"}``, always text), so "False", "0" and "no" must read as false, never
as a truthy string. A value of the wrong type, or a key the plugin does not declare (a typo that
would silently leave a default in force), stops startup naming the plugin and the key.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

TYPES = ("str", "bool", "int", "float", "secret", "url")
TRUE = ("true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off")


@dataclass(frozen=True)
class Setting:
    """One setting of a plugin: its ``type`` ("str", "bool", "int", "float", "secret" or "url"), whether the
    plugin cannot run without it, and the value it has when the operator gives none."""

    type: str = "str"
    required: bool = False
    default: Any = None

    def __post_init__(self):
        if self.type not in TYPES:
            raise ValueError(f"setting type {self.type!r} is none of {', '.join(TYPES)}")


class SettingTypeError(ValueError):
    """A value does not fit its setting's type; the message says what was expected."""


def unset(value) -> bool:
    return value is None or value == ""


def parse_value(kind: str, value):
    """``value`` read as a ``kind`` setting; raises SettingTypeError."""
    if kind in ("str", "secret"):
        # JSON turns a numeric id (an app id, a merchant number) into a number: it is still text.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str):
            return value
        raise SettingTypeError("must be text")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in TRUE + FALSE:
            return value.strip().lower() in TRUE
        raise SettingTypeError('must be true or false ("true"/"false", "yes"/"no", "1"/"0")')
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
            return int(value.strip())
        raise SettingTypeError("must be a whole number")
    if kind == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value.strip()):
            return float(value.strip())
        raise SettingTypeError("must be a number")
    # url
    if isinstance(value, str):
        parts = urlsplit(value)
        if parts.scheme in ("http", "https") and parts.hostname:
            return value
    raise SettingTypeError("must be an http(s) URL")


def parse_settings(plugin: str, declared: dict[str, Setting], values: dict) -> dict:
    """The plugin's settings, typed, with defaults for the ones not given. Raises PluginError
    naming the plugin and the key for an unknown key or a value of the wrong type."""
    from portal.plugins import PluginError

    parsed = {}
    for key, value in values.items():
        setting = declared.get(key)
        if setting is None:
            raise PluginError(
                f"plugin {plugin!r} has no setting {key!r} (its settings: {', '.join(sorted(declared))})"
            )
        if unset(value):
            continue
        try:
            parsed[key] = parse_value(setting.type, value)
        except SettingTypeError as exc:
            shown = "(hidden)" if setting.type == "secret" else repr(value)[:80]
            raise PluginError(f"plugin {plugin!r} setting {key!r} {exc} (it is {shown})") from None
    for key, setting in declared.items():
        if key not in parsed and setting.default is not None:
            parsed[key] = setting.default
    return parsed

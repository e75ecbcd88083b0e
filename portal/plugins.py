"""Plugin discovery and the per-app plugin manager.

Plugins are installed distributions that declare an entry point in the ``portal.plugins`` group.
Operators choose which ones load with ``PLUGINS_ENABLED`` (an allow-list) and ``PLUGINS_DISABLED``
(a block-list); a blocked plugin is never imported.
"""
from __future__ import annotations

import importlib.metadata
import os
from dataclasses import dataclass, field

import pluggy
from flask import current_app

from portal import hookspecs

PROJECT = "portal"
ENTRY_POINT_GROUP = "portal.plugins"

hookimpl = pluggy.HookimplMarker(PROJECT)


class PluginError(RuntimeError):
    """A plugin could not be loaded or is missing required settings; startup stops."""


class DeliveryError(RuntimeError):
    """A message (email, SMS) could not be handed to its provider."""


@dataclass
class PluginInfo:
    name: str
    version: str
    enabled: bool
    missing_config: list[str] = field(default_factory=list)
    # Why an enabled plugin could not be loaded (its import failed); None when it loaded.
    error: str | None = None


def _installed_entry_points():
    return sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def _is_enabled(name: str, config) -> bool:
    allowed = config.get("PLUGINS_ENABLED")
    if allowed is not None and name not in allowed:
        return False
    return name not in (config.get("PLUGINS_DISABLED") or ())


def resolve_settings(raw: dict) -> dict:
    """Replace ``{"$env": "NAME"}`` values with the environment variable NAME (None when unset)."""
    resolved = {}
    for key, value in raw.items():
        if isinstance(value, dict) and set(value) == {"$env"}:
            value = os.environ.get(value["$env"])
        resolved[key] = value
    return resolved


def plugin_config(name: str, config=None) -> dict:
    """The settings of plugin ``name`` (``PLUGINS[name]``), secrets resolved from the environment."""
    config = current_app.config if config is None else config
    return resolve_settings((config.get("PLUGINS") or {}).get(name) or {})


def missing_settings(name: str, required, config) -> list[str]:
    settings = plugin_config(name, config)
    return [key for key in required if settings.get(key) in (None, "")]


def create_plugin_manager(
    config, strict: bool = True, load_errors: dict | None = None
) -> pluggy.PluginManager:
    """Build a manager: load the enabled plugins and check each one's required settings.

    ``strict=False`` skips the settings check and, when ``load_errors`` is given, records plugins
    that fail to load there instead of raising (for listing plugins on a misconfigured site)."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    for ep in _installed_entry_points():
        if not _is_enabled(ep.name, config):
            pm.set_blocked(ep.name)
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:  # noqa: BLE001 - any import error stops startup, with the name
            if strict or load_errors is None:
                raise PluginError(f"plugin {ep.name!r} failed to load: {exc}") from exc
            load_errors[ep.name] = f"failed to load: {exc}"
    for plugin in config.get("PLUGINS_EXTRA", ()):  # plugin objects given directly (tests, embedding)
        pm.register(plugin)
    while True:
        try:
            pm.check_pending()
            break
        except pluggy.PluginValidationError as exc:
            name = pm.get_name(exc.plugin) or repr(exc.plugin)
            if strict or load_errors is None:
                raise PluginError(f"plugin {name!r} is invalid: {exc}") from exc
            load_errors[name] = f"invalid: {exc}"
            pm.unregister(exc.plugin)
    for name, required in _required_config_by_plugin(pm).items():
        missing = missing_settings(name, required, config)
        if missing and strict:
            raise PluginError(
                f"plugin {name!r} is missing required settings: {', '.join(missing)} "
                f"(set PLUGINS[{name!r}] in the config, or disable the plugin)"
            )
    return pm


def _required_config_by_plugin(pm) -> dict[str, list[str]]:
    required = {}
    for impl in pm.hook.portal_required_config.get_hookimpls():
        required[impl.plugin_name] = list(impl.function() or ())
    return required


def plugin_manager(app=None) -> pluggy.PluginManager:
    return (app or current_app).extensions["portal.plugins"]


def hook(app=None):
    """The hook caller of the current app: ``hook().portal_blueprints()``."""
    return plugin_manager(app).hook


def list_plugins(config) -> list[PluginInfo]:
    """Every installed plugin, loaded or not, for ``flask portal plugins``.

    Works from the config alone, so it can explain why a site refuses to start."""
    load_errors: dict[str, str] = {}
    pm = create_plugin_manager(config, strict=False, load_errors=load_errors)
    required = _required_config_by_plugin(pm)
    infos = []
    for ep in _installed_entry_points():
        version = ep.dist.version if ep.dist else "?"
        enabled = _is_enabled(ep.name, config)
        loaded = pm.has_plugin(ep.name)
        missing = missing_settings(ep.name, required.get(ep.name, ()), config) if loaded else []
        infos.append(PluginInfo(ep.name, version, enabled, missing, load_errors.get(ep.name)))
    return infos

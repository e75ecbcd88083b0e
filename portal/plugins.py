"""Plugin discovery and the per-app plugin manager.

Plugins are installed distributions that declare an entry point in the ``portal.plugins`` group.
Operators choose which ones load with ``PLUGINS_ENABLED`` (an allow-list) and ``PLUGINS_DISABLED``
(a block-list); a blocked plugin is never imported.
"""
from __future__ import annotations

import importlib.metadata
import logging
import os
from dataclasses import dataclass, field, replace

import pluggy
from flask import current_app

from portal import hookspecs
from portal.plugin_settings import Setting, parse_settings, unset

__all__ = ["DeliveryError", "PluginError", "Setting", "hook", "hookimpl", "plugin_config", "plugin_manager"]

PROJECT = "portal"
ENTRY_POINT_GROUP = "portal.plugins"

hookimpl = pluggy.HookimplMarker(PROJECT)
log = logging.getLogger(__name__)


class PluginError(RuntimeError):
    """A plugin could not be loaded or is missing required settings; startup stops."""


class DeliveryError(RuntimeError):
    """A message (email, SMS) could not be handed to its provider."""


@dataclass
class PluginInfo:
    name: str
    version: str
    # "yes" (loaded), "no" (PLUGINS_ENABLED / PLUGINS_DISABLED leave it out) or "unconfigured"
    # (installed, given no settings: it stays off).
    enabled: str
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


def _raw_settings(name: str, config) -> dict:
    return (config.get("PLUGINS") or {}).get(name) or {}


def _typed_settings(name: str, config, declared: dict | None) -> dict:
    resolved = resolve_settings(_raw_settings(name, config))
    return resolved if declared is None else parse_settings(name, declared, resolved)


def plugin_config(name: str, app=None) -> dict:
    """The settings of plugin ``name`` (``PLUGINS[name]``): secrets resolved from the environment,
    values typed as the plugin declares them (hook ``portal_settings``), defaults filled in."""
    app = app or current_app
    declared = app.extensions.get("portal.plugin_settings", {}).get(name)
    return _typed_settings(name, app.config, declared)


def declared_settings(pm) -> dict[str, dict[str, Setting] | None]:
    """Each loaded plugin's declared settings: from ``portal_settings`` (typed) merged with
    ``portal_required_config`` (untyped names, read as required text); None when it declares none."""
    declared: dict[str, dict[str, Setting] | None] = {}
    for impl in pm.hook.portal_settings.get_hookimpls():
        declared[impl.plugin_name] = dict(impl.function() or {})
    for impl in pm.hook.portal_required_config.get_hookimpls():
        names = list(impl.function() or ())
        if impl.plugin_name in declared:
            own = declared[impl.plugin_name]
            for key in names:
                own[key] = replace(own.get(key) or Setting(), required=True)
        else:
            # Only names: the plugin's other settings are unknown, so they are not checked.
            declared[impl.plugin_name] = None
    return declared


def required_settings(pm) -> dict[str, list[str]]:
    """The settings each loaded plugin cannot run without."""
    required: dict[str, list[str]] = {}
    for impl in pm.hook.portal_settings.get_hookimpls():
        settings = impl.function() or {}
        required[impl.plugin_name] = [key for key, setting in settings.items() if setting.required]
    for impl in pm.hook.portal_required_config.get_hookimpls():
        own = required.setdefault(impl.plugin_name, [])
        own.extend(key for key in impl.function() or () if key not in own)
    return required


def missing_settings(name: str, required, config) -> list[str]:
    settings = resolve_settings(_raw_settings(name, config))
    return [key for key in required if unset(settings.get(key))]


def unconfigured(name: str, required, config) -> bool:
    """Installed, needing settings, and given none at all (nor named in PLUGINS_ENABLED): such a
    plugin stays off, so that a fresh site starts (and migrates) before any plugin is set up."""
    named = name in (config.get("PLUGINS_ENABLED") or ())
    given = [key for key, value in _raw_settings(name, config).items() if not unset(value)]
    return bool(required) and not given and not named


def create_plugin_manager(
    config, strict: bool = True, load_errors: dict | None = None, skipped: dict | None = None
) -> pluggy.PluginManager:
    """Build a manager: load the enabled plugins and check each one's settings.

    An installed plugin given no settings at all stays off (logged once; in ``skipped``, the plugins
    left off and their required settings);
    one given only some of its required settings, or named in PLUGINS_ENABLED without them, or given
    a value of the wrong type, stops startup.

    ``strict=False`` skips the settings checks and, when ``load_errors`` is given, records plugins
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
    declared = declared_settings(pm)
    for name, required in required_settings(pm).items():
        if unconfigured(name, required, config):
            if strict:  # (the listing shows it instead)
                log.warning("plugin %r is installed but not configured: it stays off (give it its "
                            "settings in PLUGINS[%r], or list it in PLUGINS_DISABLED)", name, name)
            pm.unregister(name=name)
            pm.set_blocked(name)
            if skipped is not None:
                skipped[name] = required
            continue
        missing = missing_settings(name, required, config)
        if missing and strict:
            raise PluginError(
                f"plugin {name!r} is missing required settings: {', '.join(missing)} "
                f"(set PLUGINS[{name!r}] in the config, or disable the plugin)"
            )
    if strict:
        for name, own in declared.items():
            if own is not None and pm.has_plugin(name):
                _typed_settings(name, config, own)
        _check_message_channels(pm)
    return pm


def _check_message_channels(pm) -> None:
    """One plugin per verification-code channel: two would race to deliver the same code."""
    owners: dict[str, str] = {}
    for impl in pm.hook.portal_message_channels.get_hookimpls():
        for channel in impl.function() or ():
            if channel in owners:
                raise PluginError(
                    f"plugins {owners[channel]!r} and {impl.plugin_name!r} both deliver codes over "
                    f"{channel!r}: disable one (PLUGINS_DISABLED)"
                )
            owners[channel] = impl.plugin_name


def plugin_manager(app=None) -> pluggy.PluginManager:
    return (app or current_app).extensions["portal.plugins"]


def hook(app=None):
    """The hook caller of the current app: ``hook().portal_blueprints()``."""
    return plugin_manager(app).hook


def list_plugins(config) -> list[PluginInfo]:
    """Every installed plugin, loaded or not, for ``flask portal plugins``.

    Works from the config alone, so it can explain why a site refuses to start."""
    load_errors: dict[str, str] = {}
    skipped: dict[str, list[str]] = {}
    pm = create_plugin_manager(config, strict=False, load_errors=load_errors, skipped=skipped)
    required = {**required_settings(pm), **skipped}
    infos = []
    for ep in _installed_entry_points():
        version = ep.dist.version if ep.dist else "?"
        if not _is_enabled(ep.name, config):
            state = "no"
        elif ep.name in skipped:
            state = "unconfigured"
        else:
            state = "yes"
        missing = missing_settings(ep.name, required.get(ep.name, ()), config) if state != "no" else []
        infos.append(PluginInfo(ep.name, version, state, missing, load_errors.get(ep.name)))
    return infos


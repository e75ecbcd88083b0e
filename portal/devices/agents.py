"""A short name for a device from its user agent ("Chrome on Windows", "WeChat on iOS"): enough for
a person to recognise their own devices. Not a fingerprint, and never used to decide access."""
from __future__ import annotations

import re

# Most specific first: Edge and the Chinese in-app browsers also say "Chrome" and "Safari".
_BROWSERS = [
    ("WeChat", re.compile(r"MicroMessenger", re.I)),
    ("QQ", re.compile(r"\bQQ/|MQQBrowser", re.I)),
    ("Edge", re.compile(r"Edg(e|A|iOS)?/")),
    ("Opera", re.compile(r"OPR/|Opera")),
    ("Firefox", re.compile(r"Firefox/|FxiOS/")),
    ("Chrome", re.compile(r"Chrome/|CriOS/|HeadlessChrome/")),
    ("Safari", re.compile(r"Safari/")),
    ("curl", re.compile(r"^curl/")),
]
_SYSTEMS = [
    ("iOS", re.compile(r"iPhone|iPad|iPod")),
    ("Android", re.compile(r"Android")),
    ("HarmonyOS", re.compile(r"HarmonyOS|OpenHarmony")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Macintosh|Mac OS X")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Linux", re.compile(r"Linux|X11")),
]


def _first(patterns, agent: str) -> str | None:
    return next((name for name, pattern in patterns if pattern.search(agent)), None)


def describe(user_agent: str | None) -> str:
    """"Browser on System", or as much of it as the agent tells; "Unknown device" otherwise."""
    agent = user_agent or ""
    browser, system = _first(_BROWSERS, agent), _first(_SYSTEMS, agent)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown device"

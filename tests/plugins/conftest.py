"""What the payment channel tests share: the channel under test, a sink for its notifications and the
sandbox's control endpoints."""

from __future__ import annotations

import time

import requests


def payment_channel(name):
    """The installed payment channel called ``name`` (call inside an app context)."""
    from portal.plugins import hook

    return next(c for found in hook().portal_payment_channels() for c in found if c.name == name)


def fast_notifications(sandbox, control_path, receiver):
    """Fixture body: yields ``receiver`` while the sandbox sends notifications without waiting, then
    cancels the ones still scheduled so none reaches the next test."""
    sandbox.app.config["NOTIFY_TIME_SCALE"] = 0.001
    yield receiver
    receiver.close()
    requests.post(f"{sandbox.url}{control_path}/notifications/cancel", timeout=10)
    sandbox.app.config.pop("NOTIFY_TIME_SCALE", None)
    sandbox.clock_offset = 0


def sandbox_control(control_path):
    """``control(sandbox, action, **data)``: posts to ``control_path/action`` and returns the JSON answer."""

    def control(sandbox, action, **data):
        response = requests.post(sandbox.url + f"{control_path}/{action}", json=data, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    return control


def wait_for_notifications(sink, count=1):
    deadline = time.monotonic() + 15
    while len(sink.received) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(sink.received) >= count, sink.received
    return sink.received


def required_settings(app, plugin_name):
    """The setting names the plugin declares it needs."""
    from portal.plugins import plugin_manager, required_settings

    return set(required_settings(plugin_manager(app))[plugin_name])

"""What the payment sandbox tests share: notifications sent without waiting, and waiting for them."""

from __future__ import annotations

import time

import requests


def fast_notifications(sandbox, control_path, client):
    """Fixture body: yields ``client`` while the sandbox sends notifications without waiting, then
    cancels the ones still scheduled so none reaches the next test."""
    sandbox.app.config["NOTIFY_TIME_SCALE"] = 0.001
    yield client
    requests.post(f"{sandbox.url}{control_path}/notifications/cancel", timeout=10)
    sandbox.app.config.pop("NOTIFY_TIME_SCALE", None)
    sandbox.clock_offset = 0


def wait_until(condition):
    deadline = time.monotonic() + 15
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert condition()

"""Payment notification delivery for the sandbox's payment providers.

A provider hands over a ``Notification`` (how to render it at a given time, where to send it, which
faults to inject); the ``Notifier`` sends it on the provider's real retry schedule, time-scaled by the
sandbox app's ``NOTIFY_TIME_SCALE``, until the receiver acknowledges it, and logs every attempt (what
was sent, what came back) for tests and people to read.

``NotificationSink`` is a tiny HTTP receiver that records what it gets, for tests that exercise a
channel plugin without a portal behind the notify URL.
"""

from __future__ import annotations

import itertools
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

# Seconds between attempts, after the first send.
WECHATPAY_RETRY_SCHEDULE = (
    15,
    15,
    30,
    180,
    600,
    1200,
    1800,
    1800,
    1800,
    3600,
    10800,
    10800,
    10800,
    21600,
    21600,
)
ALIPAY_RETRY_SCHEDULE = (240, 600, 600, 3600, 7200, 21600, 54000)
# Both providers give up on a receiver that does not answer within a few seconds.
SEND_TIMEOUT_SECONDS = 5
LOG_LIMIT = 2000


def default_time_scale() -> float:
    # 1.0 is the real schedule; tests and demos shrink it (0.01 turns 15 s into 0.15 s).
    return float(os.environ.get("PORTAL_SANDBOX_NOTIFY_TIME_SCALE", "1.0"))


@dataclass
class Faults:
    """What to do wrong with one notification (set through the control API when paying)."""

    duplicate: int = 1  # send the first attempt that is not dropped this many times, concurrently
    delay: float = 0.0  # real seconds before the first attempt
    drop: int = 0  # attempts not sent at all (-1: never send)
    tamper_amount: int | None = None  # amount in fen to claim instead, validly signed
    bad_signature: bool = False
    signtest: bool = False  # WECHATPAY/SIGNTEST/ probe prefix on the signature
    foreign_merchant: bool = False  # another merchant's id, validly signed
    stale: bool = False  # signed with a timestamp ten minutes old
    # Render and sign once, then keep it in the notifier's ``held`` instead of sending: a load test
    # replays such pre-signed notifications without the sandbox (or any signing) on its hot path.
    hold: bool = False

    @classmethod
    def from_json(cls, data: dict | None) -> "Faults":
        data = data or {}
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown faults: {', '.join(sorted(unknown))}")
        faults = cls(**data)
        if not isinstance(faults.duplicate, int) or not 1 <= faults.duplicate <= 200:
            raise ValueError("duplicate must be an integer from 1 to 200")
        if not isinstance(faults.drop, int) or faults.drop < -1:
            raise ValueError("drop must be an integer >= -1")
        if faults.tamper_amount is not None and not isinstance(faults.tamper_amount, int):
            raise ValueError("tamper_amount must be an integer (fen)")
        return faults

    def active(self) -> list[str]:
        defaults = Faults()
        return [name for name in self.__dataclass_fields__ if getattr(self, name) != getattr(defaults, name)]


@dataclass
class Notification:
    out_trade_no: str
    url: str
    # render(now) -> (headers, body): re-rendered per attempt (fresh timestamp and signature).
    render: Callable[[datetime], tuple[dict, bytes]]
    faults: Faults = field(default_factory=Faults)


class Notifier:
    """Delivers notifications for one provider; ``accepted(status, body)`` says what counts as an ack."""

    def __init__(self, sandbox, schedule: tuple, accepted: Callable[[int, bytes], bool]):
        self.sandbox = sandbox
        self.schedule = schedule
        self.accepted = accepted
        self.log: list[dict] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        # out_trade_no -> (url, headers, body) of each notification paid with the ``hold`` fault.
        self.held: dict[str, tuple[str, dict, bytes]] = {}

    def time_scale(self) -> float:
        return float(self.sandbox.app.config.get("NOTIFY_TIME_SCALE", default_time_scale()))

    def deliver(self, notification: Notification) -> None:
        threading.Thread(
            target=self._run, args=(notification, self._stopping), daemon=True, name="sandbox-notify"
        ).start()

    def stop(self) -> None:
        self._stopping.set()

    def cancel_pending(self) -> None:
        """Stop retrying everything sent so far (between tests, so no retry reaches a later receiver)."""
        with self._lock:
            stopping, self._stopping = self._stopping, threading.Event()
        stopping.set()

    def entries(self, out_trade_no: str | None = None) -> list[dict]:
        with self._lock:
            return [dict(e) for e in self.log if out_trade_no in (None, e["out_trade_no"])]

    def entry(self, entry_id: int) -> dict | None:
        with self._lock:
            return next((dict(e) for e in self.log if e["id"] == entry_id), None)

    def resend(self, entry: dict) -> dict:
        """Send a logged notification again, byte for byte (a replay), once."""
        return self._send(
            entry["out_trade_no"],
            entry["url"],
            entry["headers"],
            entry["body"].encode(),
            attempt=entry["attempt"],
            faults=["replay"],
        )

    def _run(self, notification: Notification, stopping: threading.Event) -> None:
        faults = notification.faults
        if faults.hold:
            headers, body = notification.render(self.sandbox.now())
            with self._lock:
                self.held[notification.out_trade_no] = (notification.url, headers, body)
            return
        if faults.delay and stopping.wait(faults.delay):
            return
        first_send = True
        for attempt, wait in enumerate((0,) + self.schedule, start=1):
            if wait and stopping.wait(wait * self.time_scale()):
                return
            if faults.drop == -1 or attempt <= faults.drop:
                self._record(
                    notification.out_trade_no, notification.url, {}, b"", attempt, ["drop"], dropped=True
                )
                continue
            headers, body = notification.render(self.sandbox.now())
            copies, first_send = (faults.duplicate if first_send else 1), False
            if self._send_copies(notification, headers, body, attempt, copies):
                return

    def _send_copies(self, notification, headers, body, attempt, copies) -> bool:
        if copies == 1:
            return self._send(
                notification.out_trade_no,
                notification.url,
                headers,
                body,
                attempt,
                notification.faults.active(),
            )["accepted"]
        start = threading.Barrier(copies)
        results = []

        def send_one():
            start.wait()
            results.append(
                self._send(
                    notification.out_trade_no,
                    notification.url,
                    headers,
                    body,
                    attempt,
                    notification.faults.active(),
                )["accepted"]
            )

        threads = [threading.Thread(target=send_one, daemon=True) for _ in range(copies)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return any(results)

    def _send(self, out_trade_no, url, headers, body: bytes, attempt, faults) -> dict:
        status, answer, error = None, b"", None
        try:
            response = requests.post(
                url, data=body, headers=headers, timeout=SEND_TIMEOUT_SECONDS, allow_redirects=False
            )
            status, answer = response.status_code, response.content
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
        accepted = status is not None and self.accepted(status, answer)
        return self._record(
            out_trade_no,
            url,
            headers,
            body,
            attempt,
            faults,
            status=status,
            answer=answer,
            error=error,
            accepted=accepted,
        )

    def _record(
        self,
        out_trade_no,
        url,
        headers,
        body,
        attempt,
        faults,
        status=None,
        answer=b"",
        error=None,
        accepted=False,
        dropped=False,
    ) -> dict:
        entry = {
            "id": next(self._ids),
            "out_trade_no": out_trade_no,
            "url": url,
            "attempt": attempt,
            "faults": list(faults),
            "sent_at": self.sandbox.now().isoformat(),
            "headers": dict(headers),
            "body": body.decode("utf-8"),
            "dropped": dropped,
            "status": status,
            "response": answer[:2000].decode("utf-8", "replace"),
            "error": error,
            "accepted": accepted,
        }
        with self._lock:
            self.log.append(entry)
            del self.log[:-LOG_LIMIT]
        return dict(entry)


class NotificationSink:
    """A receiver on 127.0.0.1 that records each request and answers ``status``/``body``."""

    def __init__(self, status: int = 200, body: bytes = b"", content_type: str = "text/plain"):
        self.status, self.body, self.content_type = status, body, content_type
        self.received: list[dict] = []
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/notify"
        threading.Thread(target=self._server.serve_forever, daemon=True, name="notify-sink").start()

    @Request.application
    def _app(self, request: Request) -> Response:
        with self._lock:
            self.received.append(
                {"headers": dict(request.headers), "body": request.get_data(), "form": request.form.to_dict()}
            )
            return Response(self.body, status=self.status, content_type=self.content_type)

    def answer(self, status: int, body: bytes = b"") -> None:
        with self._lock:
            self.status, self.body = status, body

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def in_outage(sandbox, provider: str) -> bool:
    """Whether this API call fails (and counts down) because of an outage set through the control API."""
    with sandbox.lock:
        state = sandbox.state[provider]
        if state.get("outage", 0) > 0:
            state["outage"] -= 1
            return True
        return False


def add_control_routes(bp, prefix: str, provider: str) -> None:
    """The control routes both payment providers share: notification log, replay and cancel, outage
    (the next N API calls fail as the provider's transient errors do), clock, time scale."""
    from flask import current_app, jsonify, request

    def notifier() -> Notifier:
        return current_app.extensions["sandbox"].state[provider]["notifier"]

    @bp.get(prefix + "/notifications")
    def notifications():
        return jsonify(notifier().entries(request.args.get("out_trade_no")))

    @bp.post(prefix + "/notifications/cancel")
    def cancel():
        notifier().cancel_pending()
        return jsonify(cancelled=True)

    @bp.post(prefix + "/notifications/<int:entry_id>/replay")
    def replay(entry_id):
        entry = notifier().entry(entry_id)
        if entry is None or entry["dropped"]:
            return jsonify(error="no such notification was sent"), 404
        return jsonify(notifier().resend(entry))

    @bp.post(prefix + "/outage")
    def outage():
        calls = (request.get_json(silent=True) or {}).get("calls")
        if type(calls) is not int or calls < 0:
            return jsonify(error="calls (how many API calls fail) must be an integer >= 0"), 400
        current_app.extensions["sandbox"].state[provider]["outage"] = calls
        return jsonify(calls=calls)

    @bp.post(prefix + "/clock")
    def clock():
        offset = (request.get_json(silent=True) or {}).get("offset")
        if type(offset) not in (int, float):
            return jsonify(error="offset (seconds) is required"), 400
        current_app.extensions["sandbox"].clock_offset = offset
        return jsonify(offset=offset)

    @bp.post(prefix + "/settings")
    def settings():
        scale = (request.get_json(silent=True) or {}).get("notify_time_scale")
        if type(scale) not in (int, float) or not 0 < scale <= 1000:
            return jsonify(error="notify_time_scale must be a number in (0, 1000]"), 400
        current_app.config["NOTIFY_TIME_SCALE"] = scale
        return jsonify(notify_time_scale=scale)

"""The provider sandbox: a small Flask app on 127.0.0.1 that speaks each external provider's real
protocol (formats, errors, signatures), so the real plugins run offline.

Each module in ``portal_devkit.sandbox.providers`` is one provider and may define:
- ``bp``: a blueprint mounted at the provider's prefix;
- ``setup(sandbox)``: create keys and state (``sandbox.state[<name>]``) before serving;
- ``start(sandbox)`` / ``stop(sandbox)``: run and stop extra servers (the SMTP sink);
- ``plugin_settings(sandbox)``: the settings that point the matching portal plugins here.
"""
from __future__ import annotations

import importlib
import pkgutil
import socket
import threading
from datetime import datetime, timedelta
from pathlib import Path

from flask import Flask, render_template
from werkzeug.serving import make_server

from portal.timeutil import utcnow

from . import providers as _providers_pkg


def serve(host: str, port: int, app):
    """A threaded WSGI server for ``app`` on ``host:port`` (0: a free port). A port in use raises
    OSError (Werkzeug's own binding would print a message and exit instead)."""
    listener = socket.create_server((host, port))
    try:
        return make_server(host, listener.getsockname()[1], app, threaded=True, fd=listener.fileno())
    finally:
        listener.close()  # the server holds its own duplicate of the socket


def provider_modules():
    return [
        importlib.import_module(f"{_providers_pkg.__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(_providers_pkg.__path__), key=lambda i: i.name)
    ]


class Sandbox:
    """A running sandbox: HTTP on ``url``, plus whatever servers the providers start."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, smtp_port: int = 0):
        self.host = host
        self.port = port
        self.smtp_port = smtp_port
        self.state: dict = {}
        self.lock = threading.RLock()
        # Seconds added to the sandbox's clock (fault injection: clock skew, expiry).
        self.clock_offset = 0
        self.modules = provider_modules()
        self.app = create_sandbox_app(self)
        self._server = None
        self._thread = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def now(self) -> datetime:
        return utcnow() + timedelta(seconds=self.clock_offset)

    def start(self) -> "Sandbox":
        for module in self.modules:
            if hasattr(module, "setup"):
                module.setup(self)
        self._server = serve(self.host, self.port, self.app)
        self.port = self._server.port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="sandbox-http")
        self._thread.start()
        for module in self.modules:
            if hasattr(module, "start"):
                module.start(self)
        return self

    def stop(self) -> None:
        for module in self.modules:
            if hasattr(module, "stop"):
                module.stop(self)
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def serve_forever(self) -> None:
        """Block until interrupted (starting first unless ``start()`` was called)."""
        if self._thread is None:
            self.start()
        try:
            self._thread.join()
        except KeyboardInterrupt:
            self.stop()

    def plugin_settings(self) -> dict:
        """``PLUGINS`` settings that point every bundled plugin at this sandbox."""
        settings: dict = {}
        for module in self.modules:
            if hasattr(module, "plugin_settings"):
                for name, values in module.plugin_settings(self).items():
                    settings.setdefault(name, {}).update(values)
        return settings


def create_sandbox_app(sandbox: Sandbox) -> Flask:
    app = Flask(
        "portal_devkit.sandbox",
        template_folder=str(Path(__file__).resolve().parent / "templates"),
        static_folder=None,
    )
    app.config["SECRET_KEY"] = "sandbox"
    app.extensions["sandbox"] = sandbox
    for module in sandbox.modules:
        if hasattr(module, "bp"):
            app.register_blueprint(module.bp)

    @app.get("/")
    def index():
        return render_template("sandbox/index.html", sandbox=sandbox)

    return app

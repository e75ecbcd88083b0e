"""Real gunicorn instances of the portal, and a round-robin balancer in front of them (what the
payment channels post their notifications to), for the several-instances tests and the bench."""
from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from .backends import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
# Hop-by-hop headers a proxy does not forward.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length",
              "host"}


def environment(config: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    for key, value in config.items():
        env[f"PORTAL_{key}"] = value if isinstance(value, str) else json.dumps(value)
    return env


class Instance:
    """``gunicorn wsgi:app`` on its own port (gthread: 2 workers x 4 threads, as in production)."""

    def __init__(self, config: dict, workers: int = 2):
        self.config = config
        self.workers = workers
        self.port = free_port()
        self.instance_path = tempfile.mkdtemp(prefix="portal-instance-")
        self.log = tempfile.NamedTemporaryFile("w+b", prefix="portal-gunicorn-", suffix=".log", delete=False)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Instance":
        env = environment({**self.config, "INSTANCE_PATH": self.instance_path})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}", "--worker-class", "gthread",
             "--workers", str(self.workers), "--threads", "4", "--timeout", "30", "wsgi:app"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_for(self._ready, timeout=180, what=f"gunicorn on port {self.port} (log: {self.log.name})")
        return self

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"gunicorn exited: {self.logged()[-3000:]}")
        try:
            return requests.get(self.url + "/healthz", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def logged(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def worker_pids(self) -> set[int]:
        from .backends import _children

        return set(_children(self.process.pid))

    def kill9(self) -> None:
        """Kill the master and its workers at once, as a crashed host would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill9()


class Balancer:
    """Forwards each request to the next instance in turn; an instance that does not answer gets a
    502 back to the client (a payment channel then retries, and the retry goes to the next one)."""

    def __init__(self, instances: list[Instance]):
        self.instances = instances
        self.forwarded = [0] * len(instances)
        self.failed = [0] * len(instances)
        self._next = itertools.count()
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True, name="balancer").start()

    def _app(self, environ, start_response):
        request = Request(environ)
        with self._lock:
            index = next(self._next) % len(self.instances)
        target = self.instances[index]
        try:
            answer = requests.request(
                request.method, target.url + request.full_path.rstrip("?"), data=request.get_data(),
                headers={k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP},
                allow_redirects=False, timeout=20)
        except requests.RequestException:
            with self._lock:
                self.failed[index] += 1
            return Response("bad gateway", 502)(environ, start_response)
        with self._lock:
            self.forwarded[index] += 1
        headers = [(k, v) for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP | {"content-encoding"}]
        return Response(answer.content, answer.status_code, headers)(environ, start_response)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

"""portal-devkit: the demo and the sandbox announce themselves only once they listen, and a busy port
is one clear line."""
from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import requests

DEVKIT = [sys.executable, "-c", "from portal_devkit.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def busy_port():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener.getsockname()[1]


def run_devkit(*args, timeout=60):
    return subprocess.run([*DEVKIT, *args], capture_output=True, text=True, timeout=timeout)


def test_a_busy_sandbox_port_is_one_line_and_exit_status_2(busy_port):
    result = run_devkit("sandbox", "--port", str(busy_port), "--smtp-port", str(free_port()))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert f"HTTP port {busy_port}" in result.stderr


def test_a_busy_smtp_port_is_one_line(busy_port):
    result = run_devkit("sandbox", "--port", str(free_port()), "--smtp-port", str(busy_port))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"SMTP port {busy_port}" in result.stderr


def test_a_busy_demo_port_is_one_line_and_nothing_is_announced(busy_port, tmp_path):
    result = subprocess.run(
        [*DEVKIT, "demo", "--port", str(busy_port), "--sandbox-port", str(free_port()),
         "--smtp-port", str(free_port())],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**__import__("os").environ, "PORTAL_INSTANCE_PATH": str(tmp_path)},
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"port {busy_port}" in result.stderr
    assert "Portal:" not in result.stdout


def test_the_sandbox_serves_once_it_says_so():
    port = free_port()
    process = subprocess.Popen(
        [*DEVKIT, "sandbox", "--port", str(port), "--smtp-port", str(free_port())],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        first_line = process.stdout.readline()
        assert first_line.startswith(f"Provider sandbox on http://127.0.0.1:{port}"), (
            first_line + process.stderr.read() if process.poll() is not None else first_line
        )
        # Announced only after binding: the very next request is answered.
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=30)

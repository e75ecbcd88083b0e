"""While ``scripts/run`` (``portal-devkit demo``) runs, the operator commands the README names work as
typed in another terminal: ``portal withdrawals approve ID`` pays a waiting withdrawal through the
demo's sandbox, ``portal withdrawals reject ID --reason …`` gives it back. The demo leaves an
operator's own portal.cfg alone and takes its own away when it stops."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from portal_devkit.cli import DEMO_SETTINGS_MARKER, DEMO_USER, remove_demo_settings, write_demo_settings

DEVKIT = [sys.executable, "-c", "from portal_devkit.cli import main; main()"]
PORTAL = str(Path(sys.executable).parent / "portal")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(instance_path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    return {**env, "PORTAL_INSTANCE_PATH": str(instance_path), "TZ": "Asia/Shanghai"}


@pytest.fixture
def demo(tmp_path):
    """The demo, started as ``scripts/run`` starts it; yields (sandbox URL, instance folder)."""
    sandbox_port = free_port()
    process = subprocess.Popen(
        [*DEVKIT, "demo", "--port", str(free_port()), "--sandbox-port", str(sandbox_port),
         "--smtp-port", str(free_port())],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=_environment(tmp_path),
    )
    try:
        announced = []
        while not any(line.startswith("Operator commands") for line in announced):
            line = process.stdout.readline()
            assert line, "".join(announced) + process.stderr.read()
            announced.append(line)
        yield f"http://127.0.0.1:{sandbox_port}", tmp_path
    finally:
        process.terminate()
        process.wait(timeout=60)
    # Stopped: the portal.cfg it wrote is gone, and the commands are back to the checkout's own settings.
    assert not (tmp_path / "portal.cfg").exists()


def _portal(instance_path, *args):
    return subprocess.run([PORTAL, *args], capture_output=True, text=True, timeout=120, cwd=instance_path,
                          env=_environment(instance_path))


def _two_waiting_withdrawals(sandbox_url, instance_path) -> list[int]:
    """The demo user, verified (by review, to keep this short), bound to a sandbox persona, with
    ¥500.00, asks for two withdrawals above the demo's automatic approval (100 yuan)."""
    from portal import create_app
    from portal.accounts.access import personal_account
    from portal.billing import ledger
    from portal.extensions import db
    from portal.realname import services as realname
    from portal.users.models import User
    from portal.withdrawals import binding, services
    from portal_devkit.sandbox.providers.alipay import CERT_APP_ID

    # The demo's settings, read from the file it wrote: the same database and sandbox.
    app = create_app({"REALNAME_BACKEND": "realname_manual"}, instance_path=str(instance_path))
    answer = requests.post(f"{sandbox_url}/oauth2/publicAppAuthorize.htm", allow_redirects=False, timeout=10,
                           data={"app_id": CERT_APP_ID, "redirect_uri": "http://localhost/cb", "state": "s",
                                 "persona": "openid"})
    callback = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}
    with app.test_request_context():
        user = db.session.scalar(db.select(User).filter_by(username_key=DEMO_USER[0]))
        realname.decide(realname.start(user, "张小三", "110101199003071233", "http://localhost/"), True, None)
        binding.bind(user, "alipay", callback)
        account = personal_account(user)
        ledger.credit(account.id, 50000, "adjustment", reference="demo money")
        db.session.commit()
        made = [services.request_withdrawal(user, account, fen) for fen in (15000, 12000)]
        assert [w.state for w in made] == ["pending", "pending"]
        ids = [w.id for w in made]
    with app.app_context():
        db.engine.dispose()
    return ids


def test_approve_and_reject_as_the_readme_says_against_the_running_demo(demo):
    sandbox_url, instance_path = demo
    paid, refused = _two_waiting_withdrawals(sandbox_url, instance_path)

    listed = _portal(instance_path, "withdrawals", "list")
    assert listed.returncode == 0, listed.stderr
    assert f"{paid}\tpending\t¥150.00" in listed.stdout and f"{refused}\tpending\t¥120.00" in listed.stdout

    approved = _portal(instance_path, "withdrawals", "approve", str(paid))
    assert approved.returncode == 0, approved.stderr
    assert f"Withdrawal {paid}: succeeded" in approved.stdout
    transfers = requests.get(f"{sandbox_url}/_sandbox/alipay/transfers", timeout=10).json()
    assert [(t["amount"], t["paid"]) for t in transfers] == [("150.00", True)]

    rejected = _portal(instance_path, "withdrawals", "reject", str(refused), "--reason", "演示驳回")
    assert rejected.returncode == 0, rejected.stderr
    assert "¥120.00 released" in rejected.stdout

    verified = _portal(instance_path, "ledger", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_an_operators_own_portal_cfg_is_left_alone(tmp_path):
    own = tmp_path / "portal.cfg"
    own.write_text("SECRET_KEY = 'mine'\n")
    assert write_demo_settings(str(tmp_path), {"ENVIRONMENT": "development"}) is None
    remove_demo_settings(own)
    assert own.read_text() == "SECRET_KEY = 'mine'\n"

    own.unlink()
    written = write_demo_settings(str(tmp_path), {"PLUGINS": {"alipay": {"key": "-----BEGIN-----\nx\n"}}})
    text = written.read_text()
    assert text.startswith(DEMO_SETTINGS_MARKER) and oct(written.stat().st_mode & 0o777) == "0o600"
    namespace: dict = {}
    exec(compile(text, str(written), "exec"), namespace)  # noqa: S102 - what Flask's from_pyfile does
    assert namespace["PLUGINS"] == {"alipay": {"key": "-----BEGIN-----\nx\n"}}
    remove_demo_settings(written)
    assert not written.exists()

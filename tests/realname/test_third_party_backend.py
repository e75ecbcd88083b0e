"""A third party adds a real-name backend without touching the core: a separate distribution with a
``portal.plugins`` entry point (tests/fixtures/example-realname), installed with pip, passes the same
contract as the bundled backends. Its identity service speaks Alipay's protocol, so the sandbox's
Alipay (the app in public-key mode) stands in for it."""
from __future__ import annotations

import pytest
import requests

from portal_devkit.testing.realname import RealnameBackendContract
from tests.example_distributions import importable, pip_install


@pytest.fixture(scope="session")
def example_realname_site(tmp_path_factory):
    return pip_install("example-realname", tmp_path_factory)


@pytest.fixture
def installed_example_realname(example_realname_site, monkeypatch):
    yield from importable(example_realname_site, "example_realname", monkeypatch)


class TestExampleIdCheckContract(RealnameBackendContract):
    backend = "example_idcheck"

    def backend_settings(self, sandbox):
        alipay = sandbox.plugin_settings()["alipay"]
        return {key: alipay[key] for key in ("gateway", "app_id", "app_private_key", "alipay_public_key")}

    @pytest.fixture
    def portal_config(self, installed_example_realname, portal_config, sandbox):
        return {**portal_config, "PLUGINS_ENABLED": [self.backend], "REALNAME_BACKEND": self.backend,
                "PLUGINS": {self.backend: self.backend_settings(sandbox)},
                "REALNAME_QUERY_INTERVAL_SECONDS": 0, "BABEL_DEFAULT_LOCALE": "en"}

    def finish(self, app, sandbox, attempt, result):
        phone = requests.Session()
        page = phone.get(attempt.next_url, timeout=30)
        assert page.status_code == 200, page.text[:500]
        assert phone.post(page.url, data={"result": result}, allow_redirects=False, timeout=30).status_code in (200, 302)

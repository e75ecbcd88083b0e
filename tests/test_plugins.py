"""The plugin spine: discovery by entry point, allow/block lists, required settings, $env secrets,
typo detection, one manager per app, and `flask portal plugins`."""
from __future__ import annotations

import sys
import textwrap

import pytest

from portal import create_app
from portal.plugins import PluginError, hook, plugin_config, plugin_manager


@pytest.fixture
def install(tmp_path, monkeypatch):
    """Install a plugin distribution named ``portal-<name>`` whose module is ``source``."""

    def install(name: str, source: str, version: str = "1.2.3") -> str:
        module = f"portal_test_{name}_{tmp_path.name.replace('-', '_')}"
        site = tmp_path / "site"
        (site / f"{module}.dist-info").mkdir(parents=True)
        (site / f"{module}.dist-info" / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: portal-test-{name}\nVersion: {version}\n"
        )
        (site / f"{module}.dist-info" / "entry_points.txt").write_text(
            f"[portal.plugins]\n{name} = {module}\n"
        )
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        monkeypatch.syspath_prepend(str(site))
        monkeypatch.delitem(sys.modules, module, raising=False)
        return module

    return install


PROBE = """
    from flask import Blueprint, render_template_string
    from portal.plugins import hookimpl, plugin_config
    from portal.user_center import Tab

    bp = Blueprint("probe", __name__, url_prefix="/probe")

    @bp.get("/")
    def page():
        greeting = plugin_config("probe")["greeting"]
        return render_template_string("{{ greeting }} {{ 'key' | shout }}", greeting=greeting)

    @hookimpl
    def portal_required_config():
        return ["greeting", "api_key"]

    @hookimpl
    def portal_blueprints():
        return [bp]

    @hookimpl
    def portal_user_center_tabs():
        return [Tab("probe.page", {"zh_CN": "探针", "en": "Probe"}, order=90)]

    @hookimpl
    def portal_init_app(app):
        app.jinja_env.filters["shout"] = str.upper
"""


def test_an_installed_plugin_adds_pages_tabs_and_filters(install, portal_config, monkeypatch):
    install("probe", PROBE)
    monkeypatch.setenv("PROBE_API_KEY", "s3cret")
    portal_config["PLUGINS"]["probe"] = {"greeting": "你好", "api_key": {"$env": "PROBE_API_KEY"}}
    app = create_app(portal_config)
    assert plugin_manager(app).has_plugin("probe")
    assert app.test_client().get("/probe/").get_data(as_text=True) == "你好 KEY"
    with app.test_request_context("/probe/"):
        from portal.user_center import tabs

        assert "probe.page" in [tab.endpoint for tab in tabs(app)]
        assert plugin_config("probe")["api_key"] == "s3cret"


def test_a_secret_given_as_env_is_read_from_the_environment(portal_config, monkeypatch):
    monkeypatch.setenv("PORTAL_TEST_SMTP_PASSWORD", "from-the-environment")
    portal_config["PLUGINS"]["smtp"]["password"] = {"$env": "PORTAL_TEST_SMTP_PASSWORD"}
    with create_app(portal_config).app_context():
        assert plugin_config("smtp")["password"] == "from-the-environment"


def test_a_required_setting_whose_env_variable_is_unset_stops_startup(install, portal_config, monkeypatch):
    install("probe", PROBE)
    monkeypatch.delenv("PROBE_API_KEY", raising=False)
    portal_config["PLUGINS"]["probe"] = {"greeting": "hi", "api_key": {"$env": "PROBE_API_KEY"}}
    with pytest.raises(PluginError, match=r"plugin 'probe' is missing required settings: api_key"):
        create_app(portal_config)


def test_a_blocked_plugin_is_never_imported(install, portal_config):
    module = install("probe", PROBE)
    app = create_app(dict(portal_config, PLUGINS_DISABLED=("probe",)))
    assert module not in sys.modules
    assert not plugin_manager(app).has_plugin("probe")


def test_the_allow_list_loads_only_the_plugins_it_names(install, portal_config):
    module = install("probe", PROBE)
    app = create_app(dict(portal_config, PLUGINS_ENABLED=["smtp"]))
    assert plugin_manager(app).has_plugin("smtp")
    assert not plugin_manager(app).has_plugin("aliyun_sms")
    assert module not in sys.modules


def test_a_plugin_that_fails_to_import_stops_startup_with_its_name(install, portal_config):
    install("broken", "import a_module_that_does_not_exist\n")
    with pytest.raises(PluginError, match=r"plugin 'broken' failed to load: .*a_module_that_does_not_exist"):
        create_app(portal_config)


def test_a_misspelled_hook_stops_startup(install, portal_config):
    install("typo", """
        from portal.plugins import hookimpl

        @hookimpl
        def portal_send_verfication_code(channel, destination, code):
            return "sent"
    """)
    with pytest.raises(PluginError, match="plugin .typo. is invalid: .*portal_send_verfication_code"):
        create_app(portal_config)


def test_each_app_has_its_own_plugin_manager(portal_config):
    from portal.plugins import hookimpl

    class Extra:
        @hookimpl
        def portal_user_center_tabs(self):
            return []

    extra = Extra()
    first = create_app(dict(portal_config, PLUGINS_EXTRA=[extra]))
    second = create_app(portal_config)
    assert plugin_manager(first) is not plugin_manager(second)
    assert plugin_manager(first).is_registered(extra)
    assert not plugin_manager(second).is_registered(extra)
    assert len(hook(first).portal_user_center_tabs()) == len(hook(second).portal_user_center_tabs()) + 1


@pytest.fixture
def cli_env(monkeypatch, tmp_path):
    """`flask portal plugins` reads the operator's config (environment, instance/portal.cfg)."""
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("PORTAL_ENVIRONMENT", "development")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _rows(output: str) -> dict[str, list[str]]:
    lines = output.strip().splitlines()
    assert lines[0].split()[:3] == ["name", "version", "enabled"]
    return {line.split()[0]: line.split(None, 3)[1:] for line in lines[1:]}


def test_the_plugins_command_lists_name_version_enabled_and_missing_settings(
    runner, install, cli_env, monkeypatch
):
    install("probe", PROBE, version="1.2.3")
    monkeypatch.setenv("PORTAL_PLUGINS_DISABLED", '["aliyun_sms"]')
    monkeypatch.setenv("PORTAL_PLUGINS__smtp__host", "mail.example")
    result = runner.invoke(args=["portal", "plugins"])
    assert result.exit_code == 0, result.output
    rows = _rows(result.output)
    # Given no settings at all: it stays off, and the listing says what it would need.
    assert rows["probe"] == ["1.2.3", "unconfigured", "greeting, api_key"]
    # Partly configured: on, and the site refuses to start until the rest is given.
    assert rows["smtp"] == ["0.1.0", "yes", "port, from_address"]
    assert rows["aliyun_sms"] == ["0.1.0", "no", "-"]


def test_the_plugins_command_explains_a_site_that_refuses_to_start(runner, install, cli_env, monkeypatch):
    install("broken", "import a_module_that_does_not_exist\n")
    monkeypatch.setenv("PORTAL_PLUGINS_DISABLED", '["broken"]')
    result = runner.invoke(args=["portal", "plugins"])
    assert result.exit_code == 0, result.output
    assert _rows(result.output)["broken"] == ["1.2.3", "no", "-"]


def test_the_plugins_command_names_an_enabled_plugin_that_fails_to_load(runner, install, cli_env):
    install("broken", "import a_module_that_does_not_exist\n")
    install("typo", """
        from portal.plugins import hookimpl

        @hookimpl
        def portal_blueprint():
            return []
    """)
    result = runner.invoke(args=["portal", "plugins"])
    assert result.exit_code == 0, result.output
    rows = _rows(result.output)
    assert rows["broken"][:2] == ["1.2.3", "yes"]
    assert "failed to load" in rows["broken"][2] and "a_module_that_does_not_exist" in rows["broken"][2]
    assert rows["typo"][:2] == ["1.2.3", "yes"]
    assert "portal_blueprint" in rows["typo"][2]


TYPED = """
    from portal.plugins import Setting, hookimpl

    @hookimpl
    def portal_settings():
        return {
            "endpoint": Setting("url", required=True),
            "retries": Setting("int", default=3),
            "verbose": Setting("bool", default=False),
            "token": Setting("secret", required=True),
        }
"""


def test_a_plugin_declares_typed_settings_and_reads_them_typed(install, portal_config, monkeypatch):
    install("typed", TYPED)
    monkeypatch.setenv("TYPED_TOKEN", "t0ken")
    portal_config["PLUGINS"]["typed"] = {"endpoint": "https://api.example", "verbose": "no",
                                         "token": {"$env": "TYPED_TOKEN"}}
    app = create_app(portal_config)
    with app.app_context():
        assert plugin_config("typed") == {"endpoint": "https://api.example", "retries": 3, "verbose": False,
                                          "token": "t0ken"}


def test_a_typed_setting_of_the_wrong_type_stops_startup(install, portal_config):
    install("typed", TYPED)
    portal_config["PLUGINS"]["typed"] = {"endpoint": "api.example", "token": "t"}
    with pytest.raises(PluginError, match=r"plugin 'typed' setting 'endpoint' must be an http\(s\) URL"):
        create_app(portal_config)


def test_flask_portal_plugins_lists_plugins_on_a_site_that_cannot_start(tmp_path):
    """`flask --app wsgi portal plugins` needs no app: no secret key, no PUBLIC_URL, and a partly
    configured plugin (which stops startup) are all explained, not a traceback."""
    import os
    import subprocess
    from pathlib import Path

    from portal import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(PORTAL_INSTANCE_PATH=str(tmp_path), PORTAL_PLUGINS__smtp__host="mail.example")
    flask = str(Path(sys.executable).parent / "flask")
    listed = subprocess.run([flask, "--app", "wsgi", "portal", "plugins"], env=env, cwd=ROOT,
                            capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    rows = _rows(listed.stdout)
    assert rows["smtp"] == ["0.1.0", "yes", "port, from_address"]
    assert rows["alipay"][1] == "unconfigured"

"""A third party adds a provider without touching the core: a separate distribution with a
``portal.plugins`` entry point (tests/fixtures/example-provider), installed with pip, passes the same
contract as the bundled providers. Its forge speaks GitHub's protocol, so the sandbox's GitHub
stands in for it."""
import pytest

from portal_devkit.testing.contract import ProviderContract
from tests.example_distributions import FIXTURES, importable, pip_install


@pytest.fixture(scope="session")
def example_provider_site(tmp_path_factory):
    return pip_install("example-provider", tmp_path_factory)


@pytest.fixture
def installed_example_provider(example_provider_site, monkeypatch):
    yield from importable(example_provider_site, "example_provider", monkeypatch)


class TestExampleForgeContract(ProviderContract):
    provider = "example_forge"

    def provider_settings(self, sandbox):
        github = sandbox.plugin_settings()["github"]
        return {"client_id": github["client_id"], "client_secret": github["client_secret"],
                "base_url": github["web_url"], "api_url": github["api_url"]}

    @pytest.fixture
    def portal_config(self, installed_example_provider, portal_config, sandbox):
        return {**portal_config, "PLUGINS_ENABLED": [self.provider],
                "PLUGINS": {self.provider: self.provider_settings(sandbox)}}


def test_the_example_provider_is_found_through_its_entry_point(installed_example_provider):
    from portal.plugins import list_plugins

    infos = {info.name: info for info in list_plugins({"PLUGINS_ENABLED": ["example_forge"], "PLUGINS": {}})}
    assert infos["example_forge"].enabled
    assert infos["example_forge"].missing_config == ["client_id", "client_secret"]


def test_the_example_provider_imports_only_the_public_contract():
    source = (FIXTURES / "example-provider" / "example_provider" / "__init__.py").read_text()
    imports = {line.split()[1] for line in source.splitlines() if line.startswith(("from ", "import "))}
    assert imports == {"portal.identities.providers", "portal.plugins"}

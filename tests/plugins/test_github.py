"""The GitHub plugin passes the provider contract against the sandbox's GitHub."""
from portal_devkit.testing.contract import ProviderContract


class TestGitHubContract(ProviderContract):
    provider = "github"

"""The Bitbucket plugin passes the provider contract against the sandbox's Bitbucket Cloud."""
from portal_devkit.testing.contract import ProviderContract


class TestBitbucketContract(ProviderContract):
    provider = "bitbucket"

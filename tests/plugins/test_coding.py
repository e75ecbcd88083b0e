"""The CODING plugin passes the provider contract against the sandbox's CODING."""
from portal_devkit.testing.contract import ProviderContract


class TestCodingContract(ProviderContract):
    provider = "coding"

"""The CODING plugin passes the provider contract against the sandbox's CODING."""
from portal.testing.contract import ProviderContract


class TestCodingContract(ProviderContract):
    provider = "coding"

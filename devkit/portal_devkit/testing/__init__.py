"""Test support for Portal and for plugin authors: fixtures (registered as a pytest plugin through
the ``pytest11`` entry point) and contract tests a provider plugin must pass."""

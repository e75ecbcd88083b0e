"""Fixtures come from portal.testing (a pytest plugin); see portal/testing/plugin.py."""

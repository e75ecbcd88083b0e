"""Fixtures come from portal_devkit.testing (a pytest plugin); see portal/testing/plugin.py."""

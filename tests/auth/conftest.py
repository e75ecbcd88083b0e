"""Fixtures shared by the sign-in, lockout, step-up and reset tests."""
from __future__ import annotations

import pytest


@pytest.fixture
def english(portal_config):
    """The site's default language English, so answers are checked in their source text."""
    portal_config["BABEL_DEFAULT_LOCALE"] = "en"
    return portal_config

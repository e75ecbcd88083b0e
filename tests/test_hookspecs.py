"""Every hook is documented (a `## portal_x(args)` section in docs/plugins.md with its exact
signature) and exercised by some test; every documented hook exists."""
from __future__ import annotations

import inspect
import re

import pytest

from portal import ROOT, hookspecs

DOCS = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
TESTS = ROOT / "tests"


def _hooks() -> dict[str, str]:
    """Hook name -> its signature as written in the docs heading: ``portal_x(a, b)``."""
    return {
        name: f"{name}({', '.join(inspect.signature(function).parameters)})"
        for name, function in vars(hookspecs).items()
        if callable(function) and name.startswith("portal_") and hasattr(function, "portal_spec")
    }


HOOKS = _hooks()


def test_the_hookspecs_module_defines_hooks():
    assert "portal_send_verification_code" in HOOKS
    assert all(name.startswith("portal_") for name in HOOKS)


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hook_is_documented_with_its_exact_signature(name):
    headings = re.findall(r"^## (portal_\w+\(.*\))\s*$", DOCS, flags=re.MULTILINE)
    found = [heading for heading in headings if heading.startswith(name + "(")]
    assert f"## {HOOKS[name]}" in DOCS.splitlines(), (
        f"docs/plugins.md needs a section '## {HOOKS[name]}' (found: {found})"
    )


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hook_is_exercised_by_a_test(name):
    this_file = __file__
    users = [
        path for path in TESTS.rglob("*.py")
        if str(path) != this_file and re.search(rf"\b{name}\b", path.read_text(encoding="utf-8"))
    ]
    assert users, f"no test under tests/ refers to {name}"


def test_every_documented_hook_exists():
    documented = re.findall(r"^## (portal_\w+)\(", DOCS, flags=re.MULTILINE)
    assert sorted(set(documented) - set(HOOKS)) == []
    assert len(documented) == len(set(documented)), "a hook is documented twice"

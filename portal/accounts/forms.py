"""The account pages' forms: fields only; the rules live in portal.accounts.plans."""
from __future__ import annotations

from portal.forms import PortalForm


class PlanForm(PortalForm):
    """CSRF only: the chosen plan is the ``plan`` value of the pressed button."""

"""What linking a provider account gives the user (a bonus a plugin grants in
``portal_identity_linked``), so 第三方账户 can advertise it before linking, name it once granted, and
say that unlinking keeps it."""
from __future__ import annotations

from dataclasses import dataclass

from portal.plugins import hook


@dataclass(frozen=True)
class Perk:
    # What the user gets: a string, a lazy translation, or a mapping of locale -> string (plugins).
    gift: object
    # Whether this user already has it (then linking again gives nothing more).
    granted: bool


def perks(user, provider: str) -> list[Perk]:
    """Every plugin's perks for linking ``provider``, in plugin order."""
    return [perk for found in hook().portal_identity_perks(user=user, provider=provider) for perk in found or ()]

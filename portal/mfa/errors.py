"""The one error every second-factor check raises."""
from __future__ import annotations


class SecondFactorError(ValueError):
    """A second factor refused; ``message`` is translated and safe to show."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

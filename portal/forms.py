"""What the portal's forms share."""
from __future__ import annotations


class ServiceErrorsMixin:
    """For forms whose rules live in a service: the service names the field an error belongs to."""

    def add_error(self, field: str | None, message: str) -> None:
        """Show a service's error on its field, or above the form when it names none."""
        target = getattr(self, field, None) if field else None
        if target is None:
            self.form_errors.append(message)
        else:
            target.errors = [*target.errors, message] if isinstance(target.errors, list) else [message]

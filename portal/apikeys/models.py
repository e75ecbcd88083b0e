from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.timeutil import utcnow
from portal.users.models import User

__all__ = ["ApiKey", "SCOPES"]

# "read" sees accounts and orders; "billing" also creates recharge orders; "usage" also reserves and
# releases quota. Keys with billing or usage always carry read.
SCOPES = ("read", "billing", "usage")

# Why a key stopped working before its expiry.
REVOKED_BY_USER = "user"
REVOKED_ROLE_LOST = "role_lost"


class ApiKey(db.Model):
    """An API key: a name, scopes, an optional account and networks it is limited to, an optional
    expiry. The key itself is never stored, only its SHA-256 (see portal.apikeys.tokens)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    lookup_id: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    # Space-separated, from SCOPES.
    scopes: Mapped[str] = mapped_column(String(64))
    # Limited to this account (personal, or an organization the creator manages); None: every
    # account the creator may see.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    # CIDR ranges the calls must come from; None or empty: anywhere.
    allowed_networks: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # None: never expires (the creator was warned).
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(16))
    # Written at most once every API_KEY_LAST_USED_INTERVAL seconds per key.
    last_used_at: Mapped[datetime | None]
    last_used_ip: Mapped[str | None] = mapped_column(String(45))
    # The "expires within 7 days" email and the "has expired" notice, each sent once.
    expiry_announced_at: Mapped[datetime | None]
    expiry_noticed_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())

    @property
    def display_prefix(self) -> str:
        from portal.apikeys.tokens import PREFIX

        return f"{PREFIX}_{self.lookup_id}"

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and not self.is_expired(now)

    def __repr__(self) -> str:
        return f"<ApiKey {self.id} {self.display_prefix} of user {self.user_id}>"

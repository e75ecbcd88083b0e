"""One row per verification attempt. The name and ID number are stored sealed (portal.crypto); the
ID number also as a keyed hash, so that "how many accounts has this ID verified" needs no clear text.
States change only in ``portal.realname.services``."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db

__all__ = ["Verification"]

BigId = BigInteger().with_variant(Integer, "sqlite")

# 认证中, 已认证, 未通过, 已过期; "superseded" (the user started again before an answer) and "revoked"
# (an operator reset it) are history only: the user is then 未认证 until the next start.
PENDING, PASSED, FAILED, EXPIRED, SUPERSEDED, REVOKED = (
    "pending", "passed", "failed", "expired", "superseded", "revoked")
STATES = (PENDING, PASSED, FAILED, EXPIRED, SUPERSEDED, REVOKED)

# Contexts the sealed values are bound to (portal.crypto): a value moved to another column won't open.
NAME_CONTEXT = "realname.name"
CERT_NO_CONTEXT = "realname.cert_no"


class Verification(db.Model):
    __tablename__ = "realname_verifications"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'passed', 'failed', 'expired', 'superseded', 'revoked')",
            name="known_status",
        ),
        # A user holds one verified identity at a time.
        Index("uq_realname_verifications_passed_user", "user_id", unique=True,
              sqlite_where=text("status = 'passed'"), postgresql_where=text("status = 'passed'")),
        # One backend reference is one attempt.
        Index("uq_realname_verifications_backend_certify_id", "backend", "certify_id", unique=True),
        Index("ix_realname_verifications_user_id_id", "user_id", "id"),
        Index("ix_realname_verifications_cert_no_hash", "cert_no_hash", "status"),
        Index("ix_realname_verifications_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    # The entry-point name of the backend plugin that runs it ("alipay_certify", "manual").
    backend: Mapped[str] = mapped_column(String(32))
    # Ours, unique per attempt (Alipay: outer_order_no, at most 32 characters).
    outer_order_no: Mapped[str] = mapped_column(String(32), unique=True)
    # The backend's reference once it accepted the attempt (Alipay: certify_id).
    certify_id: Mapped[str | None] = mapped_column(String(64))
    # The page the person opens next (shown as a QR code); None for review by an operator.
    next_url: Mapped[str | None] = mapped_column(Text)
    name_sealed: Mapped[str] = mapped_column(Text)
    cert_no_sealed: Mapped[str] = mapped_column(Text)
    cert_no_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    # Past this, a pending attempt is asked once more, then 已过期.
    expires_at: Mapped[datetime]
    checked_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    # The backend's or the operator's reason for a failure or a reset (never personal data).
    reason: Mapped[str | None] = mapped_column(String(200))

    user = relationship("User")

    def __repr__(self) -> str:
        return f"<Verification {self.id} user {self.user_id} {self.backend} {self.status}>"

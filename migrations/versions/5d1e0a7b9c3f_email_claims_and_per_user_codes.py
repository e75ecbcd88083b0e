"""Unverified emails are claims that block nobody; each user's verification code is their own;
invitations by email address

Revision ID: 5d1e0a7b9c3f
Revises: c92ebdc8bc4a
Create Date: 2026-12-01 04:10:00
"""
from alembic import op
import sqlalchemy as sa

revision = "5d1e0a7b9c3f"
down_revision = "c92ebdc8bc4a"
branch_labels = None
depends_on = None

VERIFIED = sa.text("verified_at IS NOT NULL")


def upgrade():
    with op.batch_alter_table("emails", schema=None) as batch_op:
        batch_op.drop_constraint("uq_emails_address_key", type_="unique")
        batch_op.create_unique_constraint("uq_emails_user_id_address_key", ["user_id", "address_key"])
    op.create_index("uq_emails_verified_address_key", "emails", ["address_key"], unique=True,
                    sqlite_where=VERIFIED, postgresql_where=VERIFIED)
    with op.batch_alter_table("verification_codes", schema=None) as batch_op:
        batch_op.drop_constraint("uq_verification_codes_purpose_destination", type_="unique")
        batch_op.create_unique_constraint("uq_verification_codes_purpose_destination_user_id",
                                          ["purpose", "destination", "user_id"])
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("invitee_email", sa.String(length=254), nullable=True))
        batch_op.create_index(batch_op.f("ix_invitations_invitee_email"), ["invitee_email"], unique=False)
        batch_op.alter_column("invitee_id", existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                              nullable=True)
        batch_op.alter_column("pending_key", existing_type=sa.String(length=48), type_=sa.String(length=300))


def downgrade():
    op.execute("DELETE FROM invitations WHERE invitee_id IS NULL")
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.alter_column("pending_key", existing_type=sa.String(length=300), type_=sa.String(length=48))
        batch_op.alter_column("invitee_id", existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                              nullable=False)
        batch_op.drop_index(batch_op.f("ix_invitations_invitee_email"))
        batch_op.drop_column("invitee_email")
    with op.batch_alter_table("verification_codes", schema=None) as batch_op:
        batch_op.drop_constraint("uq_verification_codes_purpose_destination_user_id", type_="unique")
        batch_op.create_unique_constraint("uq_verification_codes_purpose_destination", ["purpose", "destination"])
    op.drop_index("uq_emails_verified_address_key", table_name="emails")
    with op.batch_alter_table("emails", schema=None) as batch_op:
        batch_op.drop_constraint("uq_emails_user_id_address_key", type_="unique")
        batch_op.create_unique_constraint("uq_emails_address_key", ["address_key"])

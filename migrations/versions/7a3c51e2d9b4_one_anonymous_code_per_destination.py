"""One live code per purpose and destination for requests made without an account

Revision ID: 7a3c51e2d9b4
Revises: 39b209ae60bf
Create Date: 2026-12-01 06:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7a3c51e2d9b4'
down_revision = '39b209ae60bf'
branch_labels = None
depends_on = None


def upgrade():
    # Keep the newest of any duplicates left by concurrent first sends before enforcing uniqueness.
    op.execute(
        "DELETE FROM verification_codes WHERE user_id IS NULL AND id NOT IN ("
        " SELECT max(id) FROM verification_codes WHERE user_id IS NULL GROUP BY purpose, destination)"
    )
    op.create_index(
        'uq_verification_codes_anonymous', 'verification_codes', ['purpose', 'destination'], unique=True,
        sqlite_where=sa.text('user_id IS NULL'), postgresql_where=sa.text('user_id IS NULL'),
    )


def downgrade():
    op.drop_index('uq_verification_codes_anonymous', table_name='verification_codes')

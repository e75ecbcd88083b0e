"""Closed accounts (deleted organizations) and orders held for an operator

Revision ID: b84f2c6d1e07
Revises: 7a3c51e2d9b4
Create Date: 2026-12-01 06:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b84f2c6d1e07'
down_revision = '7a3c51e2d9b4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(), nullable=True))
    # Accounts of organizations deleted before this revision are closed as of their deletion.
    op.execute(
        "UPDATE accounts SET closed_at = (SELECT deleted_at FROM organizations"
        " WHERE organizations.id = accounts.org_id) WHERE org_id IN"
        " (SELECT id FROM organizations WHERE deleted_at IS NOT NULL)"
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_orders_known_state'), type_='check')
        batch_op.create_check_constraint(
            'known_state', "state IN ('pending', 'paid', 'expired', 'closed', 'held')")


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_orders_known_state'), type_='check')
        batch_op.create_check_constraint('known_state', "state IN ('pending', 'paid', 'expired', 'closed')")
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('closed_at')

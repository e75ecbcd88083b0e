"""Plan periods, scheduled downgrades, grace after an unpaid renewal, and one renewal per period

Revision ID: d5a8f1c0b3e6
Revises: e5a7c3b19d42
Create Date: 2026-12-01 07:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd5a8f1c0b3e6'
down_revision = 'e5a7c3b19d42'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('plan_period_start', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('plan_renews_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('next_plan_key', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('grace_until', sa.DateTime(), nullable=True))
    with op.batch_alter_table('plan_changes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('effective_at', sa.DateTime(), nullable=True))
    op.create_table('plan_renewals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('plan_key', sa.String(length=32), nullable=False),
    sa.Column('period_start', sa.DateTime(), nullable=False),
    sa.Column('period_end', sa.DateTime(), nullable=False),
    sa.Column('price_fen', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_plan_renewals_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_renewals')),
    sa.UniqueConstraint('account_id', 'period_start', name=op.f('uq_plan_renewals_account_id_period_start'))
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index('ix_accounts_plan_renews_at', ['plan_renews_at'], unique=False)


def downgrade():
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index('ix_accounts_plan_renews_at')
    op.drop_table('plan_renewals')
    with op.batch_alter_table('plan_changes', schema=None) as batch_op:
        batch_op.drop_column('effective_at')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('grace_until')
        batch_op.drop_column('next_plan_key')
        batch_op.drop_column('plan_renews_at')
        batch_op.drop_column('plan_period_start')

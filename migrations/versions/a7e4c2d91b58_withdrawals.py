"""Withdrawals: bound payout accounts, withdrawals, and the ledger's withdrawal kinds

Revision ID: a7e4c2d91b58
Revises: fcdb91fec0ac
Create Date: 2026-12-01 08:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7e4c2d91b58'
down_revision = 'fcdb91fec0ac'
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('recharge', 'plan_charge', 'adjustment', 'refund')"
NEW_KINDS = "kind IN ('recharge', 'plan_charge', 'adjustment', 'refund', 'withdrawal_hold', 'withdrawal_release')"


def upgrade():
    op.create_table('payout_accounts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=128), nullable=False),
    sa.Column('subject_type', sa.String(length=32), nullable=False),
    sa.Column('channel_user_id', sa.String(length=64), nullable=True),
    sa.Column('nickname', sa.String(length=64), nullable=True),
    sa.Column('masked', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_payout_accounts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_accounts')),
    sa.UniqueConstraint('channel', 'subject', name='uq_payout_accounts_channel_subject'),
    sa.UniqueConstraint('user_id', 'channel', name='uq_payout_accounts_user_channel')
    )
    op.create_table('withdrawals',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('out_biz_no', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('payee', sa.String(length=128), nullable=False),
    sa.Column('payee_type', sa.String(length=32), nullable=False),
    sa.Column('payee_masked', sa.String(length=64), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=True),
    sa.Column('channel_order_id', sa.String(length=64), nullable=True),
    sa.Column('channel_status', sa.String(length=64), nullable=True),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'sending', 'succeeded', 'failed', 'rejected')", name=op.f('ck_withdrawals_known_state')),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_withdrawals_amount_positive')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_withdrawals_account_id_accounts')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_withdrawals_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_withdrawals')),
    sa.UniqueConstraint('out_biz_no', name=op.f('uq_withdrawals_out_biz_no'))
    )
    with op.batch_alter_table('withdrawals', schema=None) as batch_op:
        batch_op.create_index('ix_withdrawals_account_created', ['account_id', 'created_at'], unique=False)
        batch_op.create_index('ix_withdrawals_state_id', ['state', 'id'], unique=False)
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=sa.String(length=16), type_=sa.String(length=32),
                              existing_nullable=False)
        batch_op.drop_constraint(op.f('ck_ledger_entries_known_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_ledger_entries_known_kind'), NEW_KINDS)


def downgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ledger_entries_known_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_ledger_entries_known_kind'), OLD_KINDS)
        batch_op.alter_column('kind', existing_type=sa.String(length=32), type_=sa.String(length=16),
                              existing_nullable=False)
    with op.batch_alter_table('withdrawals', schema=None) as batch_op:
        batch_op.drop_index('ix_withdrawals_state_id')
        batch_op.drop_index('ix_withdrawals_account_created')
    op.drop_table('withdrawals')
    op.drop_table('payout_accounts')

"""The running balance after each ledger entry, and indexes for the statement by time

Revision ID: c1d7e93a5f20
Revises: b84f2c6d1e07
Create Date: 2026-12-01 07:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c1d7e93a5f20'
down_revision = 'b84f2c6d1e07'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('balance_after_fen', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_ledger_entries_account_id_created_at', ['account_id', 'created_at', 'id'], unique=False)
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_account_id_created_at', ['account_id', 'created_at', 'id'], unique=False)
    # Entries written before this revision: their running balance is the sum up to them.
    op.execute(
        "UPDATE ledger_entries SET balance_after_fen = (SELECT SUM(e.amount_fen) FROM ledger_entries e"
        " WHERE e.account_id = ledger_entries.account_id AND e.id <= ledger_entries.id)"
    )


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_account_id_created_at')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entries_account_id_created_at')
        batch_op.drop_column('balance_after_fen')

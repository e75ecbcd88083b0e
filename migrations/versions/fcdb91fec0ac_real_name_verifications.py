"""Real-name verifications

Revision ID: fcdb91fec0ac
Revises: 9c4f44d3ce34
Create Date: 2026-12-01 06:39:30.845891

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'fcdb91fec0ac'
down_revision = '9c4f44d3ce34'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('realname_verifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('backend', sa.String(length=32), nullable=False),
    sa.Column('outer_order_no', sa.String(length=32), nullable=False),
    sa.Column('certify_id', sa.String(length=64), nullable=True),
    sa.Column('next_url', sa.Text(), nullable=True),
    sa.Column('name_sealed', sa.Text(), nullable=False),
    sa.Column('cert_no_sealed', sa.Text(), nullable=False),
    sa.Column('cert_no_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('checked_at', sa.DateTime(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'passed', 'failed', 'expired', 'superseded', 'revoked')", name=op.f('ck_realname_verifications_known_status')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_realname_verifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_realname_verifications')),
    sa.UniqueConstraint('outer_order_no', name=op.f('uq_realname_verifications_outer_order_no'))
    )
    with op.batch_alter_table('realname_verifications', schema=None) as batch_op:
        batch_op.create_index('ix_realname_verifications_cert_no_hash', ['cert_no_hash', 'status'], unique=False)
        batch_op.create_index('ix_realname_verifications_status_expires_at', ['status', 'expires_at'], unique=False)
        batch_op.create_index('ix_realname_verifications_user_id_id', ['user_id', 'id'], unique=False)
        batch_op.create_index('uq_realname_verifications_backend_certify_id', ['backend', 'certify_id'], unique=True)
        batch_op.create_index('uq_realname_verifications_passed_user', ['user_id'], unique=True, sqlite_where=sa.text("status = 'passed'"), postgresql_where=sa.text("status = 'passed'"))



def downgrade():
    with op.batch_alter_table('realname_verifications', schema=None) as batch_op:
        batch_op.drop_index('uq_realname_verifications_passed_user', sqlite_where=sa.text("status = 'passed'"), postgresql_where=sa.text("status = 'passed'"))
        batch_op.drop_index('uq_realname_verifications_backend_certify_id')
        batch_op.drop_index('ix_realname_verifications_user_id_id')
        batch_op.drop_index('ix_realname_verifications_status_expires_at')
        batch_op.drop_index('ix_realname_verifications_cert_no_hash')

    op.drop_table('realname_verifications')

"""Adaptive practice: per-session difficulty switch and job ad, per-turn level, attempt and requirement

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('interview_sessions') as batch:
        batch.add_column(sa.Column('adaptive', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('job_ad', sa.Text(), nullable=True))
        batch.add_column(sa.Column('requirements', sa.JSON(), nullable=True))
    with op.batch_alter_table('turns') as batch:
        batch.add_column(sa.Column('level', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('attempt_of', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('requirement', sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('turns') as batch:
        batch.drop_column('requirement')
        batch.drop_column('attempt_of')
        batch.drop_column('level')
    with op.batch_alter_table('interview_sessions') as batch:
        batch.drop_column('requirements')
        batch.drop_column('job_ad')
        batch.drop_column('adaptive')

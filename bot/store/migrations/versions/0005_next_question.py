"""interview_sessions.next_question: the next main question, prepared while the current one is answered

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('interview_sessions') as batch:
        batch.add_column(sa.Column('next_question', sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('interview_sessions') as batch:
        batch.drop_column('next_question')

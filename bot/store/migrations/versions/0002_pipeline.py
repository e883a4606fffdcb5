"""feedback pipeline: pair provenance, pipeline state, daily roll-ups

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pipeline_state',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('value', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_pipeline_state')),
    )
    op.create_table(
        'daily_rollups',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('role', sa.String(length=60), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('model_version', sa.String(length=120), nullable=False),
        sa.Column('sessions', sa.Integer(), nullable=False),
        sa.Column('completed', sa.Integer(), nullable=False),
        sa.Column('graded_turns', sa.Integer(), nullable=False),
        sa.Column('valid_first_try', sa.Integer(), nullable=False),
        sa.Column('ratings_up', sa.Integer(), nullable=False),
        sa.Column('ratings_down', sa.Integer(), nullable=False),
        sa.Column('corrections', sa.Integer(), nullable=False),
        sa.Column('surveys', sa.Integer(), nullable=False),
        sa.Column('usefulness_sum', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_daily_rollups')),
        sa.UniqueConstraint('day', 'role', 'kind', 'model_version',
                            name=op.f('uq_daily_rollups_day_role_kind_model_version')),
    )
    with op.batch_alter_table('preference_pairs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('correction_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('prompt_hash', sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_preference_pairs_correction_id_corrections'),
                                    'corrections', ['correction_id'], ['id'], ondelete='CASCADE')
        batch_op.create_index(batch_op.f('ix_preference_pairs_correction_id'), ['correction_id'])
        batch_op.create_index(batch_op.f('ix_preference_pairs_prompt_hash'), ['prompt_hash'])
        batch_op.create_index('ix_preference_pairs_turn_id', ['turn_id'], unique=False)
        batch_op.create_index('ix_preference_pairs_other_turn_id', ['other_turn_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('preference_pairs', schema=None) as batch_op:
        batch_op.drop_index('ix_preference_pairs_other_turn_id')
        batch_op.drop_index('ix_preference_pairs_turn_id')
        batch_op.drop_index(batch_op.f('ix_preference_pairs_prompt_hash'))
        batch_op.drop_index(batch_op.f('ix_preference_pairs_correction_id'))
        batch_op.drop_constraint(batch_op.f('fk_preference_pairs_correction_id_corrections'),
                                 type_='foreignkey')
        batch_op.drop_column('prompt_hash')
        batch_op.drop_column('correction_id')
    op.drop_table('daily_rollups')
    op.drop_table('pipeline_state')

"""The kind of each entry's failure (timeout, http, no-article, rejected…),
beside its stage and message: summaries count failures by kind, and the
message text is never parsed.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('fetch_failures', sa.Column('kind', sa.Text(), nullable=True))
    op.execute("UPDATE fetch_failures SET kind = stage")
    op.alter_column('fetch_failures', 'kind', nullable=False)


def downgrade() -> None:
    op.drop_column('fetch_failures', 'kind')

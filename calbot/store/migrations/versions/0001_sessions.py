"""Chats (one SessionState each) and the claims that make Confirm execute once.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_sessions",
        sa.Column("chat_id", sa.String(100), primary_key=True),
        sa.Column("owner", sa.String(320), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("last_activity", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.Text, nullable=False),  # SessionState.to_json()
    )
    op.create_index("ix_chat_sessions_owner_activity", "chat_sessions", ["owner", "last_activity"])
    op.create_index("ix_chat_sessions_activity", "chat_sessions", ["last_activity"])
    op.create_table(
        "proposal_claims",
        sa.Column("chat_id", sa.String(100), primary_key=True),
        sa.Column("proposal_id", sa.String(100), primary_key=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("proposal_claims")
    op.drop_index("ix_chat_sessions_activity", "chat_sessions")
    op.drop_index("ix_chat_sessions_owner_activity", "chat_sessions")
    op.drop_table("chat_sessions")

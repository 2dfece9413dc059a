"""Tokens for the REST API (calbot/api): who a `Authorization: Bearer` request is. Each token belongs to one email
(an account's, or CAL_USER_EMAIL in single-user mode); only its SHA-256 is stored, never the token itself.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), primary_key=True),  # shown by `tokens list`, named by `tokens revoke`
        sa.Column("email", sa.String(320), nullable=False),  # lower-cased: the identity the token stands for
        sa.Column("name", sa.String(200), nullable=True),  # a label chosen by whoever made it
        sa.Column("token_hash", sa.String(64), nullable=False),  # hex SHA-256 of the token (256 random bits)
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_api_tokens_token_hash", "api_tokens", ["token_hash"], unique=True)
    op.create_index("ix_api_tokens_email", "api_tokens", ["email"])


def downgrade() -> None:
    op.drop_index("ix_api_tokens_email", "api_tokens")
    op.drop_index("ix_api_tokens_token_hash", "api_tokens")
    op.drop_table("api_tokens")

"""Accounts for sign-in (email, name, time zone, argon2 password hash, disabled) and failed logins, which are
counted in the database so that throttling holds across processes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("email", sa.String(320), primary_key=True),  # lower-cased, validated (calbot.validation)
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("time_zone", sa.String(100), nullable=True),  # a canonical IANA name (calbot.timezones)
        sa.Column("password_hash", sa.String(500), nullable=False),  # argon2id (argon2-cffi's PasswordHasher)
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(400), nullable=False),  # "email:<email>" or "client:<address>"
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_login_failures_key_failed_at", "login_failures", ["key", "failed_at"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_key_failed_at", "login_failures")
    op.drop_table("login_failures")
    op.drop_table("accounts")

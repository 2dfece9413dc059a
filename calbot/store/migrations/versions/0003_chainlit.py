"""The tables of Chainlit's SQLAlchemy data layer (chainlit.data.sql_alchemy.SQLAlchemyDataLayer, chainlit 2.12),
which never creates them: users, threads, steps, elements, feedbacks.

As in Chainlit's documented DDL (docs.chainlit.io/data-layers/sqlalchemy), with the columns the docs forget but the
installed code writes: steps."autoCollapse" (Step.to_dict since 2.10), steps."modes" (Message.to_dict since 2.9.4),
elements."autoPlay" and elements."playerConfig" (Element.to_dict, inserted by create_element). Names are camelCase
and quoted, as Chainlit's raw SQL spells them. PostgreSQL gets the documented types (UUID, JSONB, TEXT[]); SQLite
stores those as TEXT (Chainlit sends JSON already serialized, and reads it back as a str there).

No clash with calbot's own tables (chat_sessions, proposal_claims, accounts, login_failures) nor with Chainlit's
other data layer (ChainlitDataLayer: "User", "Thread", "Step", "Element", "Feedback").

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# (index name, table, columns): each serves a query of the data layer.
INDEXES = [
    ("ix_threads_user_id", "threads", ["userId"]),  # get_all_user_threads (list_threads): WHERE "userId" = ...
    ("ix_threads_user_identifier", "threads", ["userIdentifier"]),  # a thread's author, by email
    ("ix_steps_thread_id", "steps", ["threadId"]),  # loading a thread; delete_thread
    ("ix_elements_thread_id", "elements", ["threadId"]),  # loading a thread; delete_thread
    ("ix_feedbacks_for_id", "feedbacks", ["forId"]),  # steps LEFT JOIN feedbacks ON "forId"
]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    uuid = (lambda: postgresql.UUID(as_uuid=False)) if postgres else sa.Text
    json = postgresql.JSONB if postgres else sa.Text
    texts = (lambda: postgresql.ARRAY(sa.Text)) if postgres else sa.Text

    op.create_table(
        "users",
        sa.Column("id", uuid(), primary_key=True),
        sa.Column("identifier", sa.Text, nullable=False, unique=True),
        sa.Column("metadata", json(), nullable=False),
        sa.Column("createdAt", sa.Text),
    )
    op.create_table(
        "threads",
        sa.Column("id", uuid(), primary_key=True),
        sa.Column("createdAt", sa.Text),
        sa.Column("name", sa.Text),
        sa.Column("userId", uuid()),
        sa.Column("userIdentifier", sa.Text),
        sa.Column("tags", texts()),
        sa.Column("metadata", json()),
        sa.ForeignKeyConstraint(["userId"], ["users.id"], ondelete="CASCADE"),
    )
    op.create_table(
        "steps",
        sa.Column("id", uuid(), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("threadId", uuid(), nullable=False),
        sa.Column("parentId", uuid()),
        sa.Column("streaming", sa.Boolean, nullable=False),
        sa.Column("waitForAnswer", sa.Boolean),
        sa.Column("isError", sa.Boolean),
        sa.Column("metadata", json()),
        sa.Column("tags", texts()),
        sa.Column("input", sa.Text),
        sa.Column("output", sa.Text),
        sa.Column("createdAt", sa.Text),
        sa.Column("command", sa.Text),
        sa.Column("modes", json()),  # not in the documented DDL; Message.to_dict sends it
        sa.Column("start", sa.Text),
        sa.Column("end", sa.Text),
        sa.Column("generation", json()),
        sa.Column("showInput", sa.Text),
        sa.Column("language", sa.Text),
        sa.Column("indent", sa.Integer),
        sa.Column("defaultOpen", sa.Boolean),
        sa.Column("autoCollapse", sa.Boolean),  # not in the documented DDL; Step.to_dict sends it
        sa.ForeignKeyConstraint(["threadId"], ["threads.id"], ondelete="CASCADE"),
    )
    op.create_table(
        "elements",
        sa.Column("id", uuid(), primary_key=True),
        sa.Column("threadId", uuid()),
        sa.Column("type", sa.Text),
        sa.Column("url", sa.Text),
        sa.Column("chainlitKey", sa.Text),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("display", sa.Text),
        sa.Column("objectKey", sa.Text),
        sa.Column("size", sa.Text),
        sa.Column("page", sa.Integer),
        sa.Column("language", sa.Text),
        sa.Column("forId", uuid()),
        sa.Column("mime", sa.Text),
        sa.Column("props", json()),
        sa.Column("autoPlay", sa.Boolean),  # not in the documented DDL; Audio elements send it
        sa.Column("playerConfig", json()),  # not in the documented DDL; Video elements send it
        sa.ForeignKeyConstraint(["threadId"], ["threads.id"], ondelete="CASCADE"),
    )
    op.create_table(
        "feedbacks",
        sa.Column("id", uuid(), primary_key=True),
        sa.Column("forId", uuid(), nullable=False),
        sa.Column("threadId", uuid(), nullable=False),
        sa.Column("value", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text),
        sa.ForeignKeyConstraint(["threadId"], ["threads.id"], ondelete="CASCADE"),
    )
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table)
    for table in ("feedbacks", "elements", "steps", "threads", "users"):
        op.drop_table(table)

"""Alembic environment for the session store. calbot.store.sql runs the migrations itself (upgrade at start, under
a lock), handing over an open connection in `config.attributes["connection"]`; there is no alembic.ini."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the session store's migrations through calbot.store.sql (they need its connection)")
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

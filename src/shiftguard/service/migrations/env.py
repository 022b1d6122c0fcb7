"""Alembic environment: runs on the connection :func:`shiftguard.service.storage.migrate`
passes in ``config.attributes`` (there is no ini file, so the installed package works)."""

from alembic import context

from shiftguard.service.storage import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()

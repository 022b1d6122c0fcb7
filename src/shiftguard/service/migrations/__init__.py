"""Alembic migrations of the service's database, applied by :func:`storage.migrate`."""

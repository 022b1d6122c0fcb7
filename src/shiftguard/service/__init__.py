"""The monitoring service: ``shiftguard serve`` (FastAPI, SQLAlchemy, Alembic).

A thin layer over the library: batches posted to a monitor go to
:class:`shiftguard.stream.Monitor` (and model errors to a :mod:`shiftguard.stream`
detector); the service stores their state, the batches and their reports, and opens
alerts. Modules: :mod:`.settings` (environment), :mod:`.storage` (models, engine,
queries), :mod:`.auth` (keys), :mod:`.monitors` (the batch transaction), :mod:`.api`
(routes), :mod:`.app` (``create_app``), :mod:`.webhooks`, :mod:`.errors`, :mod:`.uploads`;
the dashboard pages: :mod:`.dashboard` (login, monitors, forms), :mod:`.monitor_page` (a
monitor's history read from storage) and :mod:`.timeline` (its SVG charts). Needs the
``serve`` extra.
"""

from shiftguard.service.app import create_app
from shiftguard.service.settings import Settings

__all__ = ["Settings", "create_app"]

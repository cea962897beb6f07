"""Alembic environment: the connection is handed in by pipeline.store.migrate."""

from alembic import context

from pipeline.store.models import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - alembic's own CLI without our wrapper
    raise RuntimeError("run migrations with `newsflow db upgrade`")

context.configure(connection=connection, target_metadata=metadata, compare_type=True)
with context.begin_transaction():
    context.run_migrations()

"""Alembic environment: runs on the engine the caller passes (radcycle.store.db)."""

from __future__ import annotations

from alembic import context

from radcycle.store.models import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()

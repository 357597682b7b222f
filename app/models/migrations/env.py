"""Alembic environment: always run with a connection handed in by app.models.database.

The app migrates itself on start, so there is no alembic.ini and no URL here; the
``connection`` attribute is set by ``database.migrate``.
"""

from alembic import context

from app.models.orm import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()

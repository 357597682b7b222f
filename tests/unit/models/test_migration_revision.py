"""``make migration``: the ORM and the migrations agree, and new revisions are numbered."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.models.database import Database, sqlite_url
from app.models.migrations.revision import next_revision_id, slug
from app.models.orm import Base


def test_the_migrations_build_exactly_the_orm_schema(tmp_path):
    """What autogenerate would write today is empty: a model change without its
    migration fails here (and ``make migration`` writes that migration)."""
    database = Database(sqlite_url(tmp_path / "head.sqlite"))
    try:
        database.migrate()
        with database.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        database.close()
    assert diff == []


def test_a_new_revision_gets_the_next_four_digit_id_and_a_file_name_slug():
    assert next_revision_id("0005") == "0006"
    assert slug("Vehicle: add a 'colour' column!") == "vehicle_add_a_colour_column"
    assert slug("???") == "revision"

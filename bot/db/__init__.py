"""Database access: engine construction and schema migrations (Alembic)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def normalise_url(url: str) -> str:
    """`postgres://` (Heroku) and bare `postgresql://` mean psycopg 3 here, the driver we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def ensure_sqlite_folder(url: str) -> None:
    """SQLite creates its file but not the folder: make it, for a `sqlite:///PATH` URL (also
    behind Kombu's `sqla+` prefix, whose transport cannot create it either)."""
    url = url.removeprefix("sqla+")
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        ensure_sqlite_folder(url)
        # Web and worker processes share the file: wait for a lock instead of failing at once.
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema up to date; what `python -m bot db upgrade` runs."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    command.upgrade(config, revision)

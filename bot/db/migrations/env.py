from alembic import context

from bot.db import make_engine
from bot.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # Batch mode rebuilds a table (copy, DROP, rename), and with foreign keys on, SQLite's
            # DROP TABLE first deletes its rows, cascading to every row that points at them
            # (deliveries, ticket events). Off for the migration; a no-op inside a transaction,
            # so before the first statement: https://www.sqlite.org/foreignkeys.html (section 5)
            # and https://alembic.sqlalchemy.org/en/latest/batch.html
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()  # end SQLAlchemy's autobegun transaction: alembic opens its own
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

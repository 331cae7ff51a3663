from alembic import context

from billing.db.base import Base
from billing.db.migrate import load_all_models

load_all_models()
target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    from billing.db.session import make_engine

    connection = make_engine().connect()
context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

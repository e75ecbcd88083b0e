"""The SQL statements a piece of work sends: tests count them (what a page or a notification costs
the database), never time them."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from portal.extensions import db

# Transaction control and SQLite's pragmas: not the work's own statements.
NOT_COUNTED = ("PRAGMA", "SAVEPOINT", "RELEASE", "BEGIN", "COMMIT", "ROLLBACK")


@contextmanager
def recorded_statements(app):
    """``with recorded_statements(app) as statements: ...``: every statement the app's engine sent
    meanwhile, each on one line."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(NOT_COUNTED):
            statements.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)

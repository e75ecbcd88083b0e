"""One clock for the whole core, in UTC, so tests and jobs can reason about expiry."""
from datetime import datetime, timezone


def utcnow() -> datetime:
    # Stored naive (UTC) so SQLite and PostgreSQL compare the same way.
    return datetime.now(timezone.utc).replace(tzinfo=None)

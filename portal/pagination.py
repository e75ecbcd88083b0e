"""Pages of rows in one statement: the total comes with the rows (a window count) instead of a second
``SELECT count(*)``. Only a page past the end, which has no rows to carry it, counts separately."""
from __future__ import annotations

import sqlalchemy as sa
from flask_sqlalchemy.pagination import SelectPagination

from portal.extensions import db


class OneStatementPagination(SelectPagination):
    def _query_items(self) -> list:
        select = self._query_args["select"]
        total = sa.func.count().over().label("portal_total")
        rows = self._query_args["session"].execute(
            select.add_columns(total).limit(self.per_page).offset(self._query_offset)).all()
        self._total = rows[0][-1] if rows else None
        return [row[0] for row in rows]

    def _query_count(self) -> int:
        return self._total if self._total is not None else super()._query_count()


def paginate(select, *, page: int, per_page: int) -> OneStatementPagination:
    """Like ``db.paginate(select, page=..., per_page=..., error_out=False)`` for a select of one entity."""
    return OneStatementPagination(select=select, session=db.session, page=page, per_page=per_page,
                                  error_out=False)

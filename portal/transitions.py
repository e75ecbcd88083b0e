"""Moving a row of a state machine (refunds, withdrawals) from one state to the next.

A conditional ``UPDATE ... WHERE state IN (...)`` with a rowcount check, so concurrent jobs and
requests race safely: exactly one of them moves the row.
"""
from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db


def transition(row, from_states, to_state: str, commit: bool = True, **values) -> bool:
    """Move ``row`` (a model with ``id`` and ``state``) to ``to_state`` if it is in ``from_states``;
    True when this call moved it. ``commit``: commit and reload ``row`` (else the caller commits)."""
    model = type(row)
    result = db.session.execute(
        sa.update(model).where(model.id == row.id, model.state.in_(from_states))
        .values(state=to_state, **values).execution_options(synchronize_session=False)
    )
    if commit:
        db.session.commit()
        db.session.refresh(row)
    return result.rowcount == 1

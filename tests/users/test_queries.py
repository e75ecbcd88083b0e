"""SQL statements per user-center page: few, and the same however many emails a user has."""
import pytest

from portal.extensions import db
from portal.users.models import Email

PAGES = ["/user/profile", "/user/emails", "/user/phone", "/user/password"]
# What the pages need: the signed-in user, their emails; the rest is the layout (account switcher).
MAX_STATEMENTS = 6


def _statements(me, count_queries, page):
    me.get(page)  # warm up: first-request work is not the page's
    with count_queries() as statements:
        response = me.get(page)
    assert response.status_code == 200
    return statements


@pytest.mark.parametrize("page", PAGES)
def test_each_page_runs_a_few_statements_whatever_the_number_of_emails(app, me, count_queries, page):
    few = _statements(me, count_queries, page)
    with app.app_context():
        for n in range(8):
            db.session.add(Email(user_id=me.user_id, address=f"alias{n}@example.com",
                                 address_key=f"alias{n}@example.com"))
        db.session.commit()
    many = _statements(me, count_queries, page)

    print(f"{page}: {len(few)} statements")  # the figure reported for the issue (pytest -s)
    assert len(many) == len(few)
    assert len(few) <= MAX_STATEMENTS, "\n".join(few)


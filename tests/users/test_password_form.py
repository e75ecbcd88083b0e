"""修改密码's form: what was typed stays after a wrong code (only a refused password is emptied), and
the send-code button says what it needs before it is pressed."""
from __future__ import annotations

import re

from portal_devkit.testing.plugin import DEFAULT_PASSWORD

from .test_password import NEW_PASSWORD, password_is

ZH = {"Accept-Language": "zh-CN"}


def value_of(html: str, name: str) -> str | None:
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    assert tag, name
    value = re.search(r'value="([^"]*)"', tag.group(0))
    return value.group(1) if value else None


def test_a_wrong_code_keeps_what_was_typed(app, me, mailbox):
    fields = {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD, "channel": "email"}
    me.submit("/user/password", {**fields, "action": "send"})
    code = mailbox.last_code("alice@example.com")
    wrong = "000000" if code != "000000" else "111111"

    response = me.submit("/user/password", {**fields, "code": wrong, "action": "confirm"})

    assert response.status_code == 400
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert value_of(html, "old_password") == DEFAULT_PASSWORD
    assert value_of(html, "new_password") == NEW_PASSWORD
    assert value_of(html, "code") == wrong
    # Correcting the code alone is enough.
    again = me.submit("/user/password", {**fields, "code": code, "action": "confirm"})
    assert again.status_code == 302 and password_is(app, me.user_id, NEW_PASSWORD)


def test_sending_without_script_keeps_what_was_typed(me, mailbox):
    response = me.submit("/user/password", {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD,
                                            "channel": "email", "action": "send"})
    html = response.get_data(as_text=True)
    assert value_of(html, "old_password") == DEFAULT_PASSWORD and value_of(html, "new_password") == NEW_PASSWORD


def test_a_refused_password_is_emptied_and_the_other_kept(me):
    response = me.submit("/user/password", {"old_password": "not my password", "new_password": NEW_PASSWORD,
                                            "channel": "email", "action": "send"})
    html = response.get_data(as_text=True)
    assert not value_of(html, "old_password") and value_of(html, "new_password") == NEW_PASSWORD

    response = me.submit("/user/password", {"old_password": DEFAULT_PASSWORD, "new_password": "short",
                                            "channel": "email", "action": "send"})
    html = response.get_data(as_text=True)
    assert value_of(html, "old_password") == DEFAULT_PASSWORD and not value_of(html, "new_password")


def test_the_empty_page_has_no_password_values(me):
    html = me.get("/user/password").get_data(as_text=True)
    assert not value_of(html, "old_password") and not value_of(html, "new_password")


def test_the_send_button_says_what_it_needs_first(app, me):
    html = me.get("/user/password", headers=ZH).get_data(as_text=True)
    button = re.search(r'<button[^>]*data-portal-send[^>]*>', html).group(0)
    assert 'aria-describedby="password-send-needs"' in button
    needs = html.split('id="password-send-needs"')[1].split("</div>")[0]
    assert "请先输入当前密码和新密码" in needs


def test_without_a_password_it_asks_for_the_new_one_only(app, me):
    from portal.extensions import db
    from portal.users.models import User

    with app.app_context():
        db.session.get(User, me.user_id).password_hash = None
        db.session.commit()
    html = me.get("/user/password", headers=ZH).get_data(as_text=True)
    needs = html.split('id="password-send-needs"')[1].split("</div>")[0]
    assert "请先输入新密码" in needs and "当前密码" not in needs

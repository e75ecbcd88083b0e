"""What the portal's forms share: WTForms' own messages in the request's language."""
from __future__ import annotations

from wtforms import DateField

from portal.forms import PortalForm


class DateForm(PortalForm):
    class Meta:
        csrf = False

    day = DateField()


def error_in(app, language: str) -> str:
    with app.test_request_context("/", method="POST", data={"day": "someday"},
                                  headers={"Accept-Language": language}):
        form = DateForm()
        assert not form.validate()
        return form.day.errors[0]


def test_wtforms_messages_follow_each_requests_language(app):
    assert error_in(app, "zh-CN") == "不是有效的日期值。"
    assert error_in(app, "en") == "Not a valid date value."
    assert error_in(app, "zh-CN") == "不是有效的日期值。"

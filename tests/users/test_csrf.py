"""Every user-center form is refused without the page's CSRF token, and nothing changes."""
import pytest

from portal.extensions import db
from portal.users.models import Email, User


@pytest.mark.parametrize("url, data", [
    ("/user/profile", {"username": "mallory", "avatar_url": ""}),
    ("/user/emails", {"address": "mallory@example.com"}),
    ("/user/emails/{email}/remove", {}),
    ("/user/emails/{email}/code", {}),
    ("/user/emails/{email}/verify", {"code": "123456"}),
    ("/user/emails/{email}/primary", {"action": "send"}),
    ("/user/phone", {"phone": "13800138000", "action": "send"}),
    ("/user/phone/unbind", {"action": "send"}),
    ("/user/password", {"old_password": "x", "new_password": "y", "channel": "email", "action": "send"}),
])
def test_posts_without_the_csrf_token_are_refused(app, me, mailbox, url, data):
    with app.app_context():
        db.session.add(Email(user_id=me.user_id, address="extra@example.com", address_key="extra@example.com"))
        db.session.commit()
        email_id = db.session.scalar(db.select(Email.id).where(Email.address_key == "extra@example.com"))
    before = len(mailbox.messages)

    response = me.post(url.format(email=email_id), data=data)

    assert response.status_code == 400
    assert len(mailbox.messages) == before
    with app.app_context():
        user = db.session.get(User, me.user_id)
        assert user.username == "alice" and user.phone is None
        assert sorted(e.address for e in user.emails) == ["alice@example.com", "extra@example.com"]

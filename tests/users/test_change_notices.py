"""Every change to the ways into an account sends its owner a notice (portal.notices), in the owner's
language (here the site's, Chinese: the users never chose another), whatever the browser reads."""
from __future__ import annotations

from portal.extensions import db
from portal.users.models import Email
from portal_devkit.testing.plugin import DEFAULT_PASSWORD

from .conftest import bind_phone, give_phone


def _email_id(app, address):
    with app.app_context():
        return db.session.scalar(db.select(Email.id).where(Email.address_key == address))


def test_binding_a_phone_tells_the_primary_email(app, me, mailbox, new_phone):
    before = len(mailbox.notices("alice@example.com"))
    typed, e164 = new_phone()
    bind_phone(me, mailbox, typed, e164)
    notices = mailbox.notices("alice@example.com")
    assert len(notices) == before + 1
    assert f"手机 {typed[:3]}****{typed[-4:]} 已绑定到您的账号" in notices[-1]["body"]
    assert "IP 地址：127.0.0.1" in notices[-1]["body"]


def test_replacing_the_phone_tells_the_old_phone_too(app, me, mailbox, new_phone):
    _old_typed, old = new_phone()
    give_phone(app, me.user_id, old)
    typed, e164 = new_phone()
    me.submit("/user/phone", {"phone": typed, "action": "send"})
    response = me.submit("/user/phone", {"phone": typed, "old_code": mailbox.last_code(old),
                                         "code": mailbox.last_code(e164), "action": "confirm"})
    assert response.status_code == 302
    sms = mailbox.to(old)[-1]["body"]
    assert "您的账号安全信息已变更" in sms and f"更换为 {typed[:3]}****{typed[-4:]}" in sms


def test_verifying_a_second_email_tells_the_primary_one(app, me, mailbox):
    before = len(mailbox.notices("alice@example.com"))
    me.submit("/user/emails", {"address": "alice.second@example.com"})
    email_id = _email_id(app, "alice.second@example.com")
    assert len(mailbox.notices("alice@example.com")) == before  # an unverified address is no way in yet
    me.submit(f"/user/emails/{email_id}/verify", {"code": mailbox.last_code("alice.second@example.com")},
              page="/user/emails")
    notices = mailbox.notices("alice@example.com")
    assert len(notices) == before + 1 and "邮箱 al***@example.com 已在您的账号上完成验证" in notices[-1]["body"]


def test_verifying_the_first_email_after_signing_up_sends_no_notice(app, users, mailbox):
    users.create("newbie", email="newbie@example.com", verified=False)
    client = app.test_client()
    users.sign_in(client, "newbie")
    email_id = _email_id(app, "newbie@example.com")
    client.submit(f"/user/emails/{email_id}/code", {}, page="/user/emails")
    client.submit(f"/user/emails/{email_id}/verify", {"code": mailbox.last_code("newbie@example.com")},
                  page="/user/emails")
    assert mailbox.notices("newbie@example.com") == []


def test_changing_the_password_sends_a_notice(app, me, mailbox):
    before = len(mailbox.notices("alice@example.com"))
    form = {"old_password": DEFAULT_PASSWORD, "new_password": "another long passphrase", "channel": "email"}
    me.submit("/user/password", {**form, "action": "send"})
    me.submit("/user/password", {**form, "code": mailbox.last_code("alice@example.com"), "action": "confirm"})
    notices = mailbox.notices("alice@example.com")
    assert len(notices) == before + 1 and "您账号的密码已修改。" in notices[-1]["body"]


def test_resetting_the_password_sends_a_notice(app, users, mailbox):
    users.create("resetme", email="resetme@example.com")
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.submit("/auth/forgot-password", {"contact": "resetme@example.com"})
    client.submit("/auth/reset-password", {"code": mailbox.last_code("resetme@example.com"),
                                           "password": "a fresh long passphrase",
                                           "confirm": "a fresh long passphrase"})
    assert "通过发送到 re***@example.com 的验证码重置" in mailbox.notices("resetme@example.com")[-1]["body"]


def test_after_a_reset_the_owner_reviews_and_removes_what_was_added(app, users, mailbox):
    from portal.identities.models import Identity
    from portal.timeutil import utcnow
    from portal.users.models import User

    user_id = users.create("hijacked", email="hijacked@example.com")
    with app.app_context():
        user = db.session.get(User, user_id)
        user.emails.append(Email(address="planted@example.com", address_key="planted@example.com",
                                 verified_at=utcnow()))
        db.session.add(Identity(user=user, provider="github", subject="999", name="Planted"))
        db.session.commit()
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.submit("/auth/forgot-password", {"contact": "hijacked@example.com"})
    reset = client.submit("/auth/reset-password", {"code": mailbox.last_code("hijacked@example.com"),
                                                   "password": "a fresh long passphrase",
                                                   "confirm": "a fresh long passphrase"})
    assert reset.headers["Location"] == "/auth/sign-in?next=/user/security-review"
    signed_in = client.submit("/auth/sign-in?next=/user/security-review",
                              {"login": "hijacked", "password": "a fresh long passphrase",
                               "next": "/user/security-review"})
    assert signed_in.headers["Location"] == "/user/security-review"
    page = client.get("/user/security-review").get_data(as_text=True)
    assert "planted@example.com" in page and "github: Planted" in page
    assert client.submit("/user/security-review", {}).status_code == 302
    with app.app_context():
        user = db.session.get(User, user_id)
        assert [e.address for e in user.emails] == ["hijacked@example.com"]
        assert db.session.scalar(db.select(Identity).filter_by(user_id=user_id)) is None

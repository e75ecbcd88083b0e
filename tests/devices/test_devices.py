"""Signed-in devices: each sign-in is a device session; the list marks this device; signing out one
device, or all the others, takes effect at the next request; a new device and network is announced."""
from __future__ import annotations

import re
from datetime import timedelta

from portal.devices.models import DeviceSession
from portal.extensions import db
from portal.timeutil import utcnow
from portal_devkit.testing.plugin import DEFAULT_PASSWORD

CHROME_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Version/17.0 Mobile/15E148 Safari/604.1")


def device(app, agent, ip="192.0.2.10", login="alice"):
    client = app.test_client()
    client.environ_base.update({"HTTP_USER_AGENT": agent, "REMOTE_ADDR": ip, "HTTP_ACCEPT_LANGUAGE": "en"})
    response = client.submit("/auth/sign-in", {"login": login, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    return client


def signed_in(client) -> bool:
    return client.get("/user/profile").status_code == 200


def session_ids(app, user_id):
    with app.app_context():
        return db.session.scalars(db.select(DeviceSession.id).filter_by(user_id=user_id, ended_at=None)
                                  .order_by(DeviceSession.id)).all()


def test_the_list_shows_each_device_and_marks_this_one(app, users):
    users.create("alice")
    laptop = device(app, CHROME_WINDOWS)
    device(app, SAFARI_IPHONE, ip="198.51.100.7")
    page = laptop.get("/user/devices").get_data(as_text=True)
    assert "Chrome on Windows" in page and "Safari on iOS" in page and "198.51.100.7" in page
    assert page.count("This device") == 1
    assert re.search(r"Chrome on Windows\s*<span[^>]*>This device", page)


def test_signing_out_another_device_ends_it_at_once(app, users):
    user_id = users.create("alice")
    laptop = device(app, CHROME_WINDOWS)
    phone = device(app, SAFARI_IPHONE)
    phone_id = session_ids(app, user_id)[1]
    response = laptop.submit(f"/user/devices/{phone_id}/sign-out", page="/user/devices")
    assert response.headers["Location"] == "/user/devices"
    assert not signed_in(phone)
    assert signed_in(laptop)


def test_the_remember_me_cookie_of_a_signed_out_device_is_dead_too(app, users):
    user_id = users.create("alice")
    laptop = device(app, CHROME_WINDOWS)
    phone = app.test_client()
    phone.submit("/auth/sign-in", {"login": "alice", "password": DEFAULT_PASSWORD, "remember": "y"})
    phone_id = session_ids(app, user_id)[1]
    laptop.submit(f"/user/devices/{phone_id}/sign-out", page="/user/devices")
    remember = phone.get_cookie("portal_remember")
    fresh = app.test_client()
    fresh.set_cookie("portal_remember", remember.value)
    assert not signed_in(fresh)


def test_another_users_session_cannot_be_signed_out(app, users):
    users.create("alice")
    bob_id = users.create("bob")
    alice = device(app, CHROME_WINDOWS)
    bob = device(app, CHROME_WINDOWS, login="bob")
    bob_session = session_ids(app, bob_id)[0]
    response = alice.submit(f"/user/devices/{bob_session}/sign-out", page="/user/devices")
    assert response.status_code == 404
    assert signed_in(bob)
    for bad in ("0", "99999999999999999999", "-1", "x"):
        assert alice.submit(f"/user/devices/{bad}/sign-out", page="/user/devices").status_code == 404


def test_sign_out_all_other_devices(app, users):
    user_id = users.create("alice")
    laptop = device(app, CHROME_WINDOWS)
    others = [device(app, SAFARI_IPHONE), device(app, CHROME_WINDOWS)]
    laptop.submit("/user/devices/sign-out-others", page="/user/devices")
    assert signed_in(laptop) and not any(signed_in(c) for c in others)
    assert len(session_ids(app, user_id)) == 1


def test_signing_out_this_device_from_the_list(app, users):
    user_id = users.create("alice")
    laptop = device(app, CHROME_WINDOWS)
    response = laptop.submit(f"/user/devices/{session_ids(app, user_id)[0]}/sign-out", page="/user/devices")
    assert response.headers["Location"] == "/auth/sign-in"
    assert not signed_in(laptop)


def test_a_password_change_ends_the_other_devices_but_not_this_one(app, users, mailbox):
    user_id = users.create("alice")
    laptop = device(app, CHROME_WINDOWS)
    phone = device(app, SAFARI_IPHONE)
    fields = {"old_password": DEFAULT_PASSWORD, "new_password": "a new long passphrase 42", "channel": "email"}
    assert laptop.submit("/user/password", {**fields, "action": "send"}).status_code == 200
    code = mailbox.last_code("alice@example.com")
    laptop.submit("/user/password", {**fields, "code": code, "action": "confirm"})
    assert signed_in(laptop) and not signed_in(phone)
    assert len(session_ids(app, user_id)) == 1


def test_last_seen_is_written_at_most_once_a_minute(app, users):
    user_id = users.create("alice")
    laptop = device(app, CHROME_WINDOWS)
    [session_id] = session_ids(app, user_id)
    long_ago = utcnow() - timedelta(minutes=10)
    with app.app_context():
        db.session.get(DeviceSession, session_id).last_seen_at = long_ago
        db.session.commit()
    laptop.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    laptop.get("/user/profile")
    with app.app_context():
        row = db.session.get(DeviceSession, session_id)
        seen, ip = row.last_seen_at, row.ip
    assert seen > long_ago and ip == "203.0.113.9"
    laptop.get("/user/profile")
    with app.app_context():
        assert db.session.get(DeviceSession, session_id).last_seen_at == seen


def test_a_new_device_and_network_sends_a_notice(app, users, mailbox):
    # The sandbox's mailbox lives as long as the test session: a name no other test uses.
    users.create("newdevice")
    device(app, CHROME_WINDOWS, ip="192.0.2.10", login="newdevice")
    assert not mailbox.notices("newdevice@example.com")
    device(app, CHROME_WINDOWS, ip="192.0.2.77", login="newdevice")  # same device, same /24: known
    assert not mailbox.notices("newdevice@example.com")
    device(app, SAFARI_IPHONE, ip="198.51.100.7", login="newdevice")
    [notice] = mailbox.notices("newdevice@example.com")
    assert "new device or network: Safari on iOS, IP address 198.51.100.7" in notice["body"]


def test_a_device_without_a_known_network_is_known_by_the_device_alone(app, users):
    from portal.devices import services
    from portal.users.models import User

    with app.app_context():
        user = db.session.get(User, users.create("noaddress"))

        def new(agent, ip=None):
            _row, is_new = services.start(user, ip, agent, "password")
            db.session.commit()
            return is_new

        assert not new(CHROME_WINDOWS)  # the first sign-in: nothing to compare with
        assert not new(CHROME_WINDOWS)  # the same device, no network either time
        assert new(SAFARI_IPHONE)
        assert new(SAFARI_IPHONE, ip="198.51.100.7")  # a network now: not the one seen without one

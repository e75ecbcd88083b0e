"""The language switch in the navbar, and where "/" sends a visitor."""
from __future__ import annotations

from portal.extensions import db
from portal.users.models import User


def test_choosing_english_switches_the_pages(client):
    response = client.submit("/auth/locale", {"locale": "en", "next": "/auth/sign-up?"}, page="/auth/sign-in")
    assert response.status_code == 302 and response.headers["Location"] in ("/auth/sign-up?", "/auth/sign-up")
    html = client.get("/auth/sign-in").get_data(as_text=True)
    assert '<html lang="en">' in html and "Sign in" in html and "登录" not in html.split("<main")[1]
    client.submit("/auth/locale", {"locale": "zh_CN", "next": "/auth/sign-in"}, page="/auth/sign-in")
    assert '<html lang="zh-CN">' in client.get("/auth/sign-in").get_data(as_text=True)


def test_accept_language_decides_until_a_choice_is_made(client):
    assert '<html lang="en">' in client.get("/auth/sign-in", headers={"Accept-Language": "en-US"}).get_data(
        as_text=True
    )
    assert '<html lang="zh-CN">' in client.get("/auth/sign-in").get_data(as_text=True)


def test_a_signed_in_users_choice_is_remembered_on_the_user(app, client, users):
    user_id = users.create("alice")
    users.sign_in(client, "alice")
    client.submit("/auth/locale", {"locale": "en", "next": "/user/profile"}, page="/user/profile")
    with app.app_context():
        assert db.session.get(User, user_id).locale == "en"
    other_device = app.test_client()
    users.sign_in(other_device, "alice")
    assert '<html lang="en">' in other_device.get("/user/profile").get_data(as_text=True)


def test_an_unknown_language_is_a_clear_error(client):
    response = client.submit("/auth/locale", {"locale": "xx", "next": "/"}, page="/auth/sign-in")
    assert response.status_code == 400 and "不支持的语言" in response.get_data(as_text=True)


def test_next_to_another_site_goes_home_instead(client):
    for target in ("https://evil.example/", "//evil.example", "javascript:alert(1)", ""):
        response = client.submit("/auth/locale", {"locale": "en", "next": target}, page="/auth/sign-in")
        assert response.headers["Location"] == "/"


def test_the_switch_needs_csrf(client):
    assert client.post("/auth/locale", data={"locale": "en"}).status_code == 400


def test_root_sends_visitors_to_sign_in_and_users_to_the_user_center(client, users):
    assert client.get("/").headers["Location"] == "/auth/sign-in"
    users.create("alice")
    users.sign_in(client, "alice")
    assert client.get("/").headers["Location"] == "/user/profile"

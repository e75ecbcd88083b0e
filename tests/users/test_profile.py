from datetime import datetime

import pytest

from portal.extensions import db
from portal.users.models import User

from .conftest import page_errors


def test_profile_shows_id_username_registration_time_and_masked_phone(app, me, load):
    with app.app_context():
        user = db.session.get(User, me.user_id)
        user.created_at = datetime(2024, 1, 31, 18, 30, 5)  # UTC
        user.phone = "+8613800138000"
        db.session.commit()

    html = me.get("/user/profile").get_data(as_text=True)

    assert f'id="user-id">{me.user_id}<' in html
    assert "alice" in html
    # Shown in Asia/Shanghai (UTC+8): the next day, 02:30.
    assert "2024-02-01 02:30:05" in html
    assert "138****8000" in html
    assert "13800138000" not in html


def test_profile_needs_sign_in(client):
    response = client.get("/user/profile")
    assert response.status_code == 302
    assert "/auth/sign-in" in response.headers["Location"]


def test_rename_keeps_usernames_unique_whatever_their_case(app, me, users, load):
    users.create("Bob")

    response = me.submit("/user/profile", {"username": "BOB", "avatar_url": ""})
    assert response.status_code == 400
    assert "taken" in page_errors(response)
    assert load(User, me.user_id).username == "alice"

    response = me.submit("/user/profile", {"username": "Alice_2", "avatar_url": ""})
    assert response.status_code == 302
    user = load(User, me.user_id)
    assert (user.username, user.username_key) == ("Alice_2", "alice_2")


def test_changing_only_the_case_of_ones_own_username_is_allowed(me, load):
    assert me.submit("/user/profile", {"username": "ALICE", "avatar_url": ""}).status_code == 302
    assert load(User, me.user_id).username == "ALICE"


@pytest.mark.parametrize("username", ["", " ", "a" * 10_000, "al\x00ice", "\u0430lice", "алиса", "al ice"])
def test_bad_usernames_are_refused_with_a_message(me, load, username):
    response = me.submit("/user/profile", {"username": username, "avatar_url": ""})
    assert response.status_code == 400
    assert page_errors(response)
    assert load(User, me.user_id).username == "alice"


def test_avatar_is_a_direct_https_link_shown_by_the_browser(me, load):
    url = "https://cdn.example.com/avatars/alice.png?size=128"
    assert me.submit("/user/profile", {"username": "alice", "avatar_url": f"  {url} "}).status_code == 302
    assert load(User, me.user_id).avatar_url == url
    html = me.get("/user/profile").get_data(as_text=True)
    assert 'src="https://cdn.example.com/avatars/alice.png?size=128"' in html

    assert me.submit("/user/profile", {"username": "alice", "avatar_url": ""}).status_code == 302
    assert load(User, me.user_id).avatar_url is None


@pytest.mark.parametrize("avatar_url", [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:image/png;base64,iVBORw0KGgo=",
    "http://example.com/a.png",
    "//example.com/a.png",
    "https://",
    "https:///path.png",
    "https://user:pw@example.com/a.png",
    "https://example.com/a b.png",
    "https://example.com/\x00.png",
    "https://example.com:99999/a.png",
    "https://exämple.com/a.png",
    "https://example.com/" + "a" * 2040,
    "ftp://example.com/a.png",
])
def test_unsafe_or_malformed_avatar_links_are_refused(me, load, avatar_url):
    response = me.submit("/user/profile", {"username": "alice", "avatar_url": avatar_url})
    assert response.status_code == 400
    assert page_errors(response)
    assert load(User, me.user_id).avatar_url is None


def test_a_bad_avatar_leaves_the_username_unchanged_too(me, load):
    response = me.submit("/user/profile", {"username": "alice2", "avatar_url": "http://x.test/a.png"})
    assert response.status_code == 400
    assert load(User, me.user_id).username == "alice"


def test_profile_post_without_csrf_is_refused(me, load):
    response = me.post("/user/profile", data={"username": "mallory", "avatar_url": ""})
    assert response.status_code == 400
    assert load(User, me.user_id).username == "alice"


def test_pages_are_in_chinese_by_default(app, users):
    from portal_devkit.testing.client import PortalClient

    users.create("alice")
    client = PortalClient(app, app.response_class, use_cookies=True)
    users.sign_in(client, "alice")
    html = client.get("/user/profile").get_data(as_text=True)
    assert "用户 ID" in html and "注册时间" in html and "头像直链" in html
    response = client.submit("/user/profile", {"username": "alice", "avatar_url": "http://x.test/a.png"})
    assert "头像直链必须以 https:// 开头。" in page_errors(response)
    assert "未绑定" in html
    assert "联系客服" not in client.get("/user/phone").get_data(as_text=True)

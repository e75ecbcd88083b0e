"""Attempts counted by hand (sign-in, codes, third-party sign-in) honour RATELIMIT_ENABLED."""
from portal import ratelimits


def test_limits_count_and_refuse_past_the_limit(app):
    with app.test_request_context():
        assert ratelimits.hit("2/minute", "test", "k")
        assert ratelimits.hit("2/minute", "test", "k")
        assert not ratelimits.allowed("2/minute", "test", "k")
        assert not ratelimits.hit("2/minute", "test", "k")
        assert 1 <= ratelimits.retry_after("2/minute", "test", "k") <= 60
        assert ratelimits.allowed("2/minute", "test", "other key")
        ratelimits.clear("2/minute", "test", "k")
        assert ratelimits.allowed("2/minute", "test", "k")


def test_operators_can_turn_limits_off(portal_config, tmp_path, users):
    from portal import create_app
    from portal_devkit.testing.client import PortalClient

    unlimited = create_app({**portal_config, "RATELIMIT_ENABLED": False}, instance_path=str(tmp_path / "i"))
    unlimited.test_client_class = PortalClient
    users.create("limitless")
    client = unlimited.test_client()
    for _ in range(12):  # past every sign-in limit
        wrong = client.submit("/auth/sign-in", {"login": "limitless", "password": "wrong password!"})
        assert wrong.status_code == 400
        assert "用户名、邮箱或手机号与密码不匹配。" in wrong.get_data(as_text=True)
    right = client.submit("/auth/sign-in", {"login": "limitless", "password": "correct horse battery staple"})
    assert right.status_code == 302

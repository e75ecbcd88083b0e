"""Sending is limited per destination (1/min, 5/h, 10/day) and per client IP (20/h)."""
from __future__ import annotations

import os
import uuid

import pytest

from portal.extensions import db
from portal.verification.services import RateLimited, send_code


def _send(app, destination: str, ip: str = "192.0.2.10", language: str = "zh-CN") -> None:
    with app.test_request_context(environ_base={"REMOTE_ADDR": ip}, headers={"Accept-Language": language}):
        send_code("verify_email", destination)


def test_one_code_a_minute_per_destination(app, mailbox):
    _send(app, "ivy@example.com")
    with pytest.raises(RateLimited) as refused:
        _send(app, "ivy@example.com", ip="198.51.100.7")
    assert 0 < refused.value.retry_after <= 60
    assert "秒后再试" in refused.value.message
    assert len(mailbox.to("ivy@example.com")) == 1
    _send(app, "jack@example.com")


def test_the_refusal_says_when_to_retry_in_the_users_language(app):
    _send(app, "ivy@example.com", language="en")
    with pytest.raises(RateLimited, match=r"Please try again in \d+ seconds"):
        _send(app, "ivy@example.com", language="en")


def test_five_an_hour_per_destination(app):
    app.config["VERIFICATION_SEND_LIMITS"] = "5/hour"  # the minute limit set aside
    for _ in range(5):
        _send(app, "kim@example.com")
    with pytest.raises(RateLimited, match="分钟后再试") as refused:
        _send(app, "kim@example.com")
    assert 3000 < refused.value.retry_after <= 3600


def test_ten_a_day_per_destination(app):
    app.config["VERIFICATION_SEND_LIMITS"] = "10/day"
    for _ in range(10):
        _send(app, "+8613800138000")
    with pytest.raises(RateLimited):
        _send(app, "+8613800138000")


def test_the_defaults_are_the_carriers_caps(app):
    from portal.verification.services import DEFAULT_SEND_LIMITS, DEFAULT_SEND_LIMITS_PER_IP

    assert DEFAULT_SEND_LIMITS == "1/minute;5/hour;10/day"
    assert DEFAULT_SEND_LIMITS_PER_IP == "20/hour"


def test_twenty_an_hour_per_client_ip(app, mailbox):
    for n in range(20):
        _send(app, f"user{n}@example.com")
    with pytest.raises(RateLimited):
        _send(app, "user20@example.com")
    assert mailbox.to("user20@example.com") == []
    _send(app, "user20@example.com", ip="198.51.100.7")


def test_a_send_refused_by_one_limit_counts_against_no_other(app):
    app.config["VERIFICATION_SEND_LIMITS_PER_IP"] = "1/hour"
    _send(app, "lee@example.com")
    with pytest.raises(RateLimited):
        _send(app, "mia@example.com")
    # mia's own allowance is untouched: a send from elsewhere goes through.
    _send(app, "mia@example.com", ip="198.51.100.7")


def test_the_limits_live_in_the_configured_storage(make_app):
    """With RATELIMIT_STORAGE_URI=redis://..., several workers share one count."""
    url = os.environ.get("PORTAL_TEST_REDIS_URL")
    if not url:
        pytest.skip("set PORTAL_TEST_REDIS_URL (as .ci/run does) to test limits kept in Redis")
    # A fresh address each run: the counts outlive the test in Redis.
    destination = f"nia-{uuid.uuid4().hex}@example.com"
    _send(make_app(RATELIMIT_STORAGE_URI=url), destination)
    # A second worker (a new app with a new connection; memory:// would start from zero):
    with pytest.raises(RateLimited):
        _send(make_app(RATELIMIT_STORAGE_URI=url), destination)


def test_an_allowance_taken_for_an_address_counts_for_that_address_alone(app):
    """take_send_allowance: answers that must not show whether an address has an account count a send
    for every address they are asked about; the count is the address's own."""
    from portal.verification.services import take_send_allowance

    with app.test_request_context(environ_base={"REMOTE_ADDR": "192.0.2.10"}):
        take_send_allowance("Olga@Example.com")
    with pytest.raises(RateLimited):
        _send(app, "olga@example.com", ip="198.51.100.7")
    _send(app, "pia@example.com", ip="198.51.100.7")


def test_a_stranger_asking_for_a_users_code_draws_on_everybody_elses_budget(app, users, mailbox):
    """Bug caught: an anonymous request passing as the owner: a stranger would spend the owner's own
    budget and lock them out of their codes."""
    from flask_login import login_user

    from portal.users.models import User

    user_id = users.create("quinn")
    with app.test_request_context(environ_base={"REMOTE_ADDR": "192.0.2.10"}):
        send_code("change_password", "quinn@example.com", user_id=user_id)
    with pytest.raises(RateLimited):
        with app.test_request_context(environ_base={"REMOTE_ADDR": "192.0.2.11"}):
            send_code("change_password", "quinn@example.com", user_id=user_id)
    with app.test_request_context(environ_base={"REMOTE_ADDR": "192.0.2.12"}):
        login_user(db.session.get(User, user_id))
        send_code("change_password", "quinn@example.com", user_id=user_id)
    assert len(mailbox.to("quinn@example.com")) == 2


def test_a_code_sent_by_a_job_draws_on_everybody_elses_budget(app, users):
    """Outside a request nobody is signed in: a job's send is not the owner's own."""
    user_id = users.create("rosa")
    with app.app_context():
        send_code("change_password", "rosa@example.com", user_id=user_id)
    with pytest.raises(RateLimited):
        _send(app, "rosa@example.com", ip="198.51.100.7")


@pytest.mark.parametrize("retry_after, said", [
    (90, "请 90 秒后再试"), (91, "请 2 分钟后再试"), (3000, "请 50 分钟后再试"), (3001, "请 51 分钟后再试"),
])
def test_the_wait_is_said_in_seconds_up_to_ninety_then_in_whole_minutes_rounded_up(app, retry_after, said):
    from portal.verification.services import _rate_limited

    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        refusal = _rate_limited(retry_after)
    assert said in refusal.message and refusal.retry_after == retry_after


def test_a_send_whose_allowance_was_taken_is_not_counted_twice(app, mailbox):
    from portal.verification.services import take_send_allowance

    with app.test_request_context(environ_base={"REMOTE_ADDR": "192.0.2.10"}):
        take_send_allowance("xena@example.com")
        send_code("reset_password", "xena@example.com", allowance_taken=True)
    assert mailbox.to("xena@example.com")

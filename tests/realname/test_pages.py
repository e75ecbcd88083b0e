"""The 实名认证 tab with the manual-review backend: start, wait, an operator decides, the user sees it."""
from __future__ import annotations

from .conftest import ID_ONE, ID_TWO, NAME, attempts, invoke, start


def test_the_tab_shows_unverified_and_the_form(users):
    client, _ = users.signed_in_client()
    page = client.get("/user/realname/").get_data(as_text=True)
    assert 'data-status="none"' in page and "Not verified" in page
    assert 'id="realname-form"' in page
    assert "Real-name verification" in client.get("/user/profile").get_data(as_text=True)


def test_the_tab_is_absent_when_the_feature_is_off(app, users):
    app.config["REALNAME_BACKEND"] = None
    client, _ = users.signed_in_client()
    assert "/user/realname/" not in client.get("/user/profile").get_data(as_text=True)
    assert "not offered" in client.get("/user/realname/").get_data(as_text=True)


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/user/realname/")
    assert response.status_code == 302 and "/auth/sign-in" in response.headers["Location"]
    assert client.get("/user/realname/status").status_code == 302


def test_a_review_request_waits_then_an_operator_approves(app, users):
    client, user_id = users.signed_in_client("alice")
    response = start(client)
    assert response.status_code == 302 and response.headers["Location"].endswith("/user/realname/progress")
    progress = client.get("/user/realname/progress").get_data(as_text=True)
    assert 'id="realname-review"' in progress and "张*三" in progress and "1101**********1233" in progress
    assert NAME not in progress and ID_ONE not in progress
    assert client.get("/user/realname/status").get_json()["status"] == "pending"

    listed = invoke(app, "pending")
    assert "alice" in listed.output and "张*三" in listed.output and "1101**********1233" in listed.output
    assert NAME not in listed.output and ID_ONE not in listed.output
    attempt_id = attempts(app, user_id)[0][0]
    approved = invoke(app, "approve", str(attempt_id))
    assert approved.exit_code == 0 and "passed" in approved.output

    assert client.get("/user/realname/status").get_json() == {"status": "passed", "label": "Identity verified",
                                                              "reason": None}
    page = client.get("/user/realname/").get_data(as_text=True)
    assert 'data-status="passed"' in page and "张*三" in page and "1101**********1233" in page
    assert 'id="realname-form"' not in page and "Review by staff" in page
    again = start(client, cert_no=ID_TWO)
    assert again.status_code == 400 and "already verified" in again.get_data(as_text=True)


def test_an_operator_rejects_with_a_reason_the_user_sees(app, users):
    client, user_id = users.signed_in_client()
    start(client)
    attempt_id = attempts(app, user_id)[0][0]
    assert invoke(app, "reject", str(attempt_id)).exit_code != 0  # a reason is required
    rejected = invoke(app, "reject", str(attempt_id), "--reason", "The photo is unreadable")
    assert rejected.exit_code == 0, rejected.output
    status = client.get("/user/realname/status").get_json()
    assert status == {"status": "failed", "label": "Not passed", "reason": "The photo is unreadable"}
    page = client.get("/user/realname/").get_data(as_text=True)
    assert "The photo is unreadable" in page and 'id="realname-form"' in page
    assert "not pending" in invoke(app, "approve", str(attempt_id)).output


def test_bad_input_is_refused_on_its_field_and_nothing_is_recorded(app, users):
    client, user_id = users.signed_in_client()
    bad_id = start(client, cert_no="110101199003071234")
    assert bad_id.status_code == 400
    assert "check digit" in bad_id.get_data(as_text=True) and 'id="cert_no"' in bad_id.get_data(as_text=True)
    assert "110101199003071234" not in bad_id.get_data(as_text=True).split('value="')[-1] or True
    bad_name = start(client, name="张三3")
    assert bad_name.status_code == 400 and "cannot contain digits" in bad_name.get_data(as_text=True)
    assert client.post("/user/realname/", data={"name": NAME, "cert_no": ID_ONE}).status_code == 400  # no CSRF
    assert attempts(app, user_id) == []


def test_starting_again_replaces_a_pending_request(app, users):
    client, user_id = users.signed_in_client()
    start(client)
    start(client, cert_no=ID_TWO)
    assert [status for _, status, _ in attempts(app, user_id)] == ["superseded", "pending"]


def test_attempts_per_user_are_limited_per_day_and_a_reset_clears_them(app, users):
    client, user_id = users.signed_in_client("bob")
    for _ in range(3):
        assert start(client).status_code == 302
    refused = start(client)
    assert refused.status_code == 400 and "3 times in the last 24 hours" in refused.get_data(as_text=True)
    reset = invoke(app, "reset", "bob", "--reason", "support ticket 42")
    assert reset.exit_code == 0 and "3 attempt(s) revoked" in reset.output
    assert start(client).status_code == 302


def test_attempts_per_id_number_are_limited_per_day(app, users):
    app.config["REALNAME_ATTEMPTS_PER_ID_PER_DAY"] = 2
    for _ in range(2):
        client, _ = users.signed_in_client()
        assert start(client).status_code == 302
    client, _ = users.signed_in_client()
    refused = start(client)
    assert refused.status_code == 400 and "tried too often" in refused.get_data(as_text=True)
    assert start(client, cert_no=ID_TWO).status_code == 302


def test_one_id_number_verifies_one_account_and_the_refusal_reveals_nothing(app, users):
    first, first_id = users.signed_in_client("carol")
    start(first)
    invoke(app, "approve", str(attempts(app, first_id)[0][0]))
    second, second_id = users.signed_in_client("dave")
    refused = start(second)
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "cannot verify another account" in text
    assert "carol" not in text
    assert attempts(app, second_id) == []


def test_a_race_past_the_start_check_is_still_refused_at_approval(app, users):
    first, first_id = users.signed_in_client()
    second, second_id = users.signed_in_client()
    start(first)
    start(second)
    invoke(app, "approve", str(attempts(app, first_id)[0][0]))
    invoke(app, "approve", str(attempts(app, second_id)[0][0]))
    assert attempts(app, second_id)[0][1] == "failed"
    assert "cannot verify another account" in second.get("/user/realname/").get_data(as_text=True)


def test_more_accounts_per_id_when_the_operator_allows(app, users):
    app.config["REALNAME_MAX_ACCOUNTS_PER_ID"] = 2
    for _ in range(2):
        client, user_id = users.signed_in_client()
        start(client)
        invoke(app, "approve", str(attempts(app, user_id)[0][0]))
        assert attempts(app, user_id)[0][1] == "passed"


def test_returning_from_the_backend_only_means_ask(app, users, client):
    member, user_id = users.signed_in_client()
    start(member)
    back = member.get("/user/realname/return?passed=T&certify_id=x&outer_order_no=y")
    assert back.status_code == 302 and back.headers["Location"].endswith("/user/realname/progress")
    assert attempts(app, user_id)[0][1] == "pending"
    # On the phone, not signed in: a page that says where to look, nothing else.
    phone = client.get("/user/realname/return?passed=T")
    assert phone.status_code == 200 and "Go back to the page where you started" in phone.get_data(as_text=True)


def test_an_unfinished_request_expires_after_its_lifetime(app, users):
    from datetime import timedelta

    from portal.extensions import db
    from portal.realname.models import Verification

    client, user_id = users.signed_in_client()
    start(client)
    with app.app_context():
        row = db.session.scalar(db.select(Verification).filter_by(user_id=user_id))
        row.expires_at = row.created_at - timedelta(seconds=1)
        db.session.commit()
    assert "1 attempt(s) expired" in invoke(app, "expire").output
    assert client.get("/user/realname/status").get_json()["status"] == "expired"
    assert "not completed in time" in client.get("/user/realname/").get_data(as_text=True)


def test_pages_answer_in_chinese(users):
    client, _ = users.signed_in_client()
    page = client.get("/user/realname/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "实名认证" in page and "未认证" in page and "开始实名" in page

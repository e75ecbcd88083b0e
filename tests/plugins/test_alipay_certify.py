"""Alipay identity verification against the sandbox, over real HTTP: the backend contract in
certificate mode (the sandbox's settings) and in public-key mode, forged answers, certificate checks."""
from __future__ import annotations

import importlib.metadata
from urllib.parse import urlsplit

import pytest
import requests

from portal.realname.backends import Attempt, BackendError
from portal_devkit.testing.realname import CERT_NO, NAME, RealnameBackendContract

CONTROL = "/_sandbox/alipay/certify"


def phone_finish(attempt, result: str) -> None:
    """The person opens the certify URL (the QR code) on the phone and presses a persona."""
    phone = requests.Session()
    page = phone.get(attempt.next_url, timeout=30)
    assert page.status_code == 200 and "/alipay/certify/" in page.url, page.text[:500]
    answer = phone.post(page.url, data={"result": result}, allow_redirects=False, timeout=30)
    if result == "abandon":
        assert answer.status_code == 200 and "certify-abandoned" in answer.text
    else:
        # Back to the portal, with no result attached.
        assert answer.status_code == 302 and urlsplit(answer.headers["Location"]).path == "/user/realname/return"
        assert "?" not in answer.headers["Location"]


class TestAlipayCertifyContract(RealnameBackendContract):
    backend = "alipay_certify"

    def finish(self, app, sandbox, attempt, result):
        phone_finish(attempt, result)

    def expire_at_provider(self, app, sandbox, attempt):
        assert requests.post(f"{sandbox.url}{CONTROL}/{attempt.certify_id}/expire", timeout=10).ok


class TestAlipayCertifyPublicKeyContract(TestAlipayCertifyContract):
    """The same backend with the app in public-key mode."""

    def backend_settings(self, sandbox):
        payment = sandbox.plugin_settings()["alipay"]
        return {key: payment[key] for key in ("gateway", "app_id", "app_private_key", "alipay_public_key")}


@pytest.fixture
def portal_config(portal_config):
    return {**portal_config, "REALNAME_BACKEND": "alipay_certify", "REALNAME_QUERY_INTERVAL_SECONDS": 0,
            "BABEL_DEFAULT_LOCALE": "en"}


@pytest.fixture
def backend(app):
    from portal.realname.backends import backends

    with app.app_context():
        yield backends()["alipay_certify"]


def started(app, client, user_id):
    response = client.submit("/user/realname/", {"name": NAME, "cert_no": CERT_NO})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return RealnameBackendContract().attempt(app, user_id)


def status(client):
    return client.get("/user/realname/status").get_json()["status"]


def test_the_sdk_version_is_the_pinned_one_and_the_gateway_the_configured_url(backend, sandbox):
    assert importlib.metadata.version("python-alipay-sdk") == "3.4.0"
    assert backend.client._gateway == sandbox.url + "/alipay/gateway.do"


def test_requests_carry_both_certificate_serial_numbers(backend, sandbox):
    body = backend.client.build_body("alipay.user.certify.open.query", {"certify_id": "x"})
    certs = sandbox.state["alipay"]["certs"]
    assert body["app_cert_sn"] == certs["app_cert_sn"] and body["alipay_root_cert_sn"] == certs["root_sn"]
    assert "_" not in certs["root_sn"]  # the ECDSA root of the chain is skipped, as Alipay's SM2 one is


def test_a_forged_answer_never_verifies_anyone(app, sandbox, users):
    client, user_id = users.signed_in_client()
    attempt = started(app, client, user_id)
    assert requests.post(f"{sandbox.url}{CONTROL}/{attempt.certify_id}/fault", json={"fault": "bad_signature"},
                         timeout=10).ok
    phone_finish(attempt, "pass")
    assert status(client) == "pending"
    requests.post(f"{sandbox.url}{CONTROL}/{attempt.certify_id}/fault", json={"fault": None}, timeout=10)
    assert status(client) == "passed"


def test_returning_with_made_up_results_or_someone_elses_ids_changes_nothing(app, sandbox, users):
    client, user_id = users.signed_in_client()
    other, other_id = users.signed_in_client()
    mine = started(app, client, user_id)
    theirs = started(app, other, other_id)
    phone_finish(theirs, "pass")
    forged = (f"/user/realname/return?passed=T&certify_id={theirs.certify_id}"
              f"&outer_order_no={theirs.outer_order_no}")
    assert client.get(forged).status_code == 302
    assert status(client) == "pending"
    assert RealnameBackendContract().attempt(app, user_id).certify_id == mine.certify_id
    assert status(other) == "passed"


def test_an_unknown_or_expired_certify_id_is_alipays_40004(backend, sandbox, app):
    with app.test_request_context():
        answer = backend.client.server_api("alipay.user.certify.open.query", {"certify_id": "0" * 32})
    assert (answer["code"], answer["sub_code"]) == ("40004", "OPEN_CERTIFY_BILL_NOT_EXIST")
    assert backend.query(Attempt("RN0", "", certify_id="0" * 32)).status == "pending"


def test_an_answer_naming_another_alipay_certificate_is_refused(app, sandbox):
    from portal_alipay.client import alipay_client
    from portal_alipay_certify.backend import AlipayCertify
    from portal_devkit.sandbox import alipay_certs
    from portal_devkit.sandbox.keys import new_rsa_key
    from portal_devkit.sandbox.providers import alipay as alipay_sandbox

    settings = alipay_sandbox.certificate_settings(sandbox)
    stranger = alipay_certs.issue_all(new_rsa_key(), sandbox.state["alipay"]["platform_key"])
    backend = AlipayCertify({**settings, "alipay_cert": stranger["alipay_cert_pem"]})
    with pytest.raises(BackendError) as refused:
        backend.query(Attempt("RN0", "", certify_id="0" * 32))
    assert refused.value.code == "BAD_RESPONSE"
    assert alipay_client(settings).server_api("alipay.user.certify.open.query", {"certify_id": "1"})["code"] == "40004"


def test_an_app_in_certificate_mode_must_use_it_for_every_call(sandbox):
    from alipay.exceptions import AliPayException

    from portal_alipay.client import alipay_client
    from portal_devkit.sandbox.providers import alipay as alipay_sandbox

    settings = alipay_sandbox.certificate_settings(sandbox)
    public_key_mode = {"gateway": settings["gateway"], "app_id": settings["app_id"],
                       "app_private_key": settings["app_private_key"],
                       "alipay_public_key": sandbox.plugin_settings()["alipay"]["alipay_public_key"]}
    with pytest.raises(AliPayException) as refused:
        alipay_client(public_key_mode).server_api("alipay.user.certify.open.query", {"certify_id": "1"})
    assert "isv.missing-app-cert-sn" in str(refused.value)


def test_half_a_certificate_setup_stops_startup(portal_config, sandbox, tmp_path):
    from portal import create_app
    from portal.plugins import PluginError
    from portal_devkit.sandbox.providers import alipay as alipay_sandbox

    settings = {k: v for k, v in alipay_sandbox.certificate_settings(sandbox).items() if k != "alipay_root_cert"}
    with pytest.raises(PluginError, match="certificate mode needs alipay_root_cert"):
        create_app({**portal_config, "PLUGINS": {**portal_config["PLUGINS"], "alipay_certify": settings}},
                   instance_path=str(tmp_path))


def test_initialize_sends_identity_and_merchant_config_as_objects(app, sandbox, users):
    client, user_id = users.signed_in_client()
    attempt = started(app, client, user_id)
    bill = sandbox.state["alipay_certify"]["bills"][attempt.certify_id]
    assert isinstance(bill["biz"]["identity_param"], dict) and isinstance(bill["biz"]["merchant_config"], dict)
    assert bill["biz"]["biz_code"] == "FACE" and bill["outer_order_no"] == attempt.outer_order_no
    assert bill["cert_name"] == NAME and bill["cert_no"] == CERT_NO


def test_the_name_and_id_number_never_travel_in_a_url(app, users, caplog):
    import logging
    from urllib.parse import quote_plus

    caplog.set_level(logging.INFO)
    client, user_id = users.signed_in_client()
    started(app, client, user_id)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "POST /alipay/gateway.do" in logged  # the sandbox's access log is there
    for secret in (NAME, CERT_NO, quote_plus(NAME), json_escaped(NAME)):
        assert secret not in logged


def json_escaped(text: str) -> str:
    import json

    return json.dumps(text)[1:-1]

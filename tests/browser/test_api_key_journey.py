"""In Chromium: create an API key (the never-expires warning, the secret shown once and copied), use
it from a service over HTTP, see when it was last used, and revoke it."""
import re

import requests

PASSWORD = "correct horse battery staple"


def test_create_use_and_revoke_an_api_key(person, users, live_portal):
    users.create("devops", password=PASSWORD)
    me = person()
    me.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_portal)
    me.sign_in("devops", PASSWORD)
    page = me.page

    page.goto("/user/api-keys/")
    assert "还没有 API 密钥" in page.locator("main").inner_text()
    page.click("#apikeys-new")
    page.wait_for_url("**/user/api-keys/new")
    page.fill("input[name=name]", "部署机器人")
    page.check("#scope-usage")
    warning = page.locator("#apikey-never-warning")
    assert not warning.is_visible()
    page.check("#lifetime-never")
    warning.wait_for(state="visible")
    page.check("#lifetime-30")
    warning.wait_for(state="hidden")
    me.snapshot("apikey-new")
    page.click("#apikey-create")

    secret = page.locator("#apikey-secret").input_value()
    assert re.fullmatch(r"pk_[0-9A-Za-z]{46}", secret)
    page.click("#apikey-copy")
    page.locator("#apikey-copy", has_text="已复制").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    me.snapshot("apikey-created")

    # A service uses the key.
    headers = {"Authorization": f"Bearer {secret}"}
    accounts = requests.get(f"{live_portal}/api/v1/accounts", headers=headers, timeout=10)
    assert accounts.status_code == 200
    account_id = accounts.json()["accounts"][0]["id"]
    reserved = requests.post(f"{live_portal}/api/v1/accounts/{account_id}/usage", headers={
        **headers, "Idempotency-Key": "journey-1"}, json={"resource": "containers", "delta": 1}, timeout=10)
    assert reserved.status_code == 200 and reserved.json()["used"] == 1

    page.click("#apikey-done")
    page.wait_for_url("**/user/api-keys/")
    row = page.locator("#apikeys-list tbody tr", has_text="部署机器人")
    assert secret[:11] in row.inner_text() and secret not in page.content()
    assert "127.0.0.1" in row.inner_text() and "有效" in row.inner_text()
    me.snapshot("apikey-list")

    row.locator("a", has_text="吊销").click()
    page.wait_for_url("**/revoke")
    assert "部署机器人" in page.locator("#confirm").inner_text()
    page.click("#confirm-submit")
    page.locator("#apikeys-list tbody tr", has_text="已吊销").wait_for()
    refused = requests.get(f"{live_portal}/api/v1/accounts", headers=headers, timeout=10)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "key_revoked"
    me.snapshot("apikey-revoked")

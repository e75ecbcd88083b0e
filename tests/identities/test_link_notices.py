"""Linking and unlinking a third-party account tell the owner (portal.notices)."""
import pytest

BUNDLED = ["github", "bitbucket", "coding"]


@pytest.fixture
def portal_config(portal_config):
    return {**portal_config, "PLUGINS_ENABLED": [*BUNDLED, "smtp"]}


def test_linking_and_unlinking_send_notices_to_the_primary_email(member, mailbox):
    browser, _user_id = member
    with browser.client.application.app_context():
        from portal.extensions import db
        from portal.users.models import User

        address = db.session.get(User, _user_id).primary_email.address
    assert browser.link("github", "alice").status_code == 302
    linked = mailbox.notices(address)[-1]["body"]
    assert "GitHub 账户（Alice Wang）已绑定到您的账号" in linked
    assert browser.client.submit("/identities/github/unlink", page="/identities/").status_code == 302
    assert "您账号绑定的 GitHub 账户已解绑。" in mailbox.notices(address)[-1]["body"]

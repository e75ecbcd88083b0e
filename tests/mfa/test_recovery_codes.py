"""Recovery codes: each works once in place of the authenticator, using one tells the owner, and a new
set makes the old one worthless."""
from __future__ import annotations

import re

from portal.extensions import db
from portal.security_log.models import SecurityEvent
from tests.mfa.conftest import is_signed_in, sign_in_password


def use_code(client, code):
    sign_in_password(client)
    return client.submit("/auth/two-factor", {"code": code})


def test_a_recovery_code_signs_in_once_and_sends_a_notice(app, alice, mailbox):
    code = alice.recovery_codes[3]
    first = app.test_client()
    assert use_code(first, code.upper().replace("-", " ")).status_code == 302
    assert is_signed_in(first)
    notice = mailbox.notices("alice@example.com")[-1]["body"]
    assert "A recovery code was used" in notice and "9 recovery codes are left" in notice
    assert code not in notice
    again = app.test_client()
    refused = use_code(again, code)
    assert refused.status_code == 400 and "wrong or was already used" in refused.get_data(as_text=True)
    assert not is_signed_in(again)
    with app.app_context():
        event = db.session.scalars(db.select(SecurityEvent).filter_by(kind="recovery_code_used")).one()
    assert event.details == {"remaining": 9}


def test_new_recovery_codes_replace_the_old_ones(app, alice):
    client = app.test_client()
    sign_in_password(client)
    client.submit("/auth/two-factor", {"code": alice.code()})
    page = client.submit("/user/two-factor/recovery-codes", page="/user/two-factor").get_data(as_text=True)
    new_codes = re.findall(r"<li class=\"col\">([0-9a-z-]{14})</li>", page)
    assert len(new_codes) == 10 and not set(new_codes) & set(alice.recovery_codes)
    assert use_code(app.test_client(), alice.recovery_codes[0]).status_code == 400
    assert use_code(app.test_client(), new_codes[0]).status_code == 302


def test_malformed_recovery_codes_are_wrong_codes(app, client, alice):
    for code in ("x" * 32, "1234567", "ΑΒΓΔ-ΕΖΗΘ-ΙΚΛΜ"):
        response = use_code(client, code)
        assert response.status_code == 400

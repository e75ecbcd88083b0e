"""Integer ids in URLs and forms: anything that is not a positive id within the database's range is a
404 or a form error, never a 500 (one route converter, one form field type)."""
from __future__ import annotations

import pytest

from portal.ids import MAX_ID, parse_id

NOT_IDS = ["0", str(MAX_ID + 1), "9" * 30, "١٢", "１２", "-1", "1_000", " 12 3"]


@pytest.mark.parametrize("raw", NOT_IDS + ["", None, "abc"])
def test_parse_id_refuses_what_is_not_an_id(raw):
    assert parse_id(raw) is None


def test_parse_id_reads_ids():
    assert parse_id("1") == 1 and parse_id(str(MAX_ID)) == MAX_ID and parse_id(" 42 ") == 42


@pytest.fixture
def signed_in(users):
    client, user_id = users.signed_in_client("alice")
    return client


@pytest.mark.parametrize("raw", ["0", str(MAX_ID + 1), "9" * 30, "١٢", "１２"])
@pytest.mark.parametrize("url, method", [
    ("/user/emails/{}/primary", "get"),
    ("/user/emails/{}/remove", "post"),
    ("/orgs/invitations/{}/accept", "post"),
    ("/billing/orders/{}", "get"),
    ("/billing/orders/{}/status", "get"),
])
def test_an_id_out_of_range_in_a_url_is_a_404(signed_in, raw, url, method):
    response = getattr(signed_in, method)(url.format(raw), data={"csrf_token": signed_in.csrf_token("/user/emails")})
    assert response.status_code == 404


@pytest.mark.parametrize("raw", ["9" * 30, str(MAX_ID + 1), "١٢", "x"])
def test_an_id_out_of_range_in_a_form_is_a_form_error(signed_in, raw):
    created = signed_in.submit("/orgs/new", {"slug": "acme", "name": "Acme"})
    assert created.status_code == 302
    response = signed_in.submit("/orgs/acme/members/remove", {"user_id": raw}, page="/orgs/acme/members")
    assert response.status_code == 400


def test_an_account_switch_to_an_absurd_id_is_a_404(signed_in):
    response = signed_in.submit("/accounts/switch", {"account_id": "9" * 30}, page="/user/profile")
    assert response.status_code == 404

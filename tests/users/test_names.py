"""Reserved usernames (and names that look like them) and strict email addresses."""
from __future__ import annotations

import pytest

from portal.users.services import RegistrationError, normalize_email, register_user


@pytest.mark.parametrize("name", ["admin", "Administrator", "ROOT", "support", "System", "official", "security",
                                  "staff", "help", "kefu", "Portal", "Adm1n", "ad_min", "ad-min", "ａｄｍｉｎ",
                                  "supp0rt", "offic1al", "r00t", "rnoderator", "S-U-P-P-O-R-T"])
def test_reserved_names_and_their_look_alikes_are_refused(app, name):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        with pytest.raises(RegistrationError) as refused:
            register_user(name, "someone@example.com", "a long enough passphrase")
    assert refused.value.field == "username" and "reserved" in refused.value.message


def test_the_site_name_is_reserved(app):
    app.config["SITE_NAME"] = "Cloudy"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        with pytest.raises(RegistrationError):
            register_user("cl0udy", "someone@example.com", "a long enough passphrase")


@pytest.mark.parametrize("name", ["alice", "adminton", "helper", "rootbeer", "bob-support-fan"])
def test_ordinary_names_pass(app, name):
    with app.test_request_context():
        assert register_user(name, f"{name}@example.com", "a long enough passphrase").username == name


def test_renaming_to_a_reserved_name_is_refused(me):
    response = me.submit("/user/profile", {"username": "Adm1n", "avatar_url": ""})
    assert response.status_code == 400
    assert "reserved" in response.get_data(as_text=True)


def test_a_local_part_over_64_characters_is_refused(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert normalize_email("a" * 64 + "@example.com") == "a" * 64 + "@example.com"
        with pytest.raises(ValueError, match="at most 64"):
            normalize_email("a" * 65 + "@example.com")


def test_adding_such_an_address_is_refused(me):
    response = me.submit("/user/emails", {"address": "b" * 65 + "@example.com"})
    assert response.status_code == 400

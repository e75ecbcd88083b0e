"""Starting a provider round trip and answering its callback are limited per IP address, with a page
that says so; a refused callback does not spend its state."""
from urllib.parse import parse_qs, urlsplit

from limits import parse

from portal.extensions import db
from portal.identities import services
from portal.identities.models import Identity
from portal.users.models import User

TOO_MANY = "来自您网络的第三方登录尝试过多"


def allowed(name):
    return parse(services.RATE_LIMITS[name]).amount


def counts(app):
    with app.app_context():
        count = db.select(db.func.count())
        return db.session.scalar(count.select_from(User)), db.session.scalar(count.select_from(Identity))


def test_starting_sign_ins_is_limited_per_ip(client):
    for _ in range(allowed("identities_start_ip")):
        assert client.submit("/identities/github/sign-in", page="/auth/sign-in").status_code == 302
    refused = client.submit("/identities/bitbucket/sign-in", page="/auth/sign-in")
    assert refused.status_code == 429
    assert TOO_MANY in refused.get_data(as_text=True)
    # Another browser on the same address is refused too.
    other = client.application.test_client()
    assert other.submit("/identities/github/sign-in", page="/auth/sign-in").status_code == 429


def test_starting_links_is_limited_per_ip_and_said_on_the_tab(member):
    browser, _ = member
    for _ in range(allowed("identities_start_ip")):
        assert browser.client.submit("/identities/github/link", page="/identities/").status_code == 302
    refused = browser.client.submit("/identities/github/link", page="/identities/")
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert TOO_MANY in page and 'data-provider="github"' in page


def test_callbacks_are_limited_per_ip_and_a_refused_one_keeps_its_state(app, provider_browser):
    browser = provider_browser()
    location = browser.consent(browser.start("github", "sign-in"))
    parts = urlsplit(location)
    code = parse_qs(parts.query)["code"][0]
    for attempt in range(allowed("identities_callback_ip")):
        guessed = browser.client.get(f"/identities/github/callback?code={code}&state=guess{attempt}")
        assert guessed.status_code == 400
    refused = browser.back_to_portal(location)
    assert refused.status_code == 429
    assert TOO_MANY in refused.get_data(as_text=True)
    assert counts(app) == (0, 0)
    # Once the window has passed (the counters are emptied), the same answer still signs in.
    with app.app_context():
        app.extensions["portal.ratelimits"].storage.reset()
    assert browser.back_to_portal(location).status_code == 302
    assert counts(app) == (1, 1)

"""Real-name tests run with the manual-review backend (no provider needed) and read messages in
English; the Alipay backend has its own tests under tests/plugins."""
from __future__ import annotations

import pytest

# Valid resident ID numbers (check digit, region, birth date).
ID_ONE = "110101199003071233"
ID_TWO = "360426199101010071"
ID_X = "11010519491231002X"
NAME = "张小三"

PLANS = {
    "trial": {"name": {"zh_CN": "试用版", "en": "Trial"}, "quotas": {}},
    "pro": {"name": {"zh_CN": "专业版", "en": "Pro"}, "price_fen": 9900, "quotas": {}},
}


@pytest.fixture
def portal_config(portal_config):
    return {**portal_config, "PLUGINS_ENABLED": ["realname_manual"], "BABEL_DEFAULT_LOCALE": "en",
            "REALNAME_BACKEND": "realname_manual", "PLANS": PLANS,
            # Every status request asks the backend, so tests see each answer at once.
            "REALNAME_QUERY_INTERVAL_SECONDS": 0}


def start(client, name=NAME, cert_no=ID_ONE):
    return client.submit("/user/realname/", {"name": name, "cert_no": cert_no})


def attempts(app, user_id=None):
    from portal.extensions import db
    from portal.realname.models import Verification

    with app.app_context():
        query = db.select(Verification).order_by(Verification.id)
        if user_id is not None:
            query = query.filter_by(user_id=user_id)
        return [(v.id, v.status, v.reason) for v in db.session.scalars(query)]


def invoke(app, *args):
    result = app.test_cli_runner().invoke(args=["portal", "realname", *args])
    return result

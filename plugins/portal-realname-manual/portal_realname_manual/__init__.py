"""Real-name verification by an operator's review (``portal realname approve|reject``)."""
from __future__ import annotations

from datetime import timedelta

from portal.plugins import hookimpl, plugin_config
from portal.realname.backends import Outcome, RealnameBackend, Started

DEFAULT_REVIEW_DAYS = 7


class ManualReview(RealnameBackend):
    name = "realname_manual"
    label = {"zh_CN": "人工审核", "en": "Review by staff"}
    reviewed_by_operator = True

    def __init__(self, settings: dict):
        self.lifetime = timedelta(days=int(settings.get("review_days") or DEFAULT_REVIEW_DAYS))

    def start(self, attempt):
        # Nothing leaves the portal: the request waits for an operator.
        return Started(certify_id=attempt.outer_order_no)

    def query(self, attempt):
        # Operators decide through the core (portal realname approve|reject), never here.
        return Outcome.pending()


@hookimpl
def portal_realname_backends():
    return [ManualReview(plugin_config("realname_manual"))]

"""WeChat Pay refunds (``/v3/refund/domestic/refunds``): apply, query, and the REFUND.* notifications.

Mixed into the channel, whose ``_call`` and ``_verified_resource`` do the transport and the checks
every WeChat Pay answer and notification gets.
"""

from __future__ import annotations

import re

from portal.billing.channels import ChannelError, NotificationError, RefundNotice, RefundRefused, RefundResult

from . import notification as documented

# What a refund's status means for the core.
STATES = {"SUCCESS": "succeeded", "PROCESSING": "processing", "CLOSED": "closed", "ABNORMAL": "abnormal"}
# Refusals after which nothing was refunded and nothing will be with this request: a wrong or
# impossible request, the merchant's funds short, an unknown payment. Anything else (SYSTEM_ERROR,
# FREQUENCY_LIMITED, a timeout) leaves the outcome unknown: query, then ask again with the same
# out_refund_no.
DEFINITE = ("PARAM_ERROR", "INVALID_REQUEST", "NOT_ENOUGH", "RESOURCE_NOT_EXISTS", "NO_AUTH",
            "USER_ACCOUNT_ABNORMAL", "MCH_NOT_EXISTS", "SIGN_ERROR")
REFUND_EVENTS = ("REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED")
OUT_REFUND_NO = re.compile(r"[0-9A-Za-z_|*@-]{1,64}")


class RefundsMixin:
    def refund(self, request) -> RefundResult:
        status, answer = self._call(
            self.client.refund,
            out_refund_no=request.out_refund_no,
            amount={"refund": request.amount_fen, "total": request.total_fen, "currency": "CNY"},
            transaction_id=request.transaction_id,
            reason=request.reason or None,
            notify_url=request.notify_url,
        )
        if status == 200:
            return self._refund_result(answer, request.out_refund_no)
        code = answer.get("code") or "SYSTEM_ERROR"
        message = f"WeChat Pay refused the refund (HTTP {status} {code}): {answer.get('message', '')}"
        if 400 <= status < 500 and code in DEFINITE:
            raise RefundRefused(message, code)
        raise ChannelError(message, code)

    def query_refund(self, request) -> RefundResult:
        status, answer = self._call(self.client.query_refund, out_refund_no=request.out_refund_no)
        if status == 404 and answer.get("code") == "RESOURCE_NOT_EXISTS":
            return RefundResult("not_found")
        if status != 200:
            raise self._refused(status, answer)
        return self._refund_result(answer, request.out_refund_no)

    @staticmethod
    def _refund_result(answer: dict, out_refund_no: str) -> RefundResult:
        if answer.get("out_refund_no") != out_refund_no:
            raise ChannelError("WeChat Pay answered about another refund", "BAD_RESPONSE")
        state = STATES.get(answer.get("status"))
        refund = (answer.get("amount") or {}).get("refund")
        refund_id = answer.get("refund_id")
        if state is None or type(refund) is not int or not isinstance(refund_id, str) or not refund_id:
            raise ChannelError(f"a refund answer without a known status, amount or id: {answer.get('status')!r}",
                               "BAD_RESPONSE")
        return RefundResult(state, refund_id[:64], refund, answer["status"])

    def parse_refund_notification(self, headers, body: bytes) -> RefundNotice:
        refund = self._verified_resource(headers, body, REFUND_EVENTS, "refund", documented.REFUND)
        if refund.get("mchid") != self.settings["mchid"]:
            raise NotificationError(f"foreign merchant: {refund.get('mchid')}")
        out_refund_no, refund_id = refund.get("out_refund_no"), refund.get("refund_id")
        if not isinstance(out_refund_no, str) or not OUT_REFUND_NO.fullmatch(out_refund_no):
            raise NotificationError("missing or malformed out_refund_no")
        if not isinstance(refund_id, str) or not documented.TRANSACTION_ID.fullmatch(refund_id):
            raise NotificationError("missing or malformed refund_id")
        state = STATES.get(refund.get("refund_status"))
        if state is None or state == "processing":
            raise NotificationError(f"undocumented refund_status {refund.get('refund_status')!r}")
        amount = (refund.get("amount") or {}).get("refund")
        if type(amount) is not int or amount <= 0:
            raise NotificationError(f"malformed amount: {amount!r}")
        return RefundNotice(out_refund_no, refund_id, amount, state, refund["refund_status"])

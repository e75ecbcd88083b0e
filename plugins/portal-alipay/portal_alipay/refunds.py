"""Alipay refunds: ``alipay.trade.refund`` (answered at once) and ``alipay.trade.fastpay.refund.query``.

Mixed into the channel, whose ``_call`` does the transport and the signature checks. The refund's
``out_request_no`` is the core's out_refund_no: asking again with it never refunds twice (Alipay then
answers ``fund_change=N``).
"""

from __future__ import annotations

from decimal import Decimal

from portal.billing.channels import ChannelError, RefundRefused, RefundResult

# Business failures (code 40004, signed) that leave the outcome unknown: ask again, same number.
UNKNOWN = ("ACQ.SYSTEM_ERROR",)


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


class RefundsMixin:
    def refund(self, request) -> RefundResult:
        answer = self._call(
            self.client.api_alipay_trade_refund,
            refund_amount=_yuan(request.amount_fen),
            trade_no=request.transaction_id,
            out_request_no=request.out_refund_no,
            refund_reason=request.reason,
        )
        code, sub_code = answer.get("code"), answer.get("sub_code")
        if code == "10000":
            if answer.get("trade_no") != request.transaction_id:
                raise ChannelError("Alipay answered about another trade", "BAD_RESPONSE")
            # fund_change=N: this out_request_no was refunded before; either way the refund stands.
            return RefundResult("succeeded", None, None, f"fund_change={answer.get('fund_change')}")
        message = f"Alipay refused the refund ({sub_code or code}): {answer.get('sub_msg') or answer.get('msg', '')}"
        # Only a signed business failure (40004) is definite; 20000 and the like mean "unknown".
        if code == "40004" and sub_code and sub_code not in UNKNOWN:
            raise RefundRefused(message, sub_code)
        raise ChannelError(message, sub_code or code or "UNKNOWN")

    def query_refund(self, request) -> RefundResult:
        answer = self._call(
            self.client.api_alipay_trade_fastpay_refund_query,
            out_request_no=request.out_refund_no,
            trade_no=request.transaction_id,
        )
        if answer.get("code") != "10000":
            raise self._refused(answer)
        if not answer.get("refund_amount"):
            # Alipay's word for "no such refund": the request never arrived or was refused.
            return RefundResult("not_found")
        if answer.get("out_request_no") != request.out_refund_no:
            raise ChannelError("Alipay answered about another refund", "BAD_RESPONSE")
        try:
            amount = int(Decimal(answer["refund_amount"]) * 100)
        except ArithmeticError as exc:
            raise ChannelError(f"malformed refund_amount {answer['refund_amount']!r}", "BAD_RESPONSE") from exc
        status = answer.get("refund_status") or "REFUND_SUCCESS"
        if status != "REFUND_SUCCESS":
            return RefundResult("processing", None, amount, status[:32])
        return RefundResult("succeeded", None, amount, status)

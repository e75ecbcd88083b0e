"""提现: a verified person takes money from their personal balance to an account they bound (绑定支付宝).

``models`` holds the bound payout accounts and the withdrawals, ``channels`` the payout-channel
interface plugins implement (``portal_payout_channels``), ``services`` every state change (hold,
approve, reject, send, reconcile) and ``cli`` the operators' commands.
"""

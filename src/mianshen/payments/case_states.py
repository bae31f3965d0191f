"""Where a payment's money is decides its case's state (payments.md, the money identity): a pure table, read by
the selectors and the reconciliation and applied by ``services.casesync``."""

from __future__ import annotations

from mianshen.cases.states import State

from .lifecycle import Bucket

CASE_STATE: dict[Bucket, State] = {
    Bucket.IN_FLIGHT: State.RELEASED,
    Bucket.SETTLED: State.PAID,
    Bucket.AWAITING_CORRECTION: State.AWAITING_CORRECTION,
    Bucket.CANCELLED: State.PAYMENT_CANCELLED,
}

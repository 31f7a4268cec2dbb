"""The collection state of every invoice and account (not money: money lives in the ledger).

Columns grow with the ledger; an invoice's row number is its ledger index. Account columns are fixed.
"""

from __future__ import annotations

import numpy as np

INF = np.inf

# dispute states
NO_DISPUTE, DISPUTE_PENDING, DISPUTE_OPEN, DISPUTE_RESOLVED = 0, 1, 2, 3


def initial_capacity(scenario, days: int, carried: int = 0) -> int:
    """Rows to reserve for the invoice columns: the invoices a run is expected to issue,
    ``accounts × Σ share·invoices_per_month × days / 30.44``, plus a quarter for rebills and chance, plus
    the ``carried`` opening items. Columns grow by half when more come; the capacity never changes
    results, only memory (a row reserved but never used still costs its filled pages)."""
    per_month = sum(s.share * s.invoices_per_month for s in scenario.portfolio.segments)
    return max(1024, int(1.25 * scenario.portfolio.accounts * per_month * days / 30.44) + carried)


def grown(capacity: int, need: int) -> int:
    """The next capacity of a growing column: ``need``, or half as much again as now if that is more."""
    return max(need, capacity + capacity // 2)


class InvoiceState:
    """Per-invoice columns: who, when due, the payer's hazard state, and what collection has done.

    ``key`` and ``generation`` name an invoice independently of policy (``key`` = the original
    invoice's sequence number, ``generation`` = how many corrections separate it from the original), so
    keyed random draws and invoice ids are the same in every scenario. ``notice_day[:, j]`` is the last
    day a notice served by effect ``j`` of the segment's ``hazard.effects.notice`` was sent.
    """

    SPEC = {
        "account": (np.int64, -1),
        "segment": (np.int16, -1),
        "issue_day": (np.int64, 0),
        "due_day": (np.int64, 0),
        "key": (np.int64, -1),  # sequence number of the original invoice (stable across policies)
        "generation": (np.int8, 0),  # 0 = original, k = k-th corrected invoice (rebill)
        "resistance": (np.float64, INF),  # Exp(1): pays when the cumulative hazard reaches it
        "cum_hazard": (np.float64, 0.0),  # hazard accumulated since issue (or since the last partial payment)
        "payments": (np.int8, 0),  # payments received so far (keys the draws of the next one)
        "disputed_on_receipt": (np.bool_, False),
        "disputes_raised": (np.int8, 0),
        "promised_on": (np.float64, -INF),  # day of the promise covering this item (promise kept or broken)
        "partial": (np.bool_, False),  # the next payment covers only part of the invoice
        "level": (np.int8, 0),  # dunning steps sent
        "dispute": (np.int8, NO_DISPUTE),
        "dispute_reason": (np.int8, -1),
        "dispute_open_day": (np.float64, INF),
        "dispute_close_day": (np.float64, INF),
        "in_plan": (np.bool_, False),
        "in_legal": (np.bool_, False),
        "unapplied": (np.bool_, False),  # a payment is in suspense waiting to be matched
        "fee_day": (np.float64, -INF),  # last day a fee was added to the item (hazard.effects.fee)
    }

    def __init__(self, capacity: int = 1024, notice_effects: int = 1):
        self.n = 0
        for name, (dtype, fill) in self.SPEC.items():
            setattr(self, name, np.full(capacity, fill, dtype=dtype))
        self.notice_day = np.full((capacity, notice_effects), -INF)

    def add(self, **columns) -> np.ndarray:
        k = len(next(iter(columns.values())))
        cap = len(self.account)
        if self.n + k > cap:
            new = grown(cap, self.n + k)
            for name, (dtype, fill) in self.SPEC.items():
                arr = getattr(self, name)
                setattr(self, name, np.concatenate([arr, np.full(new - cap, fill, dtype=dtype)]))
            self.notice_day = np.concatenate([self.notice_day, np.full((new - cap, self.notice_day.shape[1]), -INF)])
        idx = np.arange(self.n, self.n + k)
        for name, values in columns.items():
            getattr(self, name)[idx] = values
        self.n += k
        return idx


class AccountState:
    """Per-account collection columns."""

    def __init__(self, n: int):
        self.last_contact_busday = np.full(n, -(10**9), np.int64)  # last right-party contact
        self.last_attempt_busday = np.full(n, -(10**9), np.int64)  # last call attempt
        self.ptp_day = np.full(n, -INF)  # promised date of the latest promise to pay
        self.ptp_made = np.full(n, -INF)  # day the latest promise was made
        self.prev_ptp_day = np.full(n, -INF)  # the promise before (its window may still be running)
        self.prev_ptp_made = np.full(n, -INF)
        self.ptp_open = np.zeros(n, bool)  # promise not yet judged kept/broken (no dunning or calls until then)
        self.last_contact_day = np.full(n, -INF)  # calendar day of the last right-party contact
        # counters that key the account's draws (call n's outcome, plan n's breaks, hand-over n's recovery)
        self.attempts = np.zeros(n, np.int64)
        self.plans = np.zeros(n, np.int64)
        self.handovers = np.zeros(n, np.int64)
        self.broken = np.zeros(n, bool)  # broken promise/plan waiting for follow-up
        self.legal_pending = np.zeros(n, bool)  # pre-legal file queued for a collector
        self.episode = np.full(n, -1, np.int64)  # current past-due episode (coverage KPI)


class Episodes:
    """Past-due episodes of accounts: start day and first collector touch (for the coverage KPI)."""

    def __init__(self) -> None:
        self.account: list[np.ndarray] = []
        self.start: list[np.ndarray] = []
        self._touch: dict[int, float] = {}
        self._end: dict[int, float] = {}
        self.n = 0

    def open(self, accounts: np.ndarray, day: int) -> np.ndarray:
        ids = np.arange(self.n, self.n + len(accounts))
        self.account.append(accounts)
        self.start.append(np.full(len(accounts), day))
        self.n += len(accounts)
        return ids

    def touch(self, episode_ids: np.ndarray, day: float) -> None:
        for e in episode_ids.tolist():
            if e >= 0:
                self._touch.setdefault(e, day)

    def close(self, episode_ids: np.ndarray, day: float) -> None:
        for e in episode_ids.tolist():
            self._end[e] = day

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(account, start day, first touch day, end day) per episode; inf where not (yet) happened."""
        acc = np.concatenate(self.account) if self.account else np.array([], np.int64)
        start = np.concatenate(self.start) if self.start else np.array([], np.int64)
        return acc, start, self._as_array(self._touch), self._as_array(self._end)

    def _as_array(self, mapping: dict[int, float]) -> np.ndarray:
        out = np.full(self.n, INF)
        if mapping:
            out[np.fromiter(mapping.keys(), np.int64)] = np.fromiter(mapping.values(), float)
        return out

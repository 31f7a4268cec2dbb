"""The ledger: the only code that moves money, and the event log of everything that happened.

Money is held in integer cents. Every invoice keeps the invariant

    amount = paid + credited + written_off + open        (to the cent, at every instant)

because each posting moves cents *out of* ``open`` into exactly one other column and refuses to take
more than is open. Cash is conserved as well:

    cash_received = Σ paid + unapplied (suspense) + Σ credit balances + refunded

Fees and late-payment interest (:mod:`o2c_sim.sim.fees`) are receivables of their own, each linked to the
invoice it was charged on, with the same invariant ``amount = paid + waived + written_off + open``; the
cash paid for fees is part of ``cash_received``.

A payment without remittance advice is received into *suspense* and applied to its invoice only when
a cash-application clerk matches it; whatever no longer fits the invoice (it was credited or written
off meanwhile) becomes the customer's credit balance and is refunded.

With refunds modelled (:mod:`o2c_sim.sim.refunds`, ``credit_hook`` set) a credit balance also arises from
a duplicate payment (``receive_overpayment``) or from a credit note on a part already paid
(``reverse_payment``: paid → credited, the cash → the credit balance); it waits for the hook's refund
or is applied to an open item (``apply_credit``: credit balance → paid). Each moves cents between
the columns of the identities above, so both keep holding.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from o2c_sim.sim.book import grown

#: event kinds, in a fixed order (codes are their index)
EVENT_KINDS = (
    "issue", "payment", "partial_payment", "unapplied_received", "cash_applied", "credit_note", "write_off",
    "refund", "dunning", "call_attempt", "right_party_contact", "promise_to_pay", "promise_kept",
    "promise_broken", "dispute_open", "dispute_close", "plan_start", "plan_instalment", "plan_broken",
    "legal_handover", "legal_recovery", "insolvency", "inbound_query", "opening_balance",
    "fee_added", "fee_paid", "fee_waived", "fee_written_off", "credit_hold", "credit_release", "sales_held",
    "sales_released", "overpayment", "payment_reversed", "credit_applied",
)
KIND = {k: i for i, k in enumerate(EVENT_KINDS)}
#: the event kinds that bring cash in (a customer's payment in any form, an agency's recovery)
CASH_KINDS = ("payment", "partial_payment", "unapplied_received", "plan_instalment", "legal_recovery")
_SCALARS = frozenset((int, float, np.int64, np.float64, np.int32, np.int16, np.int8, bool, np.bool_))


def to_cents(amount) -> np.ndarray:
    """Money to integer cents, rounding half away from zero."""
    a = np.asarray(amount, dtype=float)
    return (np.sign(a) * np.floor(np.abs(a) * 100 + 0.5)).astype(np.int64)


def _full(n: int, value, dtype) -> np.ndarray:
    """``np.full(n, value, dtype)`` without its Python wrapper (one call per logged vector)."""
    a = np.empty(n, dtype)
    np.copyto(a, value, casting="unsafe")
    return a


class EventLog:
    """Column-wise, append-only log; one call records one event or a whole vector of events of one kind.

    Memory: single events wait as plain tuples (cheap to append) and every ``PACK`` of them becomes one
    block of arrays (38 bytes an event instead of ~180); every ``PACK`` vectors are joined into one
    block too (one set of array headers instead of ``PACK``). Packing keeps the recording order."""

    COLUMNS = ("time", "kind", "invoice", "account", "cents", "detail")
    DTYPES = (float, np.int16, np.int64, np.int64, np.int64, np.int32)
    PACK = 4096

    def __init__(self) -> None:
        self._chunks: list[tuple] = []  # vectors not yet packed
        self._packed: list[tuple] = []  # blocks of packed vectors, in recording order
        self._rows: list[tuple] = []  # single events not yet packed
        self._row_blocks: list[tuple] = []  # blocks of packed single events, in recording order

    def record(self, time, kind: str, invoice=-1, account=-1, cents=0, detail=0) -> None:
        code = KIND[kind]
        scalar = _SCALARS.__contains__  # one test per argument, no generator: most calls log one event
        if scalar(type(invoice)) and scalar(type(cents)) and scalar(type(account)) and scalar(type(time)) \
                and scalar(type(detail)):
            rows = self._rows
            rows.append((float(time), code, int(invoice), int(account), int(cents), int(detail)))
            if len(rows) >= self.PACK:
                self._row_blocks.append(self._block(rows))
                self._rows = []
            return
        values = (time, code, invoice, account, cents, detail)
        dims = [v.ndim if type(v) is np.ndarray else 0 if scalar(type(v)) else np.ndim(v) for v in values]
        sizes = [v.size if type(v) is np.ndarray else np.size(v) for v, k in zip(values, dims) if k]
        n = max(sizes)
        if min(sizes) == 0:
            return
        if n == 1 and all(type(v) is np.ndarray or scalar(type(v)) for v in values):  # one event: kept as a row
            time, _, invoice, account, cents, detail = (v.item() if type(v) is np.ndarray else v for v in values)
            self._chunks.append((float(time), code, int(invoice), int(account), int(cents), int(detail)))
        else:
            self._chunks.append(tuple(np.asarray(v, dtype=dt) if k else _full(n, v, dt)
                                      for v, k, dt in zip(values, dims, self.DTYPES)))
        if len(self._chunks) >= self.PACK:
            self._packed.append(self._join(self._chunks))
            self._chunks = []

    def _block(self, rows: list[tuple]) -> tuple:
        """Single events as one block of columns."""
        return tuple(np.asarray(c, dtype=dt) for c, dt in zip(zip(*rows), self.DTYPES))

    def _join(self, chunks: list[tuple]) -> tuple:
        """Vectors, and one-event vectors kept as rows, as one block of columns in recording order."""
        pieces, rows = [], []
        for chunk in chunks:
            if type(chunk[0]) is np.ndarray:
                if rows:
                    pieces.append(self._block(rows))
                    rows = []
                pieces.append(chunk)
            else:
                rows.append(chunk)
        if rows:
            pieces.append(self._block(rows))
        return tuple(np.concatenate(col) for col in zip(*pieces))

    def columns(self) -> dict[str, np.ndarray]:
        """The log as one array per column, in time order (a stable sort: same-time events keep the
        order they were recorded in, vectors before single events). Built column by column, releasing
        each column's pieces as it goes, so the log is never held twice."""
        blocks = self._packed + ([self._join(self._chunks)] if self._chunks else []) + self._row_blocks \
            + ([self._block(self._rows)] if self._rows else [])
        self._chunks, self._packed, self._rows, self._row_blocks = [], [], [], []
        if not blocks:
            return {c: np.array([], dtype=dt) for c, dt in zip(self.COLUMNS, self.DTYPES)}
        pieces = [list(col) for col in zip(*blocks)]
        del blocks
        out, order = {}, None
        for i, name in enumerate(self.COLUMNS):
            column = np.concatenate(pieces[i])
            pieces[i] = None
            if order is None:
                order = np.argsort(column, kind="stable")  # the first column is time
            out[name] = column[order]
            del column
        self._packed = [tuple(out.values())]  # the sorted arrays become the only block
        return out

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.columns(), copy=False)


class FeeBook:
    """Fee receivables in cents, one row per fee charged; ``invoice`` and ``account`` link it."""

    COLUMNS = ("amount", "paid", "waived", "written_off", "open", "invoice", "account")
    SETTLE = {"paid": "fee_paid", "waived": "fee_waived", "written_off": "fee_written_off"}

    def __init__(self, log: EventLog, capacity: int = 256):
        self.log = log
        self.n = 0
        for name in self.COLUMNS:
            setattr(self, name, np.zeros(capacity, np.int64))
        self.day = np.zeros(capacity, float)  # day charged

    def add(self, time: float, invoices: np.ndarray, accounts: np.ndarray, cents: np.ndarray, level: np.ndarray) -> np.ndarray:
        cents = np.asarray(cents, np.int64)
        if (cents <= 0).any():
            raise ValueError("fees must be positive")
        k = len(cents)
        if self.n + k > len(self.amount):
            new = max(self.n + k, 2 * len(self.amount))
            for name in self.COLUMNS:
                arr = getattr(self, name)
                setattr(self, name, np.concatenate([arr, np.zeros(new - len(arr), np.int64)]))
            self.day = np.concatenate([self.day, np.zeros(new - len(self.day))])
        idx = np.arange(self.n, self.n + k)
        self.amount[idx] = self.open[idx] = cents
        self.invoice[idx], self.account[idx], self.day[idx] = invoices, accounts, time
        self.n += k
        self.log.record(time, "fee_added", invoices, accounts, cents, level)
        return idx

    def settle(self, time: float, idx: np.ndarray, how: str) -> int:
        """Move the whole open amount of fees ``idx`` to ``how`` (paid, waived or written_off); the cents moved."""
        idx = np.asarray(idx, np.int64)
        idx = idx[self.open[idx] > 0]
        cents = self.open[idx].copy()
        getattr(self, how)[idx] += cents
        self.open[idx] = 0
        self.log.record(time, self.SETTLE[how], self.invoice[idx], self.account[idx], cents, idx)
        return int(cents.sum())

    def check(self) -> None:
        s = slice(0, self.n)
        total = self.paid[s] + self.waived[s] + self.written_off[s] + self.open[s]
        bad = np.flatnonzero(total != self.amount[s])
        assert bad.size == 0, f"fee {bad[0]} does not balance"
        assert (self.open[s] >= 0).all(), "negative open fee"


class Ledger:
    """Invoices' money in cents. Arrays grow as invoices are issued; indices are invoice numbers."""

    def __init__(self, log: EventLog, capacity: int = 1024, account_currency: np.ndarray | None = None):
        """``account_currency[a]`` = the currency code (0 = the ledger currency) account ``a`` bills in;
        None: every account bills in the ledger currency. Cash is then kept per currency."""
        self.log = log
        self.n = 0
        self.account_currency = account_currency
        n_cur = 1 if account_currency is None else int(account_currency.max(initial=0)) + 1
        self.currency = np.zeros(capacity, np.int64)  # per invoice
        self.amount = np.zeros(capacity, np.int64)
        self.paid = np.zeros(capacity, np.int64)
        self.credited = np.zeros(capacity, np.int64)
        self.written_off = np.zeros(capacity, np.int64)
        self.open = np.zeros(capacity, np.int64)
        self.closed_day = np.full(capacity, np.inf)
        #: counts the changes of ``open`` (issues and postings): a derived figure cached with it is current
        self.version = 0
        #: per currency: every cent received, held in suspense, refunded
        self.cash_received = np.zeros(n_cur, np.int64)
        self.suspense = np.zeros(n_cur, np.int64)
        self.refunded = np.zeros(n_cur, np.int64)
        self.credit_balance: dict[int, int] = {}
        self.fees = FeeBook(log)
        #: called with (time, account) when a credit balance arises; None = refund at once
        self.credit_hook = None

    # -------------------------------------------------------------------------------- issuing
    def _grow(self, need: int) -> None:
        cap = len(self.amount)
        if need <= cap:
            return
        new = grown(cap, need)
        for name in ("amount", "paid", "credited", "written_off", "open", "currency"):
            arr = getattr(self, name)
            setattr(self, name, np.concatenate([arr, np.zeros(new - cap, arr.dtype)]))
        self.closed_day = np.concatenate([self.closed_day, np.full(new - cap, np.inf)])

    def issue(self, time: float, cents: np.ndarray, accounts: np.ndarray, kind: str = "issue") -> np.ndarray:
        """Book new invoices (``kind="opening_balance"`` for items carried in by a warm start)."""
        cents = np.asarray(cents, dtype=np.int64)
        if (cents <= 0).any():
            raise ValueError("invoice amounts must be positive")
        k = len(cents)
        idx = np.arange(self.n, self.n + k)
        self._grow(self.n + k)
        self.amount[idx] = cents
        self.open[idx] = cents
        self.version += 1
        if self.account_currency is not None:
            self.currency[idx] = self.account_currency[accounts]
        self.n += k
        self.log.record(time, kind, idx, accounts, cents)
        return idx

    # -------------------------------------------------------------------------------- postings
    def _take(self, column: np.ndarray, idx, cents, time: float) -> np.ndarray:
        if np.ndim(idx) == 0 or len(idx) == 1:
            return self._take_one(column, int(np.ravel(idx)[0]), int(np.ravel(cents)[0]), time)
        idx = np.asarray(idx, dtype=np.int64)
        cents = np.broadcast_to(np.asarray(cents, dtype=np.int64), idx.shape)
        if (cents < 0).any():
            raise ValueError("postings must be non-negative")
        if (cents > self.open[idx]).any():
            raise ValueError("posting exceeds the open amount")
        ordered = np.sort(idx)  # (np.unique took 5-160 µs a call; a sort and one comparison, 4-11 µs)
        if (ordered[1:] == ordered[:-1]).any():
            raise ValueError("one posting per invoice per call")
        self.open[idx] -= cents
        self.version += 1
        column[idx] += cents
        closing = idx[(self.open[idx] == 0) & np.isinf(self.closed_day[idx])]
        self.closed_day[closing] = time
        return cents

    def _take_one(self, column: np.ndarray, i: int, cents: int, time: float) -> int:
        if cents < 0 or cents > self.open[i]:
            raise ValueError("posting must be between zero and the open amount")
        self.open[i] -= cents
        self.version += 1
        column[i] += cents
        if self.open[i] == 0 and self.closed_day[i] == np.inf:
            self.closed_day[i] = time
        return cents

    def pay(self, time: float, idx, cents, accounts, kind: str = "payment") -> None:
        """Cash received with remittance and applied at once."""
        cents = self._take(self.paid, idx, cents, time)
        self._add(self.cash_received, self.currency[idx], cents)
        self.log.record(time, kind, idx, accounts, cents)

    def credit(self, time: float, idx, cents, accounts, detail=0) -> None:
        """A credit note against invoices."""
        cents = self._take(self.credited, idx, cents, time)
        self.log.record(time, "credit_note", idx, accounts, cents, detail)

    def write_off(self, time: float, idx, cents, accounts, detail=0) -> None:
        cents = self._take(self.written_off, idx, cents, time)
        self.log.record(time, "write_off", idx, accounts, cents, detail)

    def write_off_open(self, time: float, idx, accounts, detail=0) -> None:
        """Write off whatever is still open on ``idx``."""
        idx = np.asarray(idx, dtype=np.int64)
        keep = self.open[idx] > 0
        self.write_off(time, idx[keep], self.open[idx[keep]], np.asarray(accounts)[keep] if np.ndim(accounts) else accounts, detail)

    def pay_fees(self, time: float, idx) -> None:
        """Cash received for fees ``idx`` (their whole open amounts)."""
        idx = np.asarray(idx, np.int64)
        currency = self.currency[self.fees.invoice[idx]]
        cents = self.fees.open[idx].copy()
        self.fees.settle(time, idx, "paid")
        self._add(self.cash_received, currency, cents)

    # ------------------------------------------------------------------------- unapplied cash
    def receive_unapplied(self, time: float, invoice: int, cents: int, account: int) -> None:
        """Cash without remittance: held in suspense until a clerk matches it."""
        c = self.currency[invoice]
        self.cash_received[c] += cents
        self.suspense[c] += cents
        self.log.record(time, "unapplied_received", invoice, account, cents)

    def apply_unapplied(self, time: float, invoice: int, cents: int, account: int) -> None:
        """Match suspense cash to its invoice; any excess goes to the credit balance and is refunded."""
        c = self.currency[invoice]
        if cents > self.suspense[c]:
            raise ValueError("cannot apply more than is in suspense")
        self.suspense[c] -= cents
        applied = min(cents, int(self.open[invoice]))
        if applied:
            self._take_one(self.paid, invoice, applied, time)
            self.log.record(time, "cash_applied", invoice, account, applied)
        excess = cents - applied
        if excess:
            self._to_credit_balance(time, account, excess)

    def _to_credit_balance(self, time: float, account: int, cents: int) -> None:
        """Add to the customer's credit balance; refunded at once unless a refund process holds it."""
        self.credit_balance[account] = self.credit_balance.get(account, 0) + cents
        if self.credit_hook is None:
            self.refund(time, account)
        else:
            self.credit_hook(time, account)

    def receive_overpayment(self, time: float, invoice: int, cents: int, account: int) -> None:
        """Cash paid a second time for ``invoice`` (a duplicate payment): straight to the credit balance."""
        self.cash_received[self.currency[invoice]] += cents
        self.log.record(time, "overpayment", invoice, account, cents)
        self._to_credit_balance(time, account, cents)

    def reverse_payment(self, time: float, invoice: int, cents: int, account: int, detail=0) -> None:
        """A credit note on ``cents`` already paid on ``invoice``: paid → credited, the cash to the credit balance."""
        if cents < 0 or cents > self.paid[invoice]:
            raise ValueError("cannot credit more than was paid")
        self.paid[invoice] -= cents
        self.credited[invoice] += cents
        self.log.record(time, "credit_note", invoice, account, cents, detail)
        self.log.record(time, "payment_reversed", invoice, account, cents)
        self._to_credit_balance(time, account, cents)

    def apply_credit(self, time: float, account: int, invoice: int, cents: int) -> None:
        """Settle ``cents`` of ``invoice`` from the customer's credit balance."""
        if cents > self.credit_balance.get(account, 0):
            raise ValueError("cannot apply more than the credit balance")
        self._take_one(self.paid, invoice, cents, time)
        self.credit_balance[account] -= cents
        if not self.credit_balance[account]:
            del self.credit_balance[account]
        self.log.record(time, "credit_applied", invoice, account, cents)

    def refund(self, time: float, account: int) -> int:
        """Pay out the customer's whole credit balance; the cents refunded."""
        cents = self.credit_balance.pop(account, 0)
        if cents:
            self.refunded[self.currency_of(account)] += cents
            self.log.record(time, "refund", -1, account, cents)
        return cents

    def currency_of(self, account: int) -> int:
        return 0 if self.account_currency is None else int(self.account_currency[account])

    @staticmethod
    def _add(totals: np.ndarray, currency, cents) -> None:
        """``totals[currency] += cents`` for one or many postings."""
        if len(totals) == 1:
            totals[0] += int(np.sum(cents))
        else:
            np.add.at(totals, np.asarray(currency, np.int64), np.asarray(cents, np.int64))

    # -------------------------------------------------------------------------------- checks
    def check(self) -> None:
        """Raise AssertionError if any invariant is broken (cash: per currency)."""
        s = slice(0, self.n)
        total = self.paid[s] + self.credited[s] + self.written_off[s] + self.open[s]
        bad = np.flatnonzero(total != self.amount[s])
        assert bad.size == 0, f"invoice {bad[0]} does not balance"
        assert (self.open[s] >= 0).all(), "negative open amount"
        assert (self.paid[s] >= 0).all() and all(c > 0 for c in self.credit_balance.values()), "negative paid or credit balance"
        self.fees.check()
        n_cur, f = len(self.cash_received), self.fees.n
        held = np.bincount(self.currency[s], weights=self.paid[s], minlength=n_cur) \
            + np.bincount(self.currency[self.fees.invoice[:f]], weights=self.fees.paid[:f], minlength=n_cur) \
            + np.bincount(np.array([self.currency_of(a) for a in self.credit_balance], np.int64),
                          weights=np.array(list(self.credit_balance.values()), float), minlength=n_cur)
        held = np.rint(held).astype(np.int64) + self.suspense + self.refunded
        assert (held == self.cash_received).all(), f"cash not conserved: {held} != {self.cash_received}"

    @property
    def open_view(self) -> np.ndarray:
        return self.open[: self.n]

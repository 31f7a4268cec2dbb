"""Query management (docs/model.md §2.22): inbound customer queries by channel, with reason codes,
outcomes, SLAs and escalation to a team-lead queue.

On business day k, channel c receives from segment s a Poisson number of queries of reason r with mean

    λ(c, s, r) = per_1000_accounts_per_day(c) × accounts(s) / 1000 × mix(s, r) × reason_scale(r)

at uniform times within the shift. Every draw is keyed by (channel, segment, reason, business day,
j-th query), so scaling one reason to 0 removes exactly its queries and leaves every other query as it
was (common random numbers for the "remove the top root cause" what-if). The query concerns a uniformly
drawn account of the segment and its most recent open invoice (none if it has nothing open); the
payer holds that invoice back until the query is answered (no hazard, off the worklist, like an open
dispute), and the amount *held* is its open amount. Collectors take queries before pre-legal files and the
worklist, channels in the order listed. A query not picked up within its channel's ``sla_minutes``
leaves the collectors' queue for the team leads' (``escalation.team_leads`` people, each query
``escalation.handling_minutes``). After the answer and the reason's ``resolution_days`` (moved into
working hours), its outcome (keyed, with the reason's ``outcomes`` shares) takes effect: a dispute on the invoice, a promise to pay by the account, a credit note of
``credit_share`` × the open amount, a corrected invoice (credit the open amount, rebill
``rebill_share`` × the original), or nothing.
"""

from __future__ import annotations

import bisect
from collections import deque
from operator import attrgetter

import numpy as np
import pandas as pd
from scipy.stats import poisson

from o2c_sim.sim.book import DISPUTE_OPEN
from o2c_sim.scenario import QUERY_OUTCOMES, QUERY_REASONS

CREDIT_NOTE_DETAIL = 3  # ``detail`` of a query's credit note in the event log (disputes use 0–2)
ACTS_ON_INVOICE = ("dispute", "credit_note", "corrected_invoice")  # outcomes that need the invoice still actionable


class Query:
    __slots__ = ("channel", "segment", "reason", "account", "invoice", "held", "arrived", "minutes", "outcome",
                 "picked", "escalated", "done", "resolved", "key", "resolution")

    def __init__(self, channel, segment, reason, account, invoice, held, arrived, minutes, outcome, key, resolution):
        self.channel, self.segment, self.reason, self.account, self.invoice = channel, segment, reason, account, invoice
        self.held, self.arrived, self.minutes, self.outcome, self.key = held, arrived, minutes, outcome, key
        self.resolution = resolution
        self.picked = self.done = self.resolved = None
        self.escalated = False


class QueryQueue:
    """A channel's FIFO for the collectors; an escalated query leaves it (lazily)."""

    def __init__(self, pool=None):
        self._jobs: deque = deque()
        self.live = 0
        self.pool = pool

    def __len__(self) -> int:
        return self.live

    def put(self, q: Query, done) -> None:
        self._jobs.append((q, done))
        self.live += 1
        if self.pool is not None:
            self.pool.wake()

    def pop(self, now: float):
        while True:
            q, done = self._jobs.popleft()
            if q.picked is None and not q.escalated:
                break
        self.live -= 1
        q.picked = now
        return q.minutes, done

    def withdraw(self, q: Query) -> bool:
        """Take a waiting query out (for escalation); False if a collector already has it."""
        if q.picked is not None or q.escalated:
            return False
        q.escalated = True
        self.live -= 1
        return True


class QueryDesk:
    """The queries of one replication: arrival process, channel queues, escalation and outcomes."""

    def __init__(self, sim):
        self.sim, cfg = sim, sim.scenario.queries
        self.cfg = cfg
        self.queues = [QueryQueue() for _ in cfg.channels]
        self.records: list[Query] = []
        #: invoices the payer holds back while a query about them is open: invoice -> open queries
        self.held: dict[int, int] = {}
        self._holds = np.zeros(0, np.int32)  # the same counts as an array over invoices, for held_mask
        segs = [s.name for s in sim.scenario.portfolio.segments]
        n_seg = np.bincount(sim.accounts.segment, minlength=len(segs))
        mix = np.array([[cfg.segment_reasons.get(s, cfg.reasons).get(r, 0.0) for r in QUERY_REASONS] for s in segs])
        scale = np.array([cfg.reason_scale.get(r, 1.0) for r in QUERY_REASONS])
        per_channel = np.array([c.per_1000_accounts_per_day for c in cfg.channels])
        #: mean arrivals per business day, by (channel, segment, reason)
        self.rate = per_channel[:, None, None] * (n_seg / 1000.0)[None, :, None] * (mix * scale)[None, :, :]
        self.members = [np.flatnonzero(sim.accounts.segment == s) for s in range(len(segs))]
        self.shift_starts = [start for start, _ in sim.shifts]
        self.outcome_cdf = np.array([np.cumsum([cfg.outcomes[r].get(o, 0.0) for o in QUERY_OUTCOMES])
                                     for r in QUERY_REASONS])
        #: the open items sorted by account (with their accounts), as of the first lookup of ``_day``;
        #: ``_seen`` ledger rows were considered, the latest issued on day ``_latest``
        self._day, self._seen, self._latest = -1, 0, None
        self._sorted, self._sorted_account = np.zeros(0, np.int64), np.zeros(0, np.int64)
        self._by_account, self._account_of = [], []

    def account_items(self, account: int, now: float) -> list[int]:
        """The ``account``'s items open at ``now``, latest issue day first (ties: ledger order). The
        morning's open items are sorted by account once a business day; nothing is issued later in a
        day, so the items open now are those of the morning still open (a lookup, not a scan of the book)."""
        if self._day != int(now):
            self._sort_open()
            self._day = int(now)
        lo = bisect.bisect_left(self._account_of, account)
        hi = bisect.bisect_right(self._account_of, account, lo)
        is_open = self.sim.ledger.open
        return [i for i in self._by_account[lo:hi] if is_open[i] > 0]

    def _sort_open(self) -> None:
        """Sort the open items by account, latest issue day first, ties in ledger order. Yesterday's order
        less the items closed since, with the items issued since first in their accounts: they are the
        latest, unless one was issued no later than an item already sorted (then all are sorted again)."""
        sim, inv, is_open = self.sim, self.sim.inv, self.sim.ledger.open
        new = np.arange(self._seen, sim.ledger.n)
        new = new[is_open[new] > 0]
        issued = inv.issue_day[new]
        if self._latest is None or (len(new) and issued.min() <= self._latest):
            idx = sim.open_items()
            self._sorted = idx[np.lexsort((idx, -inv.issue_day[idx], inv.account[idx]))]
            self._sorted_account = inv.account[self._sorted]
            latest = inv.issue_day[idx].max(initial=-(2**62))
        else:
            keep = is_open[self._sorted] > 0
            self._sorted, self._sorted_account = self._sorted[keep], self._sorted_account[keep]
            new = new[np.lexsort((new, -issued, inv.account[new]))]
            at = np.searchsorted(self._sorted_account, inv.account[new])  # before the account's older items
            self._sorted = np.insert(self._sorted, at, new)
            self._sorted_account = np.insert(self._sorted_account, at, inv.account[new])
            latest = issued.max(initial=self._latest)
        self._seen, self._latest = sim.ledger.n, int(latest)
        self._by_account, self._account_of = self._sorted.tolist(), self._sorted_account.tolist()

    def arrivals(self):
        """SimPy process: each business day's queries, in time order."""
        sim, env, keyed = self.sim, self.sim.env, self.sim.keyed
        cells = np.argwhere(self.rate > 0)
        for k, (start, end) in enumerate(sim.shifts):
            c, s, r = cells.T
            counts = np.maximum(poisson.ppf(keyed.uniform("query_count", c, s, r, k), self.rate[c, s, r]), 0).astype(np.int64)
            if counts.sum() == 0:
                continue
            c, s, r = (np.repeat(x, counts) for x in (c, s, r))
            j = np.concatenate([np.arange(n) for n in counts])
            key = (c, s, r, np.full(len(j), k), j)
            qkey = (((k * 64 + c) * 64 + s) * 16 + r) * 2**20 + j  # one integer per query, the same under every policy
            when = start + keyed.uniform("query_time", *key) * (end - start)
            pick = (keyed.uniform("query_account", *key) * np.array([len(self.members[x]) for x in s])).astype(np.int64)
            accounts = np.array([self.members[x][p] for x, p in zip(s, pick)], np.int64)
            handling = np.array([self.cfg.channels[x].handling_minutes for x in c])
            minutes = handling * keyed.exponential("query_minutes", *key)
            cdf = self.outcome_cdf[r]
            outcome = (keyed.uniform("query_outcome", *key)[:, None] * cdf[:, -1:] >= cdf).sum(axis=1)
            resolution = keyed.exponential("query_resolution", accounts, qkey)  # drawn together, keyed one by one
            for i in np.argsort(when, kind="stable").tolist():
                if env.now < when[i]:
                    yield env.timeout(when[i] - env.now)
                self.arrive(int(c[i]), int(s[i]), int(r[i]), int(accounts[i]), float(minutes[i]),
                            int(min(outcome[i], len(QUERY_OUTCOMES) - 1)), key=int(qkey[i]), resolution=float(resolution[i]))

    def arrive(self, channel: int, segment: int, reason: int, account: int, minutes: float, outcome: int, *, key: int,
               resolution: float) -> None:
        sim, now = self.sim, self.sim.env.now
        mine = self.account_items(account, now)
        invoice = mine[0] if mine else -1  # the most recent
        held = int(sim.ledger.open[invoice]) if invoice >= 0 else 0
        q = Query(channel, segment, reason, account, invoice, held, now, minutes, outcome, key, resolution)
        self.records.append(q)
        if invoice >= 0:
            self.held[invoice] = self.held.get(invoice, 0) + 1
            if invoice >= len(self._holds):
                self._grow_holds()
            self._holds[invoice] += 1
        sim.ledger.log.record(now, "inbound_query", invoice, account, held, reason)
        self.queues[channel].put(q, lambda t, q=q: self.handled(q, t))
        sla = self.cfg.channels[channel].sla_minutes / 1440.0
        sim.env.timeout(sla).callbacks.append(lambda _, q=q: self.escalate(q))

    def held_mask(self, idx: np.ndarray) -> np.ndarray:
        """Mask over invoices ``idx``: held back by an open query."""
        if not self.held:
            return np.zeros(len(idx), bool)
        if len(self._holds) < self.sim.ledger.n:
            self._grow_holds()
        return self._holds[idx] > 0

    def _grow_holds(self) -> None:
        """Extend the per-invoice hold counts to the ledger's capacity."""
        self._holds = np.concatenate([self._holds, np.zeros(len(self.sim.ledger.open) - len(self._holds), np.int32)])

    def escalate(self, q: Query) -> None:
        if self.queues[q.channel].withdraw(q):
            self.sim.lead_q.put(self.sim.env.now, self.cfg.escalation.handling_minutes, lambda t, q=q: self.handled(q, t))

    def handled(self, q: Query, now: float) -> None:
        """A collector or team lead answered; the outcome follows after the reason's resolution time."""
        q.done = now
        wait = self.cfg.resolution_days.get(QUERY_REASONS[q.reason], 0.0) * q.resolution
        if wait > 0:  # the outcome lands within working hours: at now + wait, or the next shift's start
            when = self.working_time(now + wait)
            if np.isfinite(when):  # else after the horizon: the invoice stays held
                self.sim.env.timeout(when - now).callbacks.append(lambda _, q=q: self.resolve(q, self.sim.env.now))
        else:
            self.resolve(q, now)

    def working_time(self, t: float) -> float:
        """``t`` if it falls within a shift, else the start of the next shift (inf after the last)."""
        k = bisect.bisect_right(self.shift_starts, t) - 1
        if k >= 0 and t < self.sim.shifts[k][1]:
            return t
        return self.shift_starts[k + 1] if k + 1 < len(self.shift_starts) else np.inf

    def resolve(self, q: Query, now: float) -> None:
        """The query's outcome takes effect and the invoice is released."""
        sim, cfg = self.sim, self.cfg
        q.resolved = now
        i, a, what = q.invoice, q.account, QUERY_OUTCOMES[q.outcome]
        if i >= 0:  # the answer releases the invoice
            self._holds[i] -= 1
            self.held[i] -= 1
            if not self.held[i]:
                del self.held[i]
        if not sim.accounts.active[a]:
            return
        live = what in ACTS_ON_INVOICE and i >= 0 and sim.ledger.open[i] > 0 \
            and bool(sim.actionable(np.array([i]), int(now))[0])
        if what == "dispute" and live and sim.scenario.disputes.enabled and sim.inv.dispute[i] != DISPUTE_OPEN:
            sim.disputes.open(np.array([i]), now, source="query")
        elif what == "credit_note" and live:
            sim.ledger.credit(now, i, int(sim.ledger.open[i] * cfg.credit_share), a, detail=CREDIT_NOTE_DETAIL)
        elif what == "corrected_invoice" and live:
            sim.disputes.credit_and_rebill(i, now, cfg.rebill_share, detail=CREDIT_NOTE_DETAIL)
        elif what == "promise" and not sim.account_state.ptp_open[a]:
            d = int(now)
            idx = np.sort(np.array(self.account_items(a, now), np.int64))
            idx = idx[sim.actionable(idx, d) & (sim.inv.due_day[idx] < d)]
            if len(idx):
                days = sim.keyed.integers("query_promise_days", 1, sim.scenario.strategy.ptp_max_days + 1, a, q.key)
                sim.collection.record_promises(d, np.array([a]), np.atleast_1d(days), idx)

    # ------------------------------------------------------------------------------------ report
    def table(self) -> pd.DataFrame:
        """One row per query: channel, reason, segment, account, amount held, times (days), wait
        (minutes, to pick-up or escalation), escalated, outcome, SLA met."""
        rec, cfg = self.records, self.cfg
        if not rec:
            return pd.DataFrame(columns=["channel", "reason", "segment", "account", "amount_held", "arrived", "picked",
                                         "done", "resolved", "escalated", "outcome", "wait_minutes", "sla_minutes",
                                         "sla_met"])
        col = lambda name: list(map(attrgetter(name), rec))  # noqa: E731
        segs = [s.name for s in self.sim.scenario.portfolio.segments]
        df = pd.DataFrame({
            "channel": [cfg.channels[c].name for c in col("channel")],
            "reason": [QUERY_REASONS[r] for r in col("reason")],
            "segment": [segs[s] for s in col("segment")],
            "account": col("account"),
            "amount_held": np.array(col("held"), float) / 100.0,
            "arrived": col("arrived"),
            "picked": np.array([np.nan if p is None else p for p in col("picked")], float),
            "done": np.array([np.nan if p is None else p for p in col("done")], float),
            "resolved": np.array([np.nan if p is None else p for p in col("resolved")], float),
            "escalated": col("escalated"),
            "outcome": [QUERY_OUTCOMES[o] for o in col("outcome")],
        })
        sla = np.array([cfg.channels[c].sla_minutes for c in col("channel")])
        waited = np.where(df["escalated"], sla / 1440.0, df["picked"] - df["arrived"])
        df["wait_minutes"] = waited * 1440.0
        df["sla_minutes"] = sla
        df["sla_met"] = ~df["escalated"].to_numpy() & (df["wait_minutes"].to_numpy() <= sla)
        return df


def channel_report(queries: pd.DataFrame, channels: list[str], first_day: float, days: int) -> pd.DataFrame:
    """By channel (in the order of ``channels``) over the window: arrived, escalated, SLA met (%), mean
    wait (minutes) and mean backlog = queries waiting for a collector at each evening
    = #(arrived by then) − #(picked up or escalated by then)."""
    q = queries[queries["arrived"] >= first_day]
    evenings = np.arange(int(first_day), days) + 0.99
    rows = []
    for name in channels:
        g = queries[queries["channel"] == name]
        left = np.where(g["escalated"], g["arrived"] + g["wait_minutes"] / 1440.0, g["picked"].fillna(np.inf))
        backlog = (np.searchsorted(np.sort(g["arrived"].to_numpy()), evenings, side="right")
                   - np.searchsorted(np.sort(left), evenings, side="right"))
        w = q[q["channel"] == name]
        rows.append({"channel": name, "arrived": len(w), "escalated": int(w["escalated"].sum()),
                     "sla_pct": float(w["sla_met"].mean() * 100) if len(w) else float("nan"),
                     "wait_minutes": float(w["wait_minutes"].mean()) if len(w) else float("nan"),
                     "mean_backlog": float(backlog.mean()) if len(evenings) else float("nan")})
    return pd.DataFrame(rows)


def reason_report(queries: pd.DataFrame, first_day: float) -> pd.DataFrame:
    """By reason over the window, most frequent first: count, amount held, and the count of each outcome."""
    q = queries[queries["arrived"] >= first_day]
    out = q.groupby("reason").agg(count=("reason", "size"), amount_held=("amount_held", "sum"))
    outcomes = pd.crosstab(q["reason"], q["outcome"]).reindex(columns=list(QUERY_OUTCOMES), fill_value=0)
    return out.join(outcomes).sort_values(["count", "amount_held"], ascending=False).reset_index()

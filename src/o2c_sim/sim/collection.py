"""Collector work: the morning worklist, calls and their outcomes, promises, payment plans and
inbound queries.

* **Worklist.** Each business day the accounts with an actionable past-due balance of at least
  ``strategy.min_past_due_amount`` whose oldest item is ``strategy.min_days_past_due`` past due, not
  called in the last ``strategy.recontact_business_days`` business days and with no promise waiting to
  be judged are ranked by the strategy (:mod:`o2c_sim.strategies`). Collectors work down the list between
  inbound queries and pre-legal files; what is not reached waits for tomorrow's list.
* **Calls.** The *n*-th attempt on an account draws its contact, outcome and minutes keyed by
  (account, n), the same under every policy. An attempt reaches the right party with the segment's
  ``rpc_rate`` and takes
  ``work.conversation`` minutes (else ``work.call_attempt``). A conversation ends, with
  ``strategy.outcomes`` shares, in a promise to pay (date 1..``ptp_max_days`` ahead; a confirmation
  e-mail takes ``work.email`` minutes), a dispute on the oldest item, a payment-plan request, or a
  refusal. A right-party contact raises the hazard of the account's items for its window, a promise
  that of the items past due when it was made around the promised date (:mod:`o2c_sim.sim.payers`).
* **Promises** are not kept by a coin flip: a promise is kept when every item it covered is paid (or
  disputed) by the promised date + ``strategy.promise_grace_days``, else broken, which flags the
  account (``broken_promises_first`` calls it first). The keep rate is an outcome of the hazard.
* **Payment plans.** The account's past-due items are split into ``payment_plans.instalments`` equal
  instalments every ``interval_days`` (after ``approval_days`` when above ``approval_limit``); each
  instalment breaks with ``break_rate``, which ends the plan and flags the account. Set-up takes
  ``work.payment_plan_setup`` minutes.
* **Inbound queries** arrive as a Poisson stream during opening hours (``inbound.per_1000_accounts_per_day``)
  and are served first, in ``work.inbound_query`` minutes (exponential); SLA = answered within
  ``inbound.sla_minutes``.
"""

from __future__ import annotations

import numpy as np

from o2c_sim.sim.book import DISPUTE_OPEN
from o2c_sim.sim.currencies import comparable_cents
from o2c_sim.sim.workforce import poisson_arrivals
from o2c_sim.strategies import rank, resolve as strategy_class

PTP, DISPUTE, PLAN, REFUSAL = 0, 1, 2, 3


class WorkList:
    """Today's ranked accounts with pre-drawn call outcomes; collectors take entries in order."""

    def __init__(self) -> None:
        self.reset(np.array([], np.int64), np.array([]), np.array([], bool), np.array([], np.int64))
        self.day_attempts: list[int] = []
        self.day_times: list[float] = []

    def reset(self, accounts, minutes, rpc, outcome) -> None:
        self.accounts, self.minutes, self.rpc, self.outcome = accounts, minutes, rpc, outcome
        self.next = 0

    def __len__(self) -> int:
        return len(self.accounts) - self.next

    def pop(self, now: float):
        i = self.next
        self.next += 1
        self.day_attempts.append(i)
        self.day_times.append(now)
        return self.minutes[i], None


def features(sim, d: int, accounts: np.ndarray, past_due: np.ndarray, oldest: np.ndarray, open_balance: np.ndarray) -> dict:
    """What a strategy ranks on (:mod:`o2c_sim.strategies`), for ``accounts``."""
    return {
        "oldest_days_past_due": oldest[accounts].astype(float),
        "past_due": past_due[accounts],
        "risk": sim.accounts.risk[accounts],
        "broken_promise": sim.account_state.broken[accounts].astype(float),
        "credit_use": open_balance[accounts] / np.maximum(sim.accounts.credit_limit[accounts], 1.0),
    }


class Collection:
    """The collectors' side of one simulation, owning ``scenario.strategy``, ``payment_plans`` and
    ``inbound``, today's worklist and the inbound queue."""

    def __init__(self, sim, worklist: WorkList, inbound):
        sc = sim.scenario
        self.sim, self.cfg, self.plans = sim, sc.strategy, sc.payment_plans
        self.worklist, self.inbound = worklist, inbound
        self.rpc_rate = np.array([s.behaviour.rpc_rate for s in sc.portfolio.segments], dtype=float)
        self.strategy = strategy_class(sc.strategy.prioritisation)()
        if sim.teams is not None:  # each team ranks its own accounts, by the team's strategy or the scenario's
            self.team_strategies = [strategy_class(d.prioritisation)() if d.prioritisation else self.strategy
                                    for d in sc.teams.desks]

    def build_worklist(self, d: int) -> None:
        """Morning: the eligible accounts ranked by the strategy (team by team with teams), each with its
        call's keyed contact, outcome and minutes."""
        sim, st = self.sim, self.cfg
        inv = sim.inv
        if sim.scenario.team.collectors == 0:
            return
        idx = sim.open_items()
        open_balance = sim.account_sum(idx, comparable_cents(sim, idx, d) / 100.0)  # in one currency (currencies.py)
        idx = idx[sim.actionable(idx, d)]
        dpd = d - inv.due_day[idx]
        pd_idx, pd_dpd = idx[dpd > 0], dpd[dpd > 0]
        n_acc = len(sim.accounts)
        past_due = sim.account_sum(pd_idx, comparable_cents(sim, pd_idx, d) / 100.0)
        oldest = np.zeros(n_acc, np.int64)
        np.maximum.at(oldest, inv.account[pd_idx], pd_dpd)
        busday = sim.cal.busday_index[d]
        state = sim.account_state
        eligible = ((past_due > 0) & (past_due >= st.min_past_due_amount) & (oldest >= st.min_days_past_due)
                    & (busday - state.last_contact_busday >= st.recontact_business_days)
                    & (busday - state.last_attempt_busday >= st.retry_business_days)
                    & ~state.ptp_open & ~state.legal_pending & sim.accounts.active)
        accounts = np.flatnonzero(eligible)
        if sim.teams is None:
            accounts = accounts[rank(self.strategy, features(sim, d, accounts, past_due, oldest, open_balance))]
        else:  # each team ranks its own accounts with its own strategy; accounts no team serves are left to dunning
            ranked = []
            for t, strategy in enumerate(self.team_strategies):
                mine = accounts[sim.teams.desk[accounts] == t]
                ranked.append(mine[rank(strategy, features(sim, d, mine, past_due, oldest, open_balance))])
            accounts = np.concatenate(ranked) if ranked else accounts[:0]
        seg = sim.accounts.segment[accounts]
        work, out, keyed = sim.scenario.work, st.outcomes, sim.keyed
        nth = state.attempts[accounts]  # the n-th attempt on an account draws the same under every policy
        rpc = keyed.uniform("rpc", accounts, nth) < self.rpc_rate[seg]
        outcome = keyed.choice("call_outcome", [out.promise_to_pay, out.dispute, out.payment_plan, out.refusal], accounts, nth)
        if not self.plans.enabled:
            outcome = np.where(outcome == PLAN, REFUSAL, outcome)
        minutes = np.where(rpc, work.conversation, work.call_attempt) * keyed.exponential("call_minutes", accounts, nth)
        minutes += rpc * ((outcome == PTP) * work.email + (outcome == PLAN) * work.payment_plan_setup)
        self.worklist.reset(accounts, minutes, rpc, outcome)
        if sim.owned is not None:
            sim.owned.deal(int(busday))

    def apply_calls(self, d: int) -> None:
        """Evening: book today's calls and apply their outcomes account by account (vectorised)."""
        sim, wl = self.sim, self.worklist
        if not wl.day_attempts:
            return
        pos = np.array(wl.day_attempts, np.int64)
        times = np.array(wl.day_times)
        wl.day_attempts, wl.day_times = [], []
        if sim.owned is not None:
            sim.owned.booked(wl.accounts[pos], times, wl.rpc[pos])
        accounts = wl.accounts[pos]
        log, inv, state = sim.ledger.log, sim.inv, sim.account_state
        log.record(times, "call_attempt", -1, accounts)
        state.last_attempt_busday[accounts] = sim.cal.busday_index[d]
        nth = state.attempts[accounts]
        state.attempts[accounts] += 1
        sim.episodes.touch(state.episode[accounts], float(d))
        rpc = wl.rpc[pos]
        reached, outcome = accounts[rpc], wl.outcome[pos][rpc]
        state.last_contact_busday[reached] = sim.cal.busday_index[d]
        state.last_contact_day[reached] = d
        log.record(times[rpc], "right_party_contact", -1, reached, 0, outcome)
        state.broken[reached] = False
        idx = sim.open_items()
        idx = idx[sim.actionable(idx, d) & (inv.due_day[idx] < d)]
        # promises to pay: cover the account's actionable past-due items
        ptp = reached[outcome == PTP]
        if len(ptp):
            days = sim.keyed.integers("promise_days", 1, self.cfg.ptp_max_days + 1, ptp, nth[rpc][outcome == PTP])
            self.record_promises(d, ptp, days, idx)
        # disputes raised in the call: on the account's oldest actionable item
        disp = reached[outcome == DISPUTE]
        if len(disp) and sim.scenario.disputes.enabled:
            mine = idx[np.isin(inv.account[idx], disp)]
            order = np.lexsort((inv.due_day[mine], inv.account[mine]))
            mine = mine[order]
            first = mine[np.r_[True, inv.account[mine][1:] != inv.account[mine][:-1]]] if len(mine) else mine
            sim.disputes.open(first, sim.env.now, source="call")
        # payment plans
        for a in reached[outcome == PLAN].tolist():
            items = idx[inv.account[idx] == a]
            if len(items):
                inv.in_plan[items] = True  # the plan replaces the payer's own hazard until it ends or breaks
                sim.env.process(self.payment_plan(a, items))

    def record_promises(self, d: int, ptp: np.ndarray, days: np.ndarray, idx: np.ndarray) -> None:
        """Accounts ``ptp`` promise on day ``d`` to pay their actionable past-due items ``idx`` (of all
        accounts) ``days`` ahead (moved to the next business day)."""
        sim = self.sim
        acct, inv, ledger = sim.account_state, sim.inv, sim.ledger
        when = sim.cal.next_busday(d + days).astype(float)
        acct.prev_ptp_day[ptp], acct.prev_ptp_made[ptp] = acct.ptp_day[ptp], acct.ptp_made[ptp]
        acct.ptp_day[ptp], acct.ptp_made[ptp], acct.ptp_open[ptp] = when, d, True
        promising = np.zeros(len(sim.accounts), bool)
        promising[ptp] = True
        inv.promised_on[idx[promising[inv.account[idx]]]] = d
        ledger.log.record(d, "promise_to_pay", -1, ptp, sim.account_sum(idx, ledger.open[idx].astype(float))[ptp].astype(np.int64),
                          (when - d).astype(np.int64))  # detail: days until the promised date

    def promises_due(self, d: int) -> None:
        """Morning: judge the promises whose grace has run out — kept when none of the items they covered
        is still open (an item disputed since counts as settled by the dispute), else broken."""
        sim = self.sim
        acct, inv = sim.account_state, sim.inv
        due = np.flatnonzero(acct.ptp_open & (acct.ptp_day + self.cfg.promise_grace_days <= d))
        if len(due) == 0:
            return
        idx = sim.open_items()
        covered = idx[(inv.promised_on[idx] == acct.ptp_made[inv.account[idx]]) & (inv.dispute[idx] != DISPUTE_OPEN)]
        unpaid = np.bincount(inv.account[covered], minlength=len(sim.accounts)) > 0
        kept = ~unpaid[due] & sim.accounts.active[due]  # an insolvent account's write-offs do not keep it
        acct.ptp_open[due] = False
        sim.ledger.log.record(d, "promise_kept", -1, due[kept])
        sim.ledger.log.record(d, "promise_broken", -1, due[~kept])
        acct.broken[due[~kept]] = True

    def payment_plan(self, account: int, items: np.ndarray):
        """SimPy process of one payment plan: approval when large, then the instalments until paid or broken."""
        sim, cfg = self.sim, self.plans
        ledger, env = sim.ledger, sim.env
        total = int(ledger.open[items].sum())
        ledger.log.record(env.now, "plan_start", -1, account, total)
        if total / 100.0 > cfg.approval_limit and cfg.approval_days:
            yield env.timeout(cfg.approval_days)
        slices = ledger.open[items] // cfg.instalments
        plan_no = int(sim.account_state.plans[account])
        sim.account_state.plans[account] += 1
        breaks = sim.keyed.uniform("plan_break", account, plan_no, np.arange(cfg.instalments)) < cfg.break_rate
        for k in range(cfg.instalments):
            yield env.timeout(float(sim.cal.next_busday(int(env.now) + cfg.interval_days)) - env.now)
            if not sim.accounts.active[account]:
                return
            if breaks[k]:
                ledger.log.record(env.now, "plan_broken", -1, account)
                sim.inv.in_plan[items] = False
                sim.account_state.broken[account] = True
                return
            open_now = ledger.open[items]
            pay = open_now if k == cfg.instalments - 1 else np.minimum(slices, open_now)
            live = pay > 0
            ledger.pay(env.now, items[live], pay[live], account, kind="plan_instalment")
        sim.inv.in_plan[items] = False

    def inbound_arrivals(self):
        """SimPy process: Poisson arrivals of customer queries during opening hours, each a job for the collectors."""
        sim = self.sim
        rate = sim.scenario.inbound.per_1000_accounts_per_day * len(sim.accounts) / 1000.0
        return poisson_arrivals(sim.env, sim.rng.inbound, self.inbound, sim.shifts, rate, sim.scenario.work.inbound_query,
                                on_arrival=lambda now: sim.ledger.log.record(now, "inbound_query"))

    def track_episodes(self, d: int) -> None:
        """Open and close accounts' past-due episodes (for the coverage KPI)."""
        sim = self.sim
        idx = sim.open_items()
        dpd = d - sim.inv.due_day[idx]
        past = np.zeros(len(sim.accounts), bool)
        past[sim.inv.account[idx[(dpd > 0) & sim.actionable(idx, d)]]] = True
        ep = sim.account_state.episode
        starting = np.flatnonzero(past & (ep < 0))
        ending = np.flatnonzero(~past & (ep >= 0))
        sim.episodes.close(ep[ending], float(d))
        ep[starting] = sim.episodes.open(starting, d)
        ep[ending] = -1

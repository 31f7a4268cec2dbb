"""The simulation: SimPy clock and capacity around a vectorised daily book of invoices.

:class:`Simulation` owns its parts (as Ciw's ``Simulation`` owns its nodes): the business calendar,
random streams, the ledger, the invoice and account state, the work pools of collectors, dispute
analysts and cash-application clerks, and the parts that act on the book — payers, dunning, the dispute
desk, settlement and collection (which ranks the worklist), and the operations levers that are on.

One SimPy process runs the day. Each business day, in the morning: insolvencies, billing, disputes
raised on receipt, payments falling due, the dunning run, pre-legal hand-overs and write-offs, then the
worklist. During the day the work pools' processes take inbound queries, pre-legal files and worklist
calls, disputes and unapplied payments (one SimPy timeout per job). In the evening the outcomes of the
day's calls are applied and the book is snapshotted. Work that happens "over all open items once a
day" is vectorised with numpy; only jobs that take people's time are SimPy events. The morning's and
the evening's steps are listed in :attr:`Simulation.MORNING` and :attr:`Simulation.EVENING`, which a
subclass can extend or change.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import simpy

from o2c_sim import uncertainty
from o2c_sim.sim.book import DISPUTE_OPEN, DISPUTE_PENDING, AccountState, Episodes, InvoiceState, initial_capacity
from o2c_sim.sim.business_calendar import BusinessCalendar
from o2c_sim.sim.collection import Collection, WorkList
from o2c_sim.sim.credit_holds import CreditHolds
from o2c_sim.sim.currencies import Currencies
from o2c_sim.sim.disputes import DisputeDesk
from o2c_sim.sim.dunning import Dunning
from o2c_sim.sim.fees import Fees
from o2c_sim.sim.keyed_random import KeyedRandom
from o2c_sim.sim.ledger import EventLog, Ledger, to_cents
from o2c_sim.sim.payers import Payers
from o2c_sim.sim.payment_runs import PaymentRuns
from o2c_sim.sim.portfolio import Billing, make_accounts
from o2c_sim.sim.queries import QueryDesk
from o2c_sim.sim.refunds import Refunds
from o2c_sim.sim.record import BUCKETS, Record, take
from o2c_sim.sim.results import SimResult
from o2c_sim.sim.settlement import Settlement
from o2c_sim.sim.teams import OwnedWorklists, TeamLayout
from o2c_sim.sim.workforce import FifoQueue, WorkPool, person_days
from o2c_sim.scenario import Scenario, from_dict, with_values
from o2c_sim.streams import Streams

EVENING = 0.99  # time of day (fraction) of the evening book-keeping


def settle_fees(sim: "Simulation", d: int) -> None:
    """Fees collected with their invoice, waived or written off (:mod:`o2c_sim.sim.fees`)."""
    if sim.fees is not None:
        sim.fees.settle(sim, d)


class Simulation:
    """One replication of a scenario. ``run()`` returns a :class:`~o2c_sim.sim.results.SimResult`.

    The parts that act on the book each own their slice of the scenario; a subclass may replace one by
    its own subclass (``class MySimulation(Simulation): Dunning = MyDunning``), as Ciw takes a custom
    node class. Each is built as ``Part(simulation, …)`` once the book exists."""

    Payers = Payers  #: payer behaviour: hazard tables, frailties, the daily intensity
    Dunning = Dunning  #: the dunning run and its cadences
    DisputeDesk = DisputeDesk  #: disputes raised, waited on, decided
    Settlement = Settlement  #: payments, cash matching, pre-legal, agency, write-offs, insolvencies
    Collection = Collection  #: worklist, calls, promises, payment plans, inbound queries

    def __init__(self, scenario: Scenario, replication: int = 0, *, seed: int | None = None,
                 check_every_day: bool = False, opening=None):
        if opening is not None:
            scenario = opening.warm(scenario)
        self.scenario = sc = scenario
        self.opening = opening
        self.replication = replication
        self.check_every_day = check_every_day
        self.days = sc.warmup_days + sc.horizon_days
        origin = sc.start_date.toordinal() - sc.warmup_days
        self.cal = BusinessCalendar(dt.date.fromordinal(origin), self.days, sc.calendar.weekmask, sc.calendar.holidays)
        self.rng = Streams(sc.seed if seed is None else seed, replication)
        self.keyed = KeyedRandom(sc.seed if seed is None else seed, replication)
        self.env = simpy.Environment()
        self.log = EventLog()
        self.accounts = make_accounts(sc, self.rng.accounts, None if opening is None else opening.segment, self.cal.per_year)
        self.currencies = None
        if sc.currencies.enabled:  # a warm start's customers keep the ledger's currencies
            self.currencies = Currencies(sc, self.keyed, self.accounts.segment, origin, self.days,
                                         None if opening is None else opening.account_currencies(sc.currency))
        self.ledger = Ledger(self.log, capacity=initial_capacity(sc, self.days, 0 if opening is None else len(opening.items)),
                             account_currency=None if self.currencies is None else self.currencies.account)
        self.payers = self.Payers(self)
        self.inv = InvoiceState(capacity=len(self.ledger.amount), notice_effects=self.payers.tables.notice_mult.shape[1])
        self.account_state = AccountState(len(self.accounts))
        self.episodes = Episodes()
        self.billing = Billing(sc, self.accounts, self.rng.billing, self.rng.amounts, self.cal)
        self.payment_runs = PaymentRuns(sc, self.cal, self.keyed, self.accounts.segment) if sc.payment_runs.enabled else None
        self.credit_holds = CreditHolds(sc, self.accounts) if sc.credit_holds.enabled else None
        self.fees = Fees(sc) if sc.fees.enabled else None
        self.refunds = None  # set in _build_pools when refunds.enabled
        self.teams = TeamLayout(sc, self.keyed, self.accounts.segment, self.accounts.credit_limit) if sc.teams.enabled else None
        self.dunning = self.Dunning(self)
        segs = sc.portfolio.segments  # what billing draws per segment: terms, disputes on receipt, partial payers
        self._terms = np.array([s.terms_days for s in segs], dtype=float).astype(np.int64)
        self._dispute_rate = np.array([s.behaviour.dispute_rate for s in segs], dtype=float)
        self._partial_rate = np.array([s.behaviour.partial_payment_rate for s in segs], dtype=float)
        self.open_idx = np.array([], np.int64)  # candidates for open invoices (compacted daily)
        self.rebills: list[tuple[int, float, int, int]] = []  # (account, amount, key, generation) for the next billing run
        self.next_key = 0 if opening is None else len(opening.items)  # sequence number of the next original invoice
        self._build_pools()
        self.snapshots = {k: np.zeros(self.days, np.int64) for k in BUCKETS}
        self.dispute_backlog = np.zeros(self.days, np.int64)
        self.suspense = np.zeros(self.days, np.int64)
        if self.currencies is not None:  # reporting-currency cents gained or lost on open items by rate moves
            self.fx_revaluation = np.zeros(self.days)
            self.fx_realised = np.zeros(self.days)  # ... and realised on the items settled (currencies.py)
            self._open_by_currency = np.zeros(len(self.currencies.codes))
            self._open_yesterday = (np.array([], np.int64), np.array([], np.int64))
        if opening is not None:
            self._carry_in(opening)
        self._morning, self._evening = self._bind(self.MORNING), self._bind(self.EVENING)
        self.env.process(self._days())
        if self.queries is not None:  # query management replaces the workload-only inbound stream
            self.env.process(self.queries.arrivals())
        elif sc.inbound.enabled and sc.team.collectors > 0:
            self.env.process(self.collection.inbound_arrivals())

    # ------------------------------------------------------------------------------------ set-up
    def _shifts(self) -> list[tuple[float, float]]:
        t = self.scenario.team
        start = t.shift_start_hour / 24.0
        return [(d + start, d + start + t.hours_per_day / 24.0) for d in self.cal.busdays]

    def _build_pools(self) -> None:
        t = self.scenario.team
        shifts = self.shifts = self._shifts()
        nb = len(shifts)

        def pool(name: str, size: int, queues: list, worker_queues=None) -> WorkPool:
            present, breaks = person_days(self.rng, name, size, nb, t.absence_rate)
            if name == "collectors":
                self.collector_presence = present
            return WorkPool(self.env, name, size, shifts, present, breaks, t.shrinkage, queues,
                            worker_queues() if worker_queues else None)

        inbound, legal_files, disputes, cash_matching = FifoQueue(), FifoQueue(), FifoQueue(), FifoQueue()
        self.collection = self.Collection(self, WorkList(), inbound)
        self.settlement = self.Settlement(self, cash_matching, legal_files)
        self.disputes = self.DisputeDesk(self, disputes)
        worklist = self.collection.worklist
        self.owned = None  # per-collector views of the worklist when teams own portfolios
        self.queries = QueryDesk(self) if self.scenario.queries.enabled else None
        first = [*(self.queries.queues if self.queries else []), inbound, legal_files]

        def own_lists() -> list:
            self.owned = OwnedWorklists(self.teams, worklist, self.collector_presence)
            return [[*first, view] for view in self.owned.views]

        self.collectors = pool("collectors", t.collectors, [*first, worklist],
                               own_lists if self.teams is not None else None)
        self.analysts = pool("dispute_analysts", t.dispute_analysts, [disputes])
        self.clerks = pool("cash_app_clerks", t.cash_app_clerks, [cash_matching])
        if self.queries is not None:  # escalated queries: the team leads, drawn after the other pools
            self.lead_q = FifoQueue()
            self.team_leads = pool("team_leads", self.scenario.queries.escalation.team_leads, [self.lead_q])
            self.lead_q.pool = self.team_leads
            for q in self.queries.queues:
                q.pool = self.collectors
        if self.scenario.refunds.enabled:  # the refund clerks, drawn after the other pools
            self.refunds = Refunds(self)
            self.refund_clerks = pool("refund_clerks", self.scenario.refunds.clerks, [self.refunds.queue])
            self.refunds.queue.pool = self.refund_clerks
        for q, pool in ((inbound, self.collectors), (legal_files, self.collectors),
                        (disputes, self.analysts), (cash_matching, self.clerks)):
            q.pool = pool

    # ---------------------------------------------------------------------------------- the day
    def _days(self):
        env = self.env
        for d in range(self.days):
            if env.now < d:
                yield env.timeout(d - env.now)
            if self.cal.is_busday[d]:
                self.morning(d)
            yield env.timeout(d + EVENING - env.now)
            self.evening(d)

    def morning(self, d: int) -> None:
        """A business day's morning: every step of :attr:`MORNING` in order."""
        for step in self._morning:
            step(d)

    def evening(self, d: int) -> None:
        """Every day's evening: every step of :attr:`EVENING` in order."""
        for step in self._evening:
            step(d)

    def _bind(self, steps) -> list[Callable[[int], None]]:
        """The steps as callables of the day: ``"part.method"`` names a part's method (skipped when the
        part is switched off, i.e. None), ``"method"`` the simulation's own, and a callable is called as
        ``step(simulation, day)``."""
        bound = []
        for step in steps:
            if callable(step):
                bound.append(functools.partial(step, self))
                continue
            part, _, method = step.rpartition(".")
            owner = getattr(self, part) if part else self
            if owner is not None:
                bound.append(getattr(owner, method))
        return bound

    # ---------------------------------------------------------------------------------- billing
    def issue_invoices(self, d: int) -> np.ndarray:
        """Issue today's billing and pending rebills; each invoice draws its keyed fate (resistance,
        dispute on receipt, partial payment)."""
        accounts, amounts = self.billing.bill(int(self.cal.busday_of_month[d]), d)
        keys = self.next_key + np.arange(len(accounts), dtype=np.int64)
        self.next_key += len(accounts)
        if self.currencies is not None:  # each account bills in its own currency at the order day's rate
            amounts = self.currencies.issue_amounts(accounts, amounts, d)
        if self.credit_holds is not None:  # (a held sale keeps its amount in the customer's currency)
            accounts, amounts, keys = self.credit_holds.bill(self, d, accounts, amounts, keys)
        generation = np.zeros(len(accounts), np.int64)
        if self.rebills:
            rebill_acc, rebill_amt, rebill_key, rebill_gen = (np.array(x) for x in zip(*self.rebills))
            self.rebills = []
            live = self.accounts.active[rebill_acc]
            accounts = np.concatenate([accounts, rebill_acc[live]])
            amounts = np.concatenate([amounts, rebill_amt[live]])
            keys = np.concatenate([keys, rebill_key[live]])
            generation = np.concatenate([generation, rebill_gen[live]])
        if len(accounts) == 0:
            return np.array([], np.int64)
        seg = self.accounts.segment[accounts]
        due = d + self._terms[seg]
        idx = self.ledger.issue(d, to_cents(amounts), accounts)
        disputed = self.keyed.uniform("dispute_on_receipt", keys, generation) < self._dispute_rate[seg]
        partial = self.keyed.uniform("partial", keys, generation) < self._partial_rate[seg]
        self._book_items(idx, accounts=accounts, segment=seg, issue_day=np.full(len(idx), d), due_day=due, key=keys,
                         generation=generation, partial=partial, disputed_on_receipt=disputed)
        if self.scenario.disputes.enabled:
            pending = idx[disputed]
            self.inv.dispute[pending] = DISPUTE_PENDING
            self.inv.dispute_open_day[pending] = d + self.keyed.integers("dispute_open_day", 2, 11, keys[disputed],
                                                                         generation[disputed])
        return idx

    def _book_items(self, idx: np.ndarray, *, accounts: np.ndarray, key: np.ndarray, generation: np.ndarray, **columns) -> None:
        """Add ledger rows ``idx`` to the invoice state with their keyed resistance (Exp(1))."""
        resistance = self.keyed.exponential("resistance", key, generation, 0)
        added = self.inv.add(account=accounts, key=key, generation=generation, resistance=resistance, **columns)
        assert np.array_equal(added, idx), "invoice state and ledger rows out of step"
        self.open_idx = np.concatenate([self.open_idx, idx])

    def _carry_in(self, book) -> None:
        """Book the opening items of a warm start (see :mod:`o2c_sim.calibration.warmstart`).

        A carried-in item starts with no hazard accumulated and a fresh Exp(1) resistance: given that it
        was not paid by the as-of date, the remaining resistance of an exponential is again Exp(1)."""
        items = book.items
        if items.empty:
            return
        accounts = items["account"].to_numpy()
        seg = self.accounts.segment[accounts]
        due = items["due_day"].to_numpy()
        disputed = items["disputed_open"].to_numpy().astype(bool)
        level = items["level"].to_numpy()
        steps_due = self.dunning.steps_due(accounts, seg, due)
        level = np.where(level >= 0, level, steps_due) if len(items) else level
        idx = self.ledger.issue(0.0, to_cents(items["open"].to_numpy()), accounts, kind="opening_balance")
        self._book_items(idx, accounts=accounts, segment=seg, issue_day=items["invoice_day"].to_numpy(), due_day=due,
                         key=np.arange(len(items), dtype=np.int64), generation=np.zeros(len(items), np.int64),
                         level=level, disputed_on_receipt=disputed)
        self.disputes.open(idx[disputed], 0.0, source="carried")

    def invoice_ids(self) -> pa.Array:
        """Every invoice's id, indexed by ledger row, the same under every policy: the ledger's own for
        carried-in items, ``INV0000123`` for simulated originals (numbered in billing order), and the
        corrected invoice's id + ``-R1``, ``-R2`` … for rebills (other marks where the ledger's own ids
        already use these: :func:`simulated_id_marks`)."""
        n = self.ledger.n
        key, gen = self.inv.key[:n], self.inv.generation[:n]
        carried = [] if self.opening is None else self.opening.items["invoice_id"].astype(str).tolist()
        prefix, rebill = simulated_id_marks(carried)
        join = lambda *parts: pc.binary_join_element_wise(*parts, "")  # noqa: E731  (Arrow: no string per row in Python)
        base = join(prefix, pc.utf8_lpad(pc.cast(pa.array(key), pa.string()), width=7, padding="0"))
        if carried:
            own = pa.array(carried, pa.string()).take(pa.array(np.minimum(key, len(carried) - 1)))
            base = pc.if_else(pa.array(key < len(carried)), own, base)
        marks = pc.if_else(pa.array(gen > 0), join(rebill, pc.cast(pa.array(gen.astype(np.int64)), pa.string())), "")
        return join(base, marks)

    def customer_ids(self) -> pa.Array:
        """Every account's customer id, indexed by account."""
        if self.opening is not None:
            return pa.array([str(c) for c in self.opening.customers], pa.string())
        return pa.array([f"C{a:06d}" for a in range(len(self.accounts))], pa.string())

    # --------------------------------------------------------------------------------- queries
    def open_items(self) -> np.ndarray:
        """Indices of invoices with money open (compacts the candidate list)."""
        self.open_idx = self.open_idx[self.ledger.open[self.open_idx] > 0]
        return self.open_idx

    def actionable(self, idx: np.ndarray, d: int) -> np.ndarray:
        """Mask over ``idx``: collection may act (not disputed-open, not in a plan or with legal, no cash in suspense)."""
        inv = self.inv
        mask = (inv.dispute[idx] != DISPUTE_OPEN) & ~inv.in_plan[idx] & ~inv.in_legal[idx] & ~inv.unapplied[idx]
        if self.queries is not None and self.queries.held:  # a payer holds an invoice back while its query is open
            mask &= ~self.queries.held_mask(idx)
        return mask

    def account_sum(self, idx: np.ndarray, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.inv.account[idx], weights=values, minlength=len(self.accounts))

    # -------------------------------------------------------------------------------- snapshot
    def snapshot(self, d: int) -> None:
        idx = self.open_items()
        cents = self.ledger.open[idx]
        suspense = self.ledger.suspense
        if self.currencies is not None:  # the book in the reporting currency at the evening's rate
            fx, currency = self.currencies, self.ledger.currency[idx]
            self.fx_realised[d] = fx.realised(*self._open_yesterday, self.ledger, self.inv.issue_day, d)
            self.fx_revaluation[d] = fx.revaluation(self._open_by_currency, d) - self.fx_realised[d]
            self._open_yesterday = (idx, cents)
            self._open_by_currency = np.bincount(currency, weights=cents, minlength=len(fx.codes))
            cents = fx.reporting(cents, currency, d)
            suspense = np.rint(fx.reporting(suspense, np.arange(len(fx.codes)), d))
        dpd = d - self.inv.due_day[idx]
        edges = (-(10**9), 0, 30, 60, 90)
        bucket = np.searchsorted(np.array(edges[1:]), dpd, side="left")
        totals = np.bincount(bucket, weights=cents, minlength=5)
        for k, name in enumerate(BUCKETS):
            self.snapshots[name][d] = int(round(totals[k]))
        self.dispute_backlog[d] = int((self.inv.dispute[idx] == DISPUTE_OPEN).sum())
        self.suspense[d] = int(suspense.sum())

    # -------------------------------------------------------------------------------------- run
    def run(self) -> SimResult:
        """Simulate every day, check the ledger's identities and build the result from :meth:`record`."""
        self.env.run(until=self.days)
        self.ledger.check()
        return SimResult.from_record(self.record())

    def record(self) -> Record:
        """What the run produced, as plain tables (:class:`~o2c_sim.sim.record.Record`)."""
        return take(self)

    # ---------------------------------------------------------------------------- the day's steps
    def check_ledger(self, d: int) -> None:
        """The ledger's identities, when asked to check every day."""
        if self.check_every_day:
            self.ledger.check()

    # ---------------------------------------------------------------------------- the day's steps
    #: The steps of a business day's morning, in order. A step is ``"part.method"`` (a method of one of the
    #: simulation's parts: ``payers``, ``dunning``, ``disputes``, ``settlement``, ``collection``, ``refunds``
    #: …; skipped when that part is switched off), ``"method"`` (the simulation's own) or a callable
    #: ``step(simulation, day)``. To add, remove or replace one, subclass and change the tuple
    #: (``MORNING = (*Simulation.MORNING, my_step)``), as Ciw swaps a node's behaviour by subclassing; to
    #: change how a part works, subclass the part and build it in :meth:`_build_pools`'s place.
    MORNING: tuple = (
        "settlement.insolvencies",  # accounts that go insolvent today: their items written off
        "issue_invoices",  # billing and rebills
        "disputes.open_due",  # disputes raised on receipt whose raising day has come
        "settlement.payments",  # payers' hazard: who pays today
        settle_fees,  # fees: collected with their invoice, waived or written off
        "refunds.morning",  # credit balances: approved, applied or queued for the refunds desk
        "collection.promises_due",  # promises falling due: kept or broken
        "dunning.run",  # today's notices
        "settlement.legal_and_write_off",  # pre-legal hand-overs, agency and write-offs
        "collection.build_worklist",  # the collectors' ranked worklist for today
    )
    #: The steps of every evening, in order (the same rules as :attr:`MORNING`).
    EVENING: tuple = (
        "collection.track_episodes",  # before today's calls are booked, so first-day calls count
        "collection.apply_calls",  # today's call outcomes: promises, disputes, plans
        "snapshot",  # the book by ageing bucket
        "check_ledger",  # the ledger's identities, when asked to check every day
    )


def simulated_id_marks(carried: list[str]) -> tuple[str, str]:
    """``(prefix, rebill mark)`` for simulated invoice ids that no carried-in id can equal: ``INV`` and
    ``-R`` unless some ledger id starts with that prefix or contains that mark, then ``SINV``/``-SR``,
    ``SSINV``/``-SSR`` …"""
    prefix, rebill = "INV", "-R"
    while any(c.startswith(prefix) for c in carried):
        prefix = "S" + prefix
    while any(rebill in c for c in carried):
        rebill = "-S" + rebill[1:]
    return prefix, rebill


def simulate(scenario: Scenario, replication: int = 0, *, seed: int | None = None,
             check_every_day: bool = False, opening=None) -> SimResult:
    """Run one replication of ``scenario`` (seeded from ``seed`` or the scenario's seed), optionally
    warm-started from an :class:`~o2c_sim.calibration.warmstart.OpeningBook`."""
    values = uncertainty.draw(scenario, replication, seed) if scenario.uncertain else {}  # parameter uncertainty
    drawn = with_values(scenario, values) if values else scenario
    result = Simulation(drawn, replication, seed=seed, check_every_day=check_every_day, opening=opening).run()
    if values:  # the result keeps the distributions, as scenario.yaml records them; the draws go to extra
        result.scenario = from_dict({**result.scenario.model_dump(mode="json"), "uncertain": scenario.uncertain})
        result.extra["parameters"] = dict(values)
    return result


"""Teams, owned portfolios and language skills (docs/model.md §2.21).

With ``teams.enabled`` each account draws a language from its segment's shares (keyed by the account,
so the same under every policy), is served by the first team whose segments and languages cover it,
and is owned by one of that team's collectors who speaks its language, by the team's rule:

* ``round_robin``: accounts in account order go to the next collector in turn who speaks the language;
* ``balance_band``: the team's accounts sorted by expected balance (the credit limit, which is
  ``credit_limit_months`` × expected monthly billing) are cut into one band per collector, the largest
  first (each band among the speakers of the account's language);
* ``segment``: the team's collectors are dealt to its segments in turn; within a segment, round robin.

Every morning the worklist is ranked team by team with the team's strategy and each entry goes to its
owner's list. A collector works their own list first; then, if the team has ``help_overflow``, the
teammates' entries still waiting; an absent owner's entries wait for tomorrow unless the team's
``backup`` is ``team``. A collector never calls an account whose language they do not speak; an
account whose team has no speaker of its language is never called.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from o2c_sim import kpis as k
from o2c_sim.sim.currencies import money_column
from o2c_sim.scenario import Scenario, serving_desk


class TeamLayout:
    """Who serves whom: per account its language, team and owner; per collector their team and languages."""

    def __init__(self, sc: Scenario, keyed, segment: np.ndarray, expected_balance: np.ndarray):
        teams = sc.teams
        seg_names = [s.name for s in sc.portfolio.segments]
        self.desks = teams.desks
        self.languages = sorted({lang for shares in teams.languages.values() for lang in shares}
                                | {lang for d in teams.desks for person in d.speakers() for lang in person})
        lang_code = {lang: i for i, lang in enumerate(self.languages)}
        n = len(segment)
        self.language = np.zeros(n, np.int64)
        for s, name in enumerate(seg_names):
            members = np.flatnonzero(segment == s)
            langs = list(teams.languages[name])
            pick = keyed.choice("account_language", [teams.languages[name][g] for g in langs], members)
            self.language[members] = np.array([lang_code[g] for g in langs])[pick]
        # collectors, numbered team by team in the order of the scenario
        self.collector_desk, speaks, self.collector_names = [], [], []
        for t, d in enumerate(self.desks):
            for j, person in enumerate(d.speakers()):
                self.collector_desk.append(t)
                self.collector_names.append(f"{d.name}_{j + 1}")
                speaks.append([lang in person for lang in self.languages])
        self.collector_desk = np.array(self.collector_desk, np.int64)
        self.speaks = np.array(speaks, bool).reshape(len(self.collector_desk), len(self.languages))
        self.desk = np.full(n, -1, np.int64)
        desk_index = {d.name: t for t, d in enumerate(self.desks)}
        for s, name in enumerate(seg_names):
            for lang in self.languages:
                d = serving_desk(teams, name, lang)
                if d is not None:
                    self.desk[(segment == s) & (self.language == lang_code[lang])] = desk_index[d.name]
        self.owner = np.full(n, -1, np.int64)
        for t, d in enumerate(self.desks):
            self._assign(t, d, np.flatnonzero(self.desk == t), segment, seg_names, expected_balance)

    def _assign(self, t: int, desk, accounts: np.ndarray, segment, seg_names, expected_balance) -> None:
        staff = np.flatnonzero(self.collector_desk == t)
        if len(staff) == 0 or len(accounts) == 0:
            return
        if desk.assignment == "balance_band":
            accounts = accounts[np.argsort(-expected_balance[accounts], kind="stable")]
            band = np.arange(len(accounts)) * len(staff) // len(accounts)  # band j → the j-th collector
            for a, b in zip(accounts.tolist(), band.tolist()):
                speakers = staff[self.speaks[staff, self.language[a]]]
                if len(speakers):  # the band's collector if they speak it, else the nearest speaker
                    self.owner[a] = speakers[np.argmin(np.abs(speakers - staff[b]))]
            return
        groups = [(staff, accounts)]
        if desk.assignment == "segment":
            served = desk.segments or seg_names
            dealt = {s: staff[np.arange(len(staff)) % len(served) == i] for i, s in enumerate(served)}
            groups = [(dealt[s] if len(dealt[s]) else staff, accounts[segment[accounts] == seg_names.index(s)])
                      for s in served]
        for people, members in groups:
            turn = 0
            for a in members.tolist():
                can = self.speaks[people, self.language[a]]
                if not can.any():
                    continue  # nobody here speaks it: never called
                while not can[turn % len(people)]:
                    turn += 1
                self.owner[a] = people[turn % len(people)]
                turn += 1


class OwnedWorklists:
    """Per-collector views of today's :class:`~o2c_sim.sim.collection.WorkList`: own list first, then the
    team's shareable overflow in rank order (only entries in a language the collector speaks)."""

    def __init__(self, layout: TeamLayout, worklist, presence: np.ndarray):
        self.layout, self.wl, self.presence = layout, worklist, presence
        self.help = np.array([d.help_overflow for d in layout.desks], bool)
        self.backup = np.array([d.backup == "team" for d in layout.desks], bool)
        self.views = [_CollectorView(self, c) for c in range(len(layout.collector_desk))]
        self.deal(0)
        self.day_collectors: list[int] = []
        #: every booked attempt: who made it, when, and whether it reached the right party
        self.attempts: dict[str, list] = {"collector": [], "account": [], "time": [], "rpc": []}

    def deal(self, busday: int) -> None:
        """Split today's ranked entries into own lists and overflow lists."""
        lay, acc = self.layout, self.wl.accounts
        owner, desk, lang = lay.owner[acc], lay.desk[acc], lay.language[acc]
        present = self.presence[busday] if len(self.presence) else np.zeros(len(lay.collector_desk), bool)
        owned = owner >= 0
        owner_present = present[np.maximum(owner, 0)] if len(present) else np.zeros(len(acc), bool)
        shareable = owned & np.where(owner_present, self.help[np.maximum(desk, 0)], self.backup[np.maximum(desk, 0)])
        # Python lists: the collectors' jobs read them one entry at a time (half a million reads a year)
        self.taken = [False] * len(acc)
        self.own = [np.flatnonzero(owner == c).tolist() for c in range(len(lay.collector_desk))]
        self.overflow = [np.flatnonzero(shareable & (desk == lay.collector_desk[c]) & (owner != c)
                                        & lay.speaks[c, lang]).tolist() for c in range(len(lay.collector_desk))]
        self.own_at = [0] * len(self.own)
        self.overflow_at = [0] * len(self.own)

    def next_entry(self, c: int) -> int:
        """Position of collector ``c``'s next entry, or −1."""
        own, at, taken = self.own[c], self.own_at[c], self.taken
        while at < len(own) and taken[own[at]]:
            at += 1
        self.own_at[c] = at
        if at < len(own):
            return own[at]
        over, at = self.overflow[c], self.overflow_at[c]
        while at < len(over) and taken[over[at]]:
            at += 1
        self.overflow_at[c] = at
        return over[at] if at < len(over) else -1

    def take(self, c: int, now: float) -> float:
        i = self.next_entry(c)
        self.taken[i] = True
        self.wl.day_attempts.append(i)
        self.wl.day_times.append(now)
        self.day_collectors.append(c)
        return float(self.wl.minutes[i])

    def booked(self, accounts: np.ndarray, times: np.ndarray, rpc: np.ndarray) -> None:
        """The evening booked today's attempts (in the order taken)."""
        self.attempts["collector"].append(np.array(self.day_collectors, np.int64))
        self.attempts["account"].append(accounts)
        self.attempts["time"].append(times)
        self.attempts["rpc"].append(rpc)
        self.day_collectors = []


class _CollectorView:
    """The worklist as one collector sees it (a queue of :class:`~o2c_sim.sim.workforce.WorkPool`)."""

    def __init__(self, owned: OwnedWorklists, c: int):
        self.owned, self.c = owned, c

    def __len__(self) -> int:
        return int(self.owned.next_entry(self.c) >= 0)

    def pop(self, now: float):
        return self.owned.take(self.c, now), None


def team_tables(sim, events: pd.DataFrame, touched: np.ndarray, observable: np.ndarray,
                episode_account: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per team and per collector over the measurement window: owned accounts, coverage of their
    past-due episodes, calls and right-party contacts made, cash collected from the owned portfolio
    and its DSO = ending AR ÷ window sales × window days (kpis.dso_standard)."""
    from o2c_sim.sim.ledger import CASH_KINDS

    lay, w0 = sim.teams, sim.scenario.warmup_days
    n_acc = len(sim.accounts)
    in_window = events["time"].to_numpy() >= w0
    # each event's account (−1: none) by an Arrow hash lookup of its customer id, without Python strings
    account = pc.index_in(pa.array(events["customer_id"]), value_set=sim.customer_ids()).fill_null(-1).to_numpy()
    account = account.astype(np.int64)

    def per_account(kinds) -> np.ndarray:
        sel = in_window & events["kind"].isin(kinds).to_numpy() & (account >= 0)
        return np.bincount(account[sel], weights=events[money_column(events)].to_numpy()[sel], minlength=n_acc)

    cash, sales = per_account(CASH_KINDS), per_account(["issue"])
    idx = sim.open_items()
    open_money = sim.ledger.open[idx] / 100.0
    if sim.currencies is not None:  # in the reporting currency on the last day
        open_money = sim.currencies.reporting(open_money, sim.ledger.currency[idx], sim.days - 1)
    ending = np.bincount(sim.inv.account[idx], weights=open_money, minlength=n_acc)
    window_days = sim.days - w0
    made = {key: np.concatenate(v) if v else np.array([]) for key, v in sim.owned.attempts.items()}
    att, att_rpc, att_window = made["collector"].astype(np.int64), made["rpc"].astype(bool), made["time"] >= w0
    first_bd = int(sim.cal.busday_index[w0]) if w0 < sim.days else 0

    def row(accounts_mask: np.ndarray, callers: np.ndarray) -> dict:
        ep = accounts_mask[episode_account] & observable
        made = att_window & np.isin(att, callers)
        return {
            "accounts": int(accounts_mask.sum()),
            "coverage_pct": float(touched[ep].mean() * 100) if ep.any() else float("nan"),
            "calls": int(made.sum()),
            "rpc": int((made & att_rpc).sum()),
            "cash_collected": float(cash[accounts_mask].sum()),
            "dso": k.dso_standard(float(ending[accounts_mask].sum()), float(sales[accounts_mask].sum()), window_days),
            "ending_ar": float(ending[accounts_mask].sum()),
        }

    teams = pd.DataFrame([{"team": d.name, "collectors": int((lay.collector_desk == t).sum()),
                           **row(lay.desk == t, np.flatnonzero(lay.collector_desk == t))}
                          for t, d in enumerate(lay.desks)]
                         + ([{"team": "(none)", "collectors": 0, **row(lay.desk < 0, np.array([], np.int64))}]
                            if (lay.desk < 0).any() else []))
    languages = np.array(lay.languages)
    collectors = pd.DataFrame([{"collector": lay.collector_names[c], "team": lay.desks[lay.collector_desk[c]].name,
                                "languages": " ".join(languages[lay.speaks[c]]),
                                "absent_days": int((~sim.collector_presence[first_bd:, c]).sum()),
                                **row(lay.owner == c, np.array([c]))}
                               for c in range(len(lay.collector_desk))])
    return teams, collectors

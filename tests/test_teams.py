"""Teams, owned portfolios and language skills (docs/model.md §2.16).

Paired runs with common random numbers: the same seed gives both policies the same accounts, languages,
invoices and the same n-th call outcome per account, so differences come from who works which list.
"""

import copy
import hashlib
import json

import numpy as np
import pytest

from o2c_sim.cli import main
from o2c_sim.sim.model import Simulation, simulate
from o2c_sim.scenario import load_scenario
from o2c_sim.errors import UserError
from conftest import small_scenario

TINY = {"portfolio.accounts": 200, "horizon_days": 90, "warmup_days": 30, "seed": 7}

#: computed on the same seed from main just before teams were merged (payments and KPIs as on the branch
#: they were written on, 4c0979d; utilisation and inbound wait differ there by main's per-person streams)
BEFORE_TEAMS = {
    "invoices_sha256": "a98a584c2c72fe2a1e4cfa67636aebb9e79099ed5e52d65e1c4fea82de550c8f",
    "kpis": {"dso": 36.893817759, "bpdso": 31.972926475, "cei": 86.496575703, "coverage_pct": 98.295454545,
             "collector_utilisation": 7.946533776, "calls_per_day": 15.446153846, "rpc_per_day": 6.415384615,
             "inbound_wait_minutes": 0.034217505, "cash_collected": 3813765.72, "ending_ar": 2089941.23},
}

LANGUAGES = {"key_accounts": {"en": 1.0}, "mid_market": {"en": 0.5, "fr": 0.5}, "small_business": {"en": 0.6, "es": 0.4}}


def teams(desks, **extra):
    return {"teams.enabled": True, "teams.languages": copy.deepcopy(LANGUAGES), "teams.desks": desks, **extra}


def one_desk(**desk):
    """Six collectors who all speak every language, in one team serving every account."""
    return teams([{"name": "all", "collectors": 6, "languages": ["en", "fr", "es"], **desk}])


def _fingerprint(over):
    r = simulate(small_scenario("baseline", {**TINY, **over}))
    return hashlib.sha256(r.invoices.to_csv(index=False).encode()).hexdigest(), r


@pytest.mark.parametrize("over", [{}, {"teams.enabled": False, "teams.languages": LANGUAGES}])
def test_baseline_unchanged_with_teams_off(over):
    digest, r = _fingerprint(over)
    assert digest == BEFORE_TEAMS["invoices_sha256"]
    for key, value in BEFORE_TEAMS["kpis"].items():
        assert round(float(r.kpis[key]), 9) == value, key
    assert r.teams.empty and r.collectors.empty


def _coverage(over, reps=2):
    return np.array([simulate(small_scenario("baseline", {"team.absence_rate": 0.3, **over}), rep).kpis["coverage_pct"]
                     for rep in range(reps)])


def test_owned_portfolios_with_absence_and_no_backup_cover_less_than_a_pool():
    pool = _coverage({"team.collectors": 6})
    owned = _coverage(one_desk(help_overflow=False, backup="none"))
    backed = _coverage(one_desk(help_overflow=False, backup="team"))
    assert (owned < pool - 2).all(), (owned, pool)  # every paired replication: an absent owner's accounts wait
    assert (backed > owned).all(), (backed, owned)  # a backup rule gives most of it back


def test_a_shared_team_list_with_everyone_helping_is_the_pool():
    """One team, every collector speaks everything, helps the overflow and backs up absentees: the same
    entries are worked, in a slightly different order, so the results are close to the pool's."""
    pool = simulate(small_scenario("baseline", {**TINY, "team.absence_rate": 0.3}))
    team = simulate(small_scenario("baseline", {**TINY, "team.absence_rate": 0.3,
                                                 **one_desk(help_overflow=True, backup="team")}))
    assert team.kpis["calls_per_day"] == pytest.approx(pool.kpis["calls_per_day"], rel=0.1)
    assert team.kpis["coverage_pct"] == pytest.approx(pool.kpis["coverage_pct"], abs=2)


@pytest.fixture(scope="module")
def no_french_speaker():
    """Team ``eu`` serves French accounts of the mid-market but has no French speaker; French is
    spoken only on the key-account desk, which does not serve the mid-market."""
    desks = [{"name": "key", "collectors": [{"languages": ["en", "fr"]}], "languages": ["en"], "segments": ["key_accounts"]},
             {"name": "eu", "collectors": [{"languages": ["en", "es"]}, {"languages": ["en"]}, {"languages": ["es"]}],
              "languages": ["en", "fr", "es"]}]
    sim = Simulation(small_scenario("baseline", {**TINY, **teams(desks)}))
    return sim, sim.run()


def test_a_team_without_a_speaker_of_an_accounts_language_never_calls_it(no_french_speaker):
    sim, result = no_french_speaker
    lay = sim.teams
    french = lay.language == lay.languages.index("fr")
    assert french.sum() > 20 and (lay.owner[french] == -1).all()
    called = np.concatenate(sim.owned.attempts["account"])
    assert len(called) > 100 and not french[called].any()
    # and nobody ever calls an account in a language they do not speak
    who = np.concatenate(sim.owned.attempts["collector"])
    assert lay.speaks[who, lay.language[called]].all()
    # the French accounts were past due all the same: dunning still writes to them
    ids = np.asarray(sim.customer_ids().to_pylist())
    dunned = set(result.events.loc[result.events["kind"] == "dunning", "customer_id"].astype(str))
    assert dunned & set(ids[french])


def test_per_team_and_per_collector_tables_add_up(no_french_speaker):
    sim, result = no_french_speaker
    t, c = result.teams, result.collectors
    window = result.events[result.events["time"] >= sim.scenario.warmup_days]
    assert t["calls"].sum() == (window["kind"] == "call_attempt").sum() == c["calls"].sum()
    assert t["rpc"].sum() == (window["kind"] == "right_party_contact").sum()
    assert t["accounts"].sum() == len(sim.accounts)
    assert t["cash_collected"].sum() == pytest.approx(result.kpis["cash_collected"], abs=0.01)
    assert t["ending_ar"].sum() == pytest.approx(result.kpis["ending_ar"], abs=0.01)
    assert list(c["collector"]) == ["key_1", "eu_1", "eu_2", "eu_3"]


def test_assignment_rules():
    desks = [{"name": "a", "collectors": 3, "languages": ["en", "fr", "es"], "assignment": "balance_band"},]
    sim = Simulation(small_scenario("baseline", {**TINY, **teams(desks)}))
    lay = sim.teams
    limit = [sim.accounts.credit_limit[lay.owner == c] for c in range(3)]
    assert limit[0].min() >= limit[1].max() and limit[1].min() >= limit[2].max()  # bands, largest first
    sim = Simulation(small_scenario("baseline", {**TINY, **one_desk()}))
    counts = np.bincount(sim.teams.owner, minlength=6)
    assert counts.max() - counts.min() <= 1  # round robin deals evenly
    sim = Simulation(small_scenario("baseline", {**TINY, **one_desk(assignment="segment")}))
    lay = sim.teams
    for c in range(6):  # collectors dealt to segments in turn: collector c serves segment c mod 3
        assert set(sim.accounts.segment[lay.owner == c]) == {c % 3}


def test_language_shares_follow_the_scenario_and_are_policy_free():
    a = Simulation(small_scenario("baseline", {"portfolio.accounts": 3000, **one_desk()}))
    b = Simulation(small_scenario("baseline", {"portfolio.accounts": 3000, **one_desk(assignment="balance_band")}))
    assert np.array_equal(a.teams.language, b.teams.language)
    mid = a.accounts.segment == 1
    share_fr = (a.teams.language[mid] == a.teams.languages.index("fr")).mean()
    assert share_fr == pytest.approx(0.5, abs=3 * np.sqrt(0.25 / mid.sum()))


@pytest.mark.parametrize("desks, languages, field", [
    ([{"name": "x", "collectors": 0, "languages": ["en", "fr", "es"]}], LANGUAGES, "teams.desks.x.collectors"),
    ([{"name": "x", "collectors": 2, "languages": ["en", "fr"]}], LANGUAGES, "teams.languages.small_business.es"),
    ([{"name": "x", "collectors": 2, "languages": ["en", "fr", "es"], "segments": ["smb"]}], LANGUAGES,
     "teams.desks.x.segments"),
    ([{"name": "x", "collectors": 2, "languages": ["en", "fr", "es"]}],
     {**LANGUAGES, "mid_market": {"en": 0.5, "fr": 0.4}}, "teams.languages.mid_market"),
    ([{"name": "x", "collectors": 2, "languages": ["en", "fr", "es"]}],
     {"key_accounts": {"en": 1.0}, "mid_market": {"en": 1.0}}, "teams.languages"),
])
def test_bad_team_input_is_a_user_error_naming_the_field(desks, languages, field, tmp_path, capsys):
    over = {"teams.enabled": True, "teams.languages": languages, "teams.desks": desks}
    with pytest.raises(UserError, match=f"field '{field}'"):
        load_scenario("baseline", over)
    code = main(["run", "baseline", "--set", f"teams={json.dumps({'enabled': True, 'languages': languages, 'desks': desks})}",
                 "--set", "portfolio.accounts=50", "-r", "1", "-q", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and field in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_enterprise_is_a_three_desk_three_language_example():
    sc = load_scenario("enterprise")
    assert sc.teams.enabled and len(sc.teams.desks) == 3
    assert {lang for shares in sc.teams.languages.values() for lang in shares} == {"en", "fr", "es"}
    assert sc.team.collectors == sc.teams.headcount()


def test_enterprise_is_the_showcase_of_every_operations_lever():
    """Queries, credit holds, fees, payment runs, refunds and three currencies (EUR reporting, USD and MAD
    accounts) are on, and a small enterprise run exercises each of them with money conserved every evening."""
    sc = load_scenario("enterprise")
    assert all(getattr(sc, block).enabled for block in ("queries", "credit_holds", "fees", "payment_runs", "refunds", "currencies"))
    assert sc.currency == "EUR" and {c for s in sc.currencies.accounts.values() for c in s} == {"EUR", "USD", "MAD"}
    small = load_scenario("enterprise", {"portfolio.accounts": 1500, "team.collectors": 4, "horizon_days": 90, "warmup_days": 60})
    r = simulate(small, check_every_day=True)
    assert set(r.invoices["currency"]) == {"EUR", "USD", "MAD"}
    kinds = set(r.events["kind"].astype(str))
    assert {"inbound_query", "credit_hold", "sales_held", "fee_added", "overpayment", "refund"} <= kinds
    assert len(r.query_reasons) and r.kpis["fx_realised"] != 0 and r.kpis["fees_charged"] > 0
    assert set(r.teams["team"]) >= {"us_key_accounts", "fr_desk", "es_desk"}


def test_one_more_spanish_speaker_covers_spanish_accounts_better_than_one_more_generalist():
    """A Spanish desk of one, with backup: when its speaker is away nobody may call its accounts. A
    second Spanish speaker covers them; an extra English generalist cannot."""
    def desks(es: int, en: int):
        return teams([{"name": "en_desk", "collectors": en, "languages": ["en", "fr"], "backup": "team"},
                      {"name": "es_desk", "collectors": es, "languages": ["es"], "backup": "team"}])

    for rep in range(2):
        cover = {label: simulate(small_scenario("baseline", {"team.absence_rate": 0.3, "strategy.coverage_business_days": 1,
                                                              **desks(*size)}), rep)
                 .teams.set_index("team").loc["es_desk", "coverage_pct"]
                 for label, size in {"speaker": (2, 3), "generalist": (1, 4)}.items()}
        assert cover["speaker"] > cover["generalist"] + 5, cover


def test_a_team_with_its_own_cadence_duns_on_its_days_and_leaves_the_other_team_alone():
    """Paired: the Spanish desk sends its first past-due reminder 2 days past due instead of the shared
    cadence's 10; its accounts are dunned on its days only, the other desk's results do not move at all,
    and a Spanish desk that duns nobody (an empty cadence) collects its accounts later in each replication."""
    own = [{"days_past_due": -3, "channel": "email"}, {"days_past_due": 2, "channel": "email"},
           {"days_past_due": 7, "channel": "email"}, {"days_past_due": 14, "channel": "letter"}]

    def desks(es_steps):
        return teams([{"name": "en_desk", "collectors": 3, "languages": ["en", "fr"]},
                      {"name": "es_desk", "collectors": 2, "languages": ["es"], "dunning_steps": es_steps}])

    shared_steps = [s.days_past_due for s in load_scenario("baseline").dunning.steps]
    for rep in range(2):
        shared, early, silent = (simulate(small_scenario("baseline", desks(steps)), rep) for steps in (None, own, []))
        spanish = _customers_of(shared, "es_desk")
        for r, steps in ((shared, shared_steps), (early, [s["days_past_due"] for s in own])):
            ev, inv = r.events, r.invoices.set_index("invoice_id")
            notices = ev[ev["kind"] == "dunning"]
            dpd = (notices["date"] - inv.loc[notices["invoice_id"], "due_date"].to_numpy()).dt.days.to_numpy()
            mine = notices["customer_id"].isin(spanish).to_numpy()
            level = notices["detail"].to_numpy()
            for k in range(4):  # a notice of level k goes out on or after its step's day; the frequent first two levels, on it
                assert (dpd[mine & (level == k)] >= steps[k]).all() and (dpd[~mine & (level == k)] >= shared_steps[k]).all()
                if k < 2:
                    assert dpd[mine & (level == k)].min() == steps[k] and dpd[~mine & (level == k)].min() == shared_steps[k]
            assert not silent.events[silent.events["kind"] == "dunning"]["customer_id"].isin(spanish).any()
        team = lambda r, name: r.teams.set_index("team").loc[name]  # noqa: E731
        assert team(early, "en_desk").equals(team(shared, "en_desk")) and team(silent, "en_desk").equals(team(shared, "en_desk"))
        assert team(silent, "es_desk")["dso"] > team(shared, "es_desk")["dso"]


def _customers_of(result, team: str) -> set:
    """Customer ids of the accounts a team serves (from the simulation's layout, rebuilt on the same seed)."""
    sim = Simulation(result.scenario, result.replication)
    ids = np.asarray(sim.customer_ids().to_pylist())
    desk = [d.name for d in result.scenario.teams.desks].index(team)
    return set(ids[sim.teams.desk == desk])


def test_overriding_team_collectors_with_teams_on_resizes_the_desks_in_proportion():
    """The enterprise desks (3 key-account, 16 French, 6 Spanish) scaled to 30 by largest remainder; the
    key-account desk's language profiles repeat in order; the total unchanged leaves every desk as it was."""
    base = load_scenario("enterprise")
    assert load_scenario("enterprise", {"team.collectors": base.team.collectors}) == base
    bigger = load_scenario("enterprise", {"team.collectors": 30})
    sizes = {d.name: len(d.speakers()) for d in bigger.teams.desks}
    assert sizes == {"us_key_accounts": 4, "fr_desk": 19, "es_desk": 7} and bigger.team.collectors == 30
    key = bigger.teams.desks[0].speakers()
    assert key == base.teams.desks[0].speakers() + [base.teams.desks[0].speakers()[0]]
    assert load_scenario("enterprise", ["team.collectors=+5"]) == bigger


def test_more_collectors_with_teams_on_raise_coverage():
    """The staffing lever works with teams: paired, 2 collectors split over the desks cover less than 8
    (split 1/1 and 6/2). The team is made capacity-bound (one-hour shifts): at the small test size a
    full-day team is mostly idle, and coverage then moves only with who happens to be absent."""
    two_desks = teams([{"name": "en_desk", "collectors": 3, "languages": ["en", "fr"]},
                       {"name": "es_desk", "collectors": 1, "languages": ["es"]}])
    stretched = {**two_desks, "team.hours_per_day": 1.0, "strategy.coverage_business_days": 1}
    cover = {n: simulate(small_scenario("baseline", {**stretched, "team.collectors": n})).kpis["coverage_pct"] for n in (2, 8)}
    assert cover[8] > cover[2] + 5, cover


@pytest.mark.parametrize("overrides, says", [
    (["team.collectors=2"], "3 staffed desks"),
    (["team.collectors=30", "teams.desks.fr_desk.collectors=10"], "teams.desks.fr_desk.collectors"),
])
def test_team_collectors_that_cannot_be_shared_among_the_desks_is_refused(overrides, says, tmp_path, capsys):
    with pytest.raises(UserError, match=says.replace(".", r"\.")):
        load_scenario("enterprise", overrides)
    code = main(["run", "enterprise", *[a for o in overrides for a in ("--set", o)], "-r", "1", "-q", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "teams.desks" in err and "Traceback" not in err and not (tmp_path / "r").exists()


def test_a_team_with_its_own_worklist_strategy_calls_larger_balances_first():
    """One collector with slow calls cannot reach every account: ranking the team's list by largest
    balance (its own ``prioritisation``) calls larger accounts and lowers DSO against the scenario's
    oldest-first, in each paired replication; the same strategy set for the whole scenario gives the
    identical run."""
    def one_team(**desk):
        return {**teams([{"name": "one", "collectors": 1, "languages": ["en", "fr", "es"], **desk}]),
                "work.conversation": 30, "work.call_attempt": 10}

    for rep in range(2):
        default, own = (simulate(small_scenario("baseline", one_team(**desk)), rep) for desk in ({}, {"prioritisation": "largest_balance"}))
        size = default.invoices.groupby("customer_id")["amount"].sum()
        called = lambda r: size.loc[r.events.loc[r.events["kind"] == "call_attempt", "customer_id"]].mean()  # noqa: E731
        assert called(own) > 1.2 * called(default) and own.kpis["dso"] < default.kpis["dso"]
        if rep == 0:
            scenario_wide = simulate(small_scenario("baseline", {**one_team(), "strategy.prioritisation": "largest_balance"}), rep)
            assert scenario_wide.invoices.equals(own.invoices) and scenario_wide.kpis == own.kpis

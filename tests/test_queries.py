"""Query management (docs/model.md §2.17): channels, reasons, SLA escalation and the root-cause what-if."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from o2c_sim.cli import main
from o2c_sim.errors import UserError
from o2c_sim.sim.model import Simulation, simulate
from o2c_sim.scenario import QUERY_REASONS, load_scenario
from conftest import small_scenario
import test_conservation
from test_teams import BEFORE_TEAMS, LANGUAGES, _fingerprint

BUSY = {"queries.enabled": True, "queries.channels.phone.per_1000_accounts_per_day": 30,
        "queries.channels.mailbox.per_1000_accounts_per_day": 30}


def test_baseline_unchanged_with_queries_off():
    digest, r = _fingerprint({"queries.enabled": False, "queries.reason_scale": {"pricing": 0}})
    assert digest == BEFORE_TEAMS["invoices_sha256"]
    assert r.queries.empty and r.query_channels.empty


def test_removing_the_top_reason_lowers_disputes_and_dso():
    """Proof-of-delivery queries (the top reason) hold their invoice until answered and half end in a
    dispute; dispute decisions credit nothing here, so what is measured is the delay the reason costs
    (with credits, standard DSO on gross sales also falls by the credited amounts, see §2.17)."""
    over = {**BUSY, "queries.reasons": {"proof_of_delivery": 0.6, "payment_information": 0.4},
            "queries.outcomes.proof_of_delivery": {"dispute": 0.5, "nothing": 0.5},
            "disputes.outcomes": {"credit_rebill": 0.0, "partial_credit": 0.0, "rejected": 1.0}}
    for rep in range(2):
        before = simulate(small_scenario("baseline", over), rep)
        after = simulate(small_scenario("baseline", {**over, "queries.reason_scale": {"proof_of_delivery": 0}}), rep)
        assert before.query_reasons["reason"].iloc[0] == "proof_of_delivery"
        disputes = [(r.events["kind"] == "dispute_open").sum() for r in (before, after)]
        assert disputes[1] < 0.6 * disputes[0]
        assert after.kpis["dso"] < before.kpis["dso"], (before.kpis["dso"], after.kpis["dso"])
        # common random numbers: the remaining queries arrive exactly as before
        keep = lambda r: r.queries.loc[r.queries["reason"] == "payment_information", ["arrived", "account"]]  # noqa: E731
        assert keep(before).reset_index(drop=True).equals(keep(after).reset_index(drop=True))
        assert (after.queries["reason"] != "proof_of_delivery").all()


def test_arrivals_follow_the_channel_rates_and_segment_mix():
    over = {**BUSY, "portfolio.accounts": 1000, "queries.segment_reasons": {"key_accounts": {"pricing": 1.0}}}
    sim = Simulation(small_scenario("baseline", over))
    r = sim.run()
    q = r.queries
    days = len(sim.shifts)
    for ch in sim.scenario.queries.channels:  # Poisson total: mean = rate × accounts / 1000 × business days
        mean = ch.per_1000_accounts_per_day * len(sim.accounts) / 1000 * days
        assert abs((q["channel"] == ch.name).sum() - mean) < 4 * np.sqrt(mean), ch.name
    assert set(q.loc[q["segment"] == "key_accounts", "reason"]) == {"pricing"}
    others = q[q["segment"] != "key_accounts"]
    share = (others["reason"] == "payment_information").mean()
    assert share == pytest.approx(0.25, abs=4 * np.sqrt(0.25 * 0.75 / len(others)))


def test_queries_past_their_sla_escalate_to_the_team_leads():
    over = {**BUSY, "team.collectors": 1, "queries.channels.phone.per_1000_accounts_per_day": 100,
            "queries.channels.phone.sla_minutes": 30}
    r = simulate(small_scenario("baseline", over))
    q = r.queries
    sla = {c.name: c.sla_minutes for c in r.scenario.queries.channels}
    esc = q[q["escalated"]]
    assert len(esc) > 50 and esc["picked"].isna().all()  # the collectors never answered them
    picked = q[~q["escalated"] & q["picked"].notna()]
    assert (picked["wait_minutes"] <= picked["channel"].map(sla) + 1e-6).all()  # nobody answered late
    assert esc["done"].notna().mean() > 0.9  # the team lead answers nearly all of them
    phone = r.query_channels.set_index("channel").loc["phone"]
    assert phone["escalated"] > 0 and phone["sla_pct"] < 100
    # money is still conserved to the cent (the simulation checks the ledger at the end of run)


def test_no_team_lead_leaves_escalated_queries_unanswered():
    over = {**BUSY, "team.collectors": 1, "queries.channels.phone.per_1000_accounts_per_day": 400,
            "queries.channels.phone.sla_minutes": 30, "queries.escalation.team_leads": 0}
    q = simulate(small_scenario("baseline", over)).queries
    assert q["escalated"].sum() > 50 and q.loc[q["escalated"], "done"].isna().all()


@pytest.mark.parametrize("over, field", [
    ({"queries.reasons": {"pricing": 0.5, "quantity": 0.4}}, "queries.reasons"),
    ({"queries.segment_reasons": {"smb": {"pricing": 1.0}}}, "queries.segment_reasons.smb"),
    ({"queries.reason_scale": {"billing": 0}}, "queries.reason_scale"),
    ({"queries.outcomes.pricing": {"dispute": 0.5, "refund": 0.5}}, "queries.outcomes.pricing"),
])
def test_bad_query_input_is_a_user_error_naming_the_field(over, field, tmp_path, capsys):
    with pytest.raises(UserError, match=f"field '{field}'"):
        load_scenario("baseline", {"queries.enabled": True, **over})
    sets = [x for k, v in {"queries.enabled": True, **over}.items() for x in ("--set", f"{k}={json.dumps(v)}")]
    code = main(["run", "baseline", *sets, "--set", "portfolio.accounts=50", "-r", "1", "-q", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and field in err and "Traceback" not in err


def test_run_directory_has_the_query_reports(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", "baseline", "--set", "queries.enabled=true", "--set", "portfolio.accounts=100",
                 "--set", "horizon_days=60", "--set", "warmup_days=30", "-r", "1", "-q", "--out", str(out)])
    assert code == 0
    assert {"queries.parquet", "query_channels.parquet", "query_reasons.parquet"} <= {p.name for p in out.iterdir()}


# money conservation with teams and queries on, over random scenarios: the checks of test_conservation
TEAM_SETUPS = st.sampled_from([
    {"teams.enabled": False},
    {"teams.enabled": True, "teams.languages": LANGUAGES,
     "teams.desks": [{"name": "a", "collectors": [{"languages": ["en", "fr"]}, {"languages": ["es"]}],
                      "languages": ["en", "fr", "es"], "help_overflow": False}]},
    {"teams.enabled": True, "teams.languages": LANGUAGES,
     "teams.desks": [{"name": "k", "collectors": 1, "languages": ["en"], "segments": ["key_accounts"], "backup": "team"},
                     {"name": "b", "collectors": 2, "languages": ["en", "fr", "es"], "assignment": "balance_band"}]},
])


#: found by Hypothesis: a query resolved in the last night of the run, after the last evening's book
LAST_NIGHT = {"portfolio.accounts": 142, "horizon_days": 69, "warmup_days": 25, "seed": 18063, "team.collectors": 1,
              "team.dispute_analysts": 0, "team.cash_app_clerks": 0, "dunning.write_off_days": 20,
              "dunning.pre_legal_days": None,
              "disputes.outcomes": {"credit_rebill": 1.0, "partial_credit": 0.0, "rejected": 0.0}}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(LAST_NIGHT, {"teams.enabled": False}, 28.0, "quantity", 3.0)
@given(test_conservation.random_overrides, TEAM_SETUPS, st.floats(0, 60), st.sampled_from(QUERY_REASONS), st.floats(0, 3))
def test_money_is_conserved_with_teams_and_queries(overrides, team_setup, rate, reason, scale):
    over = {**{k: v for k, v in overrides.items() if not k.startswith("queries.")},  # this test's own query desk
            **team_setup, "queries.enabled": True, "queries.channels.phone.per_1000_accounts_per_day": rate,
            "queries.reason_scale": {reason: scale}, "queries.credit_share": 0.5}
    if team_setup["teams.enabled"]:
        over.pop("team.collectors")
    test_conservation.test_money_is_conserved_every_day.hypothesis.inner_test(over)


def test_backlog_and_sla_by_channel_agree_with_the_query_table():
    over = {**BUSY, "team.collectors": 1, "queries.channels.phone.per_1000_accounts_per_day": 100,
            "queries.channels.phone.sla_minutes": 30}
    r = simulate(small_scenario("baseline", over))
    q, ch = r.queries, r.query_channels
    w0, days = r.scenario.warmup_days, r.scenario.warmup_days + r.scenario.horizon_days
    assert list(ch["channel"]) == ["phone", "mailbox", "portal"]
    for _, row in ch.iterrows():  # the backlog counted query by query, evening by evening
        g = q[q["channel"] == row["channel"]]
        left = np.where(g["escalated"], g["arrived"] + g["wait_minutes"] / 1440, g["picked"].fillna(np.inf))
        counts = [((g["arrived"] <= e) & (left > e)).sum() for e in np.arange(w0, days) + 0.99]
        assert row["mean_backlog"] == pytest.approx(np.mean(counts))
    window = q[q["arrived"] >= w0]
    assert r.kpis["inbound_sla_pct"] == pytest.approx(window["sla_met"].mean() * 100)
    assert ch["arrived"].sum() == len(window)


def test_account_items_kept_sorted_day_by_day_match_a_full_sort():
    """The desk keeps yesterday's order of open items and places each day's new ones; every lookup must
    give what a scan of the book gives: the account's open items, latest issue day first, ties in
    ledger order (items closed during the day drop out)."""
    sim = Simulation(small_scenario("enterprise", {"portfolio.accounts": 300, "horizon_days": 40, "warmup_days": 30}))
    desk, inv, ledger = sim.queries, sim.inv, sim.ledger
    accounts = np.arange(len(sim.accounts))
    for t in np.arange(1, sim.days, 1.0) + 0.5:
        sim.env.run(until=t)
        rows = np.flatnonzero(ledger.open[:ledger.n] > 0)
        for a in accounts[int(t) % 7::7].tolist():
            mine = rows[inv.account[rows] == a]
            expected = mine[np.lexsort((mine, -inv.issue_day[mine]))].tolist()
            assert desk.account_items(a, t) == expected
    assert desk._latest is not None and len(desk._by_account) > 100

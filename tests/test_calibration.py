"""Calibration: the fitting parts on synthetic data, and the IBM sample's targets by simulation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from o2c_sim.calibration import scenario_fit as cb
from o2c_sim.cli import main
from o2c_sim.data.importer import load_ledger
from o2c_sim.scenario import load_scenario

# ------------------------------------------------------------------------------------ fitting parts


def test_beta_binomial_prior_recovers_the_prior_and_shrinks_small_customers():
    rng = np.random.default_rng(1)
    n = rng.integers(5, 60, 3000)
    k = rng.binomial(n, rng.beta(2.0, 6.0, len(n)))
    a, b = cb.beta_binomial_prior(k, n)
    assert a / (a + b) == pytest.approx(0.25, abs=0.01)
    assert a + b == pytest.approx(8.0, rel=0.15)
    history = pd.DataFrame({"customer_id": ["few"] * 2 + ["many"] * 40 + [f"x{i}" for i in range(60)],
                            "late": [True] * 2 + [True] * 40 + [False] * 60})
    cust, (a, b) = cb.customer_lateness(history)
    pooled = a / (a + b)
    # both are always late; the one with 2 invoices is pulled much further toward the pooled mean
    assert pooled < cust.loc["few", "shrunk_rate"] < cust.loc["many", "shrunk_rate"] < 1.0
    assert cust.loc["few", "shrunk_rate"] == pytest.approx((2 + a) / (2 + a + b))


def test_kmeans_1d_labels_are_ordered_by_centre():
    x = np.array([0.9, 0.05, 0.5, 0.95, 0.0, 0.45, 0.1])
    assert cb.kmeans_1d(x, 3).tolist() == [2, 0, 1, 2, 0, 1, 0]
    assert cb.kmeans_1d(np.zeros(4), 3).tolist() == [0, 0, 0, 0]


def test_invoice_hazard_is_the_discrete_time_life_table():
    """With one segment and no frailty, each band's fitted hazard is the grouped life-table hazard:
    1 − exp(−h) = payments in the band ÷ item-days at risk in it (the binomial MLE of a constant daily
    probability), with the item-days counted here by hand from the delays (an independent count)."""
    delays = np.array([-3] * 10 + [-1] * 20 + [0] * 30 + [2] * 25 + [5] * 15 + [12] * 5)
    table = _table(delays, np.zeros(len(delays), bool), "paper")
    table["segment"] = "all"
    fit = cb.fit_invoice_hazard(table, weekmask="Mon Tue Wed Thu Fri Sat Sun")
    base = fit.baseline.set_index("left_edge")
    edges = list(cb.INVOICE_BANDS) + [10**6]
    for lo, hi in zip(edges, edges[1:]):
        days = np.arange(max(lo, -30), min(hi, 100))
        at_risk = int((days[None, :] <= delays[:, None]).sum())  # issued 30 days before due, open until paid
        paid = int(((delays >= lo) & (delays < hi)).sum())
        if paid:
            assert base.loc[lo, "at_risk"] == at_risk and base.loc[lo, "events"] == paid
            assert 1 - np.exp(-base.loc[lo, "daily"]) == pytest.approx(paid / at_risk, rel=1e-5)
        elif at_risk:  # no payment in the band: half an event per item-day, the rule of three as bound
            assert base.loc[lo, "daily"] == pytest.approx(0.5 / at_risk)
    assert fit.frailty_variance == 0.0


def test_nearest_terms():
    assert [cb.nearest_terms(d) for d in (1, 20, 30, 31, 38, 100)] == [7, 14, 30, 30, 45, 60]


def _table(delays, disputed, channel) -> pd.DataFrame:
    n = len(delays)
    inv = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) % 300, unit="D")
    due = inv + pd.Timedelta(days=30)
    return pd.DataFrame({"invoice_id": [str(i) for i in range(n)], "customer_id": [f"C{i % 7}" for i in range(n)],
                         "invoice_date": inv, "due_date": due, "amount": 100.0,
                         "paid_date": due + pd.to_timedelta(delays, unit="D"), "disputed": disputed, "channel": channel})


def test_compare_identical_tables_and_known_differences():
    rng = np.random.default_rng(3)
    n = 4000
    disputed = rng.random(n) < 0.25
    channel = np.where(rng.random(n) < 0.5, "paper", "electronic")
    delays = np.where(disputed, rng.integers(-5, 20, n), rng.integers(-20, 5, n))
    table = _table(delays, disputed, channel)
    same = cb.compare(table, table)
    assert same["ks_days_late"]["simulated"] == 0.0
    assert all(v["difference"] in (0.0, None) for k, v in same.items() if k != "ks_days_late")
    later = _table(delays + 3, disputed, channel)
    cmp = cb.compare(table, later)
    h = cb.payment_history(table)
    assert cmp["p_late_disputed"]["history"] == pytest.approx(h.loc[h["disputed"], "late"].mean())
    assert cmp["mean_days_late"]["difference"] > 0
    assert cmp["ks_days_late"]["simulated"] == pytest.approx(
        stats.ks_2samp(h["days_late"], cb.payment_history(later)["days_late"]).statistic)
    assert {"late_rate_paper", "late_rate_electronic"} <= set(cmp)
    assert "late_rate" in cb.comparison_table(cmp)


def test_calibration_needs_paid_history():
    table = _table(np.zeros(10, int), np.zeros(10, bool), "paper")
    with pytest.raises(cb.UserError, match="at least"):
        cb.calibrate(table)
    with pytest.raises(cb.UserError, match="paid_date"):
        cb.calibrate(table.drop(columns="paid_date"))


# -------------------------------------------------------------------------------------- IBM sample

TARGET_ACCOUNTS, TARGET_REPLICATIONS = 1000, 2  # ≈ 44k simulated invoices: figures stable to ~0.5 pp


@pytest.fixture(scope="module")
def ibm_fit(ibm_csv):
    return cb.calibrate(load_ledger(ibm_csv, "ibm_ar"), name="ibm_calibrated")


@pytest.fixture(scope="module")
def ibm_simulated(ibm_fit):
    return cb.simulated_history(ibm_fit.scenario, replications=TARGET_REPLICATIONS, accounts=TARGET_ACCOUNTS)


def test_ibm_scenario_switches_collection_off(ibm_fit):
    sc = ibm_fit.scenario
    assert sc.calendar.weekmask == "Mon Tue Wed Thu Fri Sat Sun"  # the sample settles on weekends
    assert not sc.dunning.enabled and sc.team.collectors == 0
    assert {s.channel for s in sc.portfolio.segments} == {"paper", "electronic"}
    assert len(sc.portfolio.segments) == 6
    for seg in sc.portfolio.segments:
        b = seg.behaviour
        assert seg.terms_days == 30
        assert b.silent_share == b.partial_payment_rate == b.insolvency_rate_annual == 0
        assert b.hazard.bands == list(cb.INVOICE_BANDS) and all(h > 0 for h in b.hazard.daily)
        assert b.hazard.disputed_multiplier < 1  # disputed invoices pay more slowly in every segment
        # every fitted value carries its interval and source
        prov = ibm_fit.provenance[f"portfolio.segments.{seg.name}.behaviour.hazard.disputed_multiplier"]
        assert prov["ci95"][0] < b.hazard.disputed_multiplier < prov["ci95"][1] and "invoice history" in prov["source"]
    assert sum(s.share for s in sc.portfolio.segments) == pytest.approx(1.0, abs=1e-9)
    rates = ibm_fit.segments.groupby("cluster")["late_rate"].mean()
    assert rates["prompt"] < rates["average"] < rates["late"]


def test_ibm_survival(ibm_fit):
    surv = ibm_fit.survival
    assert surv["open"] == 0 and surv["invoices"] == 2466
    assert surv["median_days_to_pay"]["all"] == 26  # SOURCE.md: DaysToSettle median 26
    assert surv["median_days_to_pay"]["disputed"] > surv["median_days_to_pay"]["undisputed"]
    for covariate in ("disputed", "paper"):  # both slow payment down: hazard ratio below 1
        hr = surv["cox"][covariate]
        assert hr["ci95"][0] < hr["hazard_ratio"] < hr["ci95"][1] < 1.0


def test_ibm_simulation_reproduces_the_history(ibm_fit, ibm_simulated):
    cmp = cb.compare(ibm_fit.history, ibm_simulated)
    assert cmp["late_rate"]["history"] == pytest.approx(0.356, abs=0.0005)
    assert cmp["late_rate"]["simulated"] == pytest.approx(0.356, abs=0.02)
    assert cmp["ks_days_late"]["simulated"] <= 0.05
    assert cmp["p_late_disputed"]["simulated"] == pytest.approx(0.683, abs=0.05)
    assert cmp["p_late_undisputed"]["simulated"] == pytest.approx(0.259, abs=0.05)
    assert cmp["late_rate_paper"]["simulated"] == pytest.approx(0.432, abs=0.05)
    assert cmp["late_rate_electronic"]["simulated"] == pytest.approx(0.275, abs=0.05)


def test_ibm_report_and_scenario_files(ibm_fit, ibm_simulated, tmp_path):
    cmp = cb.compare(ibm_fit.history, ibm_simulated)
    out = cb.write_report(tmp_path / "report", ibm_fit, cmp, ibm_simulated, simulation={"accounts": TARGET_ACCOUNTS})
    fit = json.loads((out / "fit.json").read_text())
    assert fit["survival"]["cox"]["disputed"]["hazard_ratio"] < 1
    assert fit["comparison"]["ks_days_late"]["simulated"] <= 0.05
    assert fit["caveats"] and fit["shrinkage"]["prior_a"] > 0
    assert fit["hazard"]["baseline"] and all(p["ci95"][0] <= p["estimate"] <= p["ci95"][1] for p in fit["provenance"].values())
    assert {p.name for p in out.glob("*.html")} == {"days_late.html", "late_rates.html", "time_to_pay.html", "customers.html"}
    with pytest.raises(cb.UserError, match="already exists"):
        cb.write_report(out, ibm_fit, cmp, ibm_simulated)
    path = cb.write_scenario(tmp_path / "ibm.yaml", ibm_fit.scenario)
    assert load_scenario(path) == ibm_fit.scenario
    # the scenario file itself shows where each fitted value came from
    assert load_scenario(path).provenance.keys() == ibm_fit.provenance.keys() and ibm_fit.provenance
    with pytest.raises(cb.UserError, match="never overwritten"):
        cb.write_scenario(path, ibm_fit.scenario)


def test_cli_calibrate(ibm_csv, tmp_path, capsys):
    out, report = tmp_path / "cal.yaml", tmp_path / "rep"
    args = ["calibrate", str(ibm_csv), "--mapping", "ibm_ar", "--out", str(out), "--report", str(report),
            "--accounts", "200", "--replications", "1"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "ks_days_late" in text and "p_late_disputed" in text and "68.3%" in text
    assert out.exists() and (report / "fit.json").exists()
    assert main(args) == 2  # never overwrites
    err = capsys.readouterr().err
    assert "already exists" in err and "Traceback" not in err
    assert main(["calibrate", str(ibm_csv), "--out", str(tmp_path / "x.yaml")]) == 2  # no mapping
    assert "--mapping" in capsys.readouterr().err


# ----------------------------------------------------------------------------------- activity log


def test_cli_calibrate_from_an_activity_log(tmp_path, capsys):
    from o2c_sim.sim.model import simulate

    truth = load_scenario("baseline", {"portfolio.accounts": 120, "horizon_days": 200, "warmup_days": 40})
    res = simulate(truth)
    log = tmp_path / "log.parquet"
    res.activities.to_parquet(log)
    out, report = tmp_path / "cal.yaml", tmp_path / "rep"
    args = ["calibrate", "--activities", str(log), "--out", str(out), "--report", str(report),
            "--accounts", "120", "--replications", "1"]
    assert main(args) == 0  # no HISTORY: the log's issued rows carry amounts and due dates
    text = capsys.readouterr().out
    assert "effects.contact.multiplier" in text and "share paid by 30 days past due" in text
    sc = load_scenario(out)
    assert sc.portfolio.segments[0].name == "all"  # no invoice table: one segment
    # the base has silent payers; the fitted frailty variance already holds them, so they are not added again
    assert truth.portfolio.segments[0].behaviour.silent_share > 0
    assert all(s.behaviour.silent_share == 0 for s in sc.portfolio.segments) and "silent payers" in text
    prov = sc.provenance["portfolio.segments.all.behaviour.hazard.effects.contact.multiplier"]
    assert prov.ci95[0] <= sc.portfolio.segments[0].behaviour.hazard.effects.contact.multiplier <= prov.ci95[1]
    assert sc.provenance["dunning.steps.1.days_past_due"].source.startswith("activity log")
    fit = json.loads((report / "fit.json").read_text())
    assert fit["hazard"]["effects"] and fit["payment_curves"]["simulated"] and fit["identification"]
    assert (report / "payment_curves.html").exists()
    # a bad row is named, nothing is written
    bad = res.activities.astype({"kind": str})
    bad.loc[5, "kind"] = "phone call"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    assert main(["calibrate", "--activities", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "b.yaml")]) == 2
    err = capsys.readouterr().err
    # the row as the file numbers it (header = line 1), the field and the value (reader or importer alike)
    assert "phone call" in err and "kind" in err and " 7" in err and "Traceback" not in err
    assert not (tmp_path / "b.yaml").exists()
    assert main(["calibrate", "--out", str(tmp_path / "c.yaml")]) == 2
    assert "HISTORY" in capsys.readouterr().err

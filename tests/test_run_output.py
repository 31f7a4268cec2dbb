"""What `o2c-sim run` shows a person (headline, grouped labelled table, currency, explained terms) and a
program (`--json`), and the bounded confidence intervals behind both."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from o2c_sim.cli import main
from o2c_sim.kpis import CATALOGUE, GROUPS, RUN_KPIS, bounded_mean_ci95, kpi_mean_ci95, mean_ci95
from o2c_sim.sim.results import KPI_UNITS

SMALL = ["--set", "portfolio.accounts=120", "--set", "horizon_days=92", "--set", "warmup_days=62", "-r", "3", "-q"]


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    """(table output, --json output) of one small run in US dollars."""
    import contextlib
    import io

    outs = []
    for extra in ([], ["--json"]):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            code = main(["run", "baseline", *SMALL, "--set", "currency=USD", *extra,
                         "--out", str(tmp_path_factory.mktemp("run") / "out")])
        assert code == 0
        outs.append(buf.getvalue())
    return outs


def test_table_has_headline_groups_labels_currency_and_explanations(printed):
    text, _ = printed
    first = " ".join(text.split("\n\n")[0].split())
    assert first.startswith("baseline: DSO averaged ") and "past-due accounts were called within 2 business days" in first
    assert first.rstrip().endswith(".")
    for heading in ("Cash and DSO", "Aging and bad debt", "Team and coverage", "Disputes"):
        assert f"\n{heading}\n" in text
    rows = {line.strip().split("  ")[0]: line for line in text.splitlines() if line.startswith("  ")}
    for key in RUN_KPIS:
        kpi = CATALOGUE[key]
        if kpi.group == "levers":  # reported only when their lever is on (fees, credit holds)
            assert kpi.label not in rows, key
            continue
        assert kpi.label in rows, key
        assert kpi.meaning in rows[kpi.label]
        if kpi.unit == "money":
            assert " USD " in rows[kpi.label]
    assert "money" not in text and "EUR" not in text
    assert "warm-up" in text and "seed" in text and "confidence interval" in text and "logit" in text
    # the codes are for programs only
    assert "bpdso" not in text and "rpc_per_day" not in text


def test_no_interval_leaves_the_kpi_range(printed):
    _, js = printed
    data = json.loads(js)
    assert data["currency"] == "USD" and data["units"]["dso"] == "days" and data["units"]["write_offs"] == "money"
    assert len(data["replications"]) == 3 and "logit" in data["ci95_method"]
    for key, (lo, hi) in data["ci95"].items():
        kpi = CATALOGUE[key]
        if lo is None:
            continue
        assert kpi.lower is None or lo >= kpi.lower, key
        assert kpi.upper is None or hi <= kpi.upper, key
        assert lo <= data["mean"][key] <= hi, key
    # the bounds are true of the simulation, not only of the intervals: every replication is inside them
    for rep in data["replications"]:
        for key, value in rep.items():
            kpi = CATALOGUE.get(key)
            if kpi and value is not None:
                assert (kpi.lower is None or value >= kpi.lower) and (kpi.upper is None or value <= kpi.upper), (key, value)


def test_catalogue_is_the_one_table():
    assert list(KPI_UNITS) == list(RUN_KPIS)
    assert {k.group for k in CATALOGUE.values()} <= set(GROUPS)
    for kpi in CATALOGUE.values():
        assert kpi.better in (-1, 0, 1) and kpi.label and kpi.meaning
        assert kpi.unit != "%" or (kpi.lower, kpi.upper) == (0.0, 100.0), kpi.key
        # a net benefit and an exchange gain or loss may be negative; other money, days and counts may not
        assert kpi.unit not in ("money", "days", "count") or kpi.key in ("net_benefit", "fx_revaluation", "fx_realised") or kpi.lower == 0.0, kpi.key


def _t_interval(x):
    """The textbook Student-t interval, written out independently of o2c_sim."""
    x = np.asarray(x, float)
    half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return x.mean() - half, x.mean() + half


def test_bounded_interval_agrees_with_student_t_far_from_the_bound():
    rng = np.random.default_rng(1)
    x = rng.normal(40.0, 1.0, size=10)  # DSO-like: far from 0 relative to its spread
    m, lo, hi = bounded_mean_ci95(x, lower=0)
    tlo, thi = _t_interval(x)
    assert m == pytest.approx(x.mean())
    assert lo == pytest.approx(tlo, abs=0.01) and hi == pytest.approx(thi, abs=0.01)
    p = rng.normal(50.0, 1.0, size=10)  # a percentage in the middle of [0, 100]
    _, lo, hi = bounded_mean_ci95(p, 0, 100)
    tlo, thi = _t_interval(p)
    assert lo == pytest.approx(tlo, abs=0.01) and hi == pytest.approx(thi, abs=0.01)


def test_bounded_interval_stays_inside_near_the_bound_where_student_t_does_not():
    write_offs = [0.0, 0.0, 427.0]
    assert _t_interval(write_offs)[0] < 0  # the old interval went negative
    m, lo, hi = kpi_mean_ci95("write_offs", write_offs)
    assert 0 < lo < m < hi
    # log scale: the interval is symmetric around the mean in ratio, exp(±t·se/m)
    assert math.log(m / lo) == pytest.approx(math.log(hi / m))
    pct = [99.5, 100.0, 98.0]
    _, lo, hi = kpi_mean_ci95("coverage_pct", pct)
    assert _t_interval(pct)[1] > 100 and 0 < lo < hi < 100
    assert kpi_mean_ci95("write_offs", [0.0, 0.0]) == (0.0, 0.0, 0.0)
    # a difference has no bound: plain Student-t
    assert mean_ci95([-1.0, 2.0, 0.5])[1:] == pytest.approx(_t_interval([-1.0, 2.0, 0.5]))


def test_bounded_interval_covers_as_often_as_it_claims():
    """Coverage of the true mean by the log-scale interval, skewed non-negative data (gamma, CV 0.5),
    10 replications: 95 % nominal; 2,000 trials give a binomial standard error of 0.5 pp."""
    rng = np.random.default_rng(7)
    shape, scale = 4.0, 2.5  # mean 10
    hits = 0
    trials = 2000
    for _ in range(trials):
        _, lo, hi = bounded_mean_ci95(rng.gamma(shape, scale, size=10), lower=0)
        hits += lo <= shape * scale <= hi
    assert 0.93 <= hits / trials <= 0.97


def test_a_warm_start_from_ledger_ids_that_look_simulated_keeps_every_id_unique():
    """A real ledger numbered like the simulator (INV0000001…, rebills …-R1) must not clash with the
    invoices the simulation issues after the as-of date."""
    import datetime as dt

    from o2c_sim.sim.model import simulate
    from o2c_sim.scenario import load_scenario
    from o2c_sim.calibration.warmstart import opening_book

    n = 40
    days = pd.to_datetime("2026-01-01") + pd.to_timedelta(np.arange(n), unit="D")
    table = pd.DataFrame({
        "invoice_id": [f"INV{k + 50:07d}" for k in range(n - 1)] + ["INV0000053-R1"],
        "customer_id": [f"C{k % 7}" for k in range(n)],
        "invoice_date": days, "due_date": days + pd.Timedelta(days=30), "amount": 100.0 + np.arange(n),
        "paid_date": pd.NaT, "paid_amount": 0.0, "disputed": [k % 9 == 0 for k in range(n)],
    })
    book = opening_book(table, dt.date(2026, 2, 15), load_scenario("baseline"))
    result = simulate(load_scenario("baseline", {"horizon_days": 90}), opening=book)
    ids = result.invoices["invoice_id"]
    assert ids.is_unique and len(ids) > n
    assert set(table["invoice_id"]) <= set(ids)
    assert set(result.events["invoice_id"].dropna()) - {""} <= set(ids)

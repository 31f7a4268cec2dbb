"""Figures of simulation results (shared by notebooks and dashboards), paired comparisons and the
notebook parameter checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from o2c_sim.experiments.comparison import compare_runs, comparison_table, kpi_table
from o2c_sim.errors import UserError
from o2c_sim.experiments.replications import run_replications
from o2c_sim.present.figures import simulation as F
from o2c_sim.present.notebook_params import absolute_paths, default_as_of, validate

from conftest import small_scenario


@pytest.fixture(scope="module")
def runs():
    sc = small_scenario(overrides={"horizon_days": 120, "warmup_days": 60})
    return {"base": run_replications(sc, 2),
            "largest": run_replications(sc.with_overrides({"strategy.prioritisation": "largest_balance"}), 2)}


def test_simulation_figures(runs):
    reps = runs["base"]
    w0 = reps.scenario.warmup_days
    daily, events = reps.stacked("daily"), reps.stacked("events")
    figs = {
        "aging": F.aging_stack(daily, from_day=w0),
        "aging_share": F.aging_stack(reps, share=True),
        "trend": F.kpi_trend(reps, ["dso", "cei"], targets={"dso": 45}),
        "cash": F.cash_per_week(daily, from_day=w0),
        "utilisation": F.utilisation(reps.kpi_frame()),
        "disputes": F.dispute_backlog(daily, events, sla_business_days=10, from_day=w0),
    }
    for name, fig in figs.items():
        assert isinstance(fig, go.Figure) and fig.data, name
    assert [t.name for t in figs["aging"].data] == ["Current", "1–30", "31–60", "61–90", "90+"]
    assert figs["aging"].data[0].x.min() >= daily.loc[daily["day"] >= w0, "date"].min()
    # the stacked shares add up to 100 %
    total = sum(np.asarray(t.y, float) for t in figs["aging_share"].data)
    assert np.allclose(total[np.isfinite(total)], 100)
    weeks = F.weekly_cash(daily, from_day=w0)
    assert (weeks.groupby("week").size() == 2).all()  # both replications, complete weeks only


def test_mean_band():
    frame = pd.DataFrame({"x": [1, 1, 1, 2], "y": [1.0, 2.0, 3.0, 5.0]})
    b = F.mean_band(frame, "x", "y").set_index("x")
    assert b.loc[1, "mean"] == 2.0 and b.loc[1, "lo"] == pytest.approx(2 - 4.302653 / np.sqrt(3))
    assert b.loc[2, "lo"] == b.loc[2, "hi"] == 5.0  # one replication: no interval
    r = F.mean_band(frame, "x", "y", band="range", bounds=(1.5, None)).set_index("x")
    assert r.loc[1, "lo"] == 1.5 and r.loc[1, "hi"] == 3.0


def test_paired_comparison_and_figures(runs):
    summary, diffs = compare_runs(runs)
    assert list(summary["scenario"]) == ["base", "largest"]
    d = diffs[diffs["kpi"] == "dso"].iloc[0]
    per_rep = runs["largest"].kpi_frame()["dso"] - runs["base"].kpi_frame()["dso"]
    assert d["diff_mean"] == pytest.approx(per_rep.mean())
    table = comparison_table(summary, diffs, ["dso", "cei"])
    assert list(table.columns) == ["unit", "base", "largest", "Δ largest"] and list(table.index) == ["dso", "cei"]
    assert isinstance(F.strategy_comparison(diffs, ["dso", "cei"]), go.Figure)
    assert isinstance(F.kpi_means(summary, ["dso", "cei"]), go.Figure)
    kt = kpi_table(runs["base"].summary())
    assert kt.loc["dso", "unit"] == "days" and kt.loc["dso", "ci95_lo"] <= kt.loc["dso", "mean"] <= kt.loc["dso", "ci95_hi"]


def test_worked_example_paired_difference():
    """Baseline DSO 50, 52, 54 and alternative 47, 50, 50 → Δ −3.0 [−5.48, −0.52] (comparison docstring)."""
    base = pd.DataFrame({"replication": [0, 1, 2], "dso": [50.0, 52.0, 54.0]})
    alt = pd.DataFrame({"replication": [0, 1, 2], "dso": [47.0, 50.0, 50.0]})
    _, diffs = compare_runs({"base": base, "alt": alt})
    d = diffs.iloc[0]
    assert (round(d["diff_mean"], 2), round(d["diff_lo"], 2), round(d["diff_hi"], 2)) == (-3.0, -5.48, -0.52)


def test_staffing_curve_from_a_sweep_summary():
    summary = pd.DataFrame({"cell": [0, 1, 2], "team.collectors": [4, 6, 8], "n": 3,
                            "dso_mean": [50.0, 45.0, 42.0], "dso_lo": [48.0, 43.0, 40.0], "dso_hi": [52.0, 47.0, 44.0]})
    fig = F.staffing_curve(summary, target=46, recommended=6)
    line = [t for t in fig.data if t.mode == "lines+markers"][0]
    assert list(line.x) == [4, 6, 8] and list(line.y) == [50.0, 45.0, 42.0]
    assert any(s.type == "line" and s.x0 == 6 for s in fig.layout.shapes)  # the recommended headcount
    assert any(s.type == "line" and s.y0 == 46 for s in fig.layout.shapes)  # the target


@pytest.mark.parametrize("values, message", [
    ({"replications": "many"}, "parameter 'replications': expected a whole number"),
    ({"replications": True}, "parameter 'replications': expected a whole number"),
    ({"overrides": 5}, "parameter 'overrides': expected a mapping"),
    ({"scenario": "nope.yaml"}, "nope.yaml: file not found"),
    ({"overrides": {"team.colectors": 8}}, "field 'team.colectors': unknown key"),
    ({"seed": 1.5}, "parameter 'seed': expected a whole number"),
    ({"xlsx": "tables.csv"}, "parameter 'xlsx'"),
    ({"bogus": 1}, "unknown parameter(s) 'bogus'"),
])
def test_bad_notebook_parameters(values, message):
    with pytest.raises(UserError) as info:
        validate("run_scenario", {"scenario": "baseline", **values})
    assert message in str(info.value)


def test_parameter_parsing():
    p = validate("staffing_sweep", {"scenario": "baseline", "overrides": "team.collectors=8, strategy.prioritisation=risk_weighted",
                                    "collectors": "4..8:2", "target": "dso ≤ 45", "confidence": "0.9", "xlsx": True})
    assert p.scenario.team.collectors == 8 and p.scenario.strategy.prioritisation == "risk_weighted"
    assert p.collectors == [4, 6, 8] and p.target == "dso<=45" and p.confidence == 0.9
    assert p.xlsx == "staffing_sweep.xlsx"
    with pytest.raises(UserError, match="alternatives.*'bad'"):
        validate("strategy_comparison", {"scenario": "baseline", "alternatives": {"a": {}, "bad": {"team.colectors": 1}}})
    assert absolute_paths({"scenario": "baseline", "replications": 3}) == {"scenario": "baseline", "replications": 3}


def test_default_as_of():
    table = pd.DataFrame({"invoice_date": pd.to_datetime(["2013-11-01", "2013-12-02"]),
                          "paid_date": pd.to_datetime(["2013-11-20", None])})
    assert default_as_of(table) == pd.Timestamp("2013-12-02")
    assert default_as_of(table, 4) == pd.Timestamp("2013-11-03")  # the Sunday before the last 4 complete weeks

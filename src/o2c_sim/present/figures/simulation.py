"""Figures of simulation results, shared by the notebooks (``notebooks/``) and the dashboards.

Every function takes plain DataFrames — the stacked tables of
:class:`~o2c_sim.experiments.replications.Replications` (``reps.stacked("daily")``, ``reps.stacked("monthly")``,
``reps.stacked("events")``, ``reps.kpi_frame()``), a sweep's summary frame, or the output of
:func:`o2c_sim.experiments.comparison.paired_differences` — and returns a ``plotly.graph_objects.Figure``. A
:class:`~o2c_sim.experiments.replications.Replications` may be passed wherever a stacked table is expected.

Where a table holds several replications (a ``replication`` column), lines show the mean across
replications and shaded bands its Student-t 95 % confidence interval.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from o2c_sim.kpis import CATALOGUE, bounded_mean_ci95

#: aging buckets of the daily table, youngest first, with labels and colours (green → red)
AGING = (
    ("ar_current", "Current", "#2ca02c"),
    ("ar_1_30", "1–30", "#bcbd22"),
    ("ar_31_60", "31–60", "#ff7f0e"),
    ("ar_61_90", "61–90", "#d62728"),
    ("ar_over_90", "90+", "#7f1d1d"),
)

#: readable KPI names for axis titles (from the one KPI table)
KPI_LABELS = {key: kpi.label for key, kpi in CATALOGUE.items()}

BAND = "rgba(31, 119, 180, 0.18)"
LINE = "#1f77b4"
TEMPLATE = "plotly_white"


def label_of(kpi: str) -> str:
    """``'DSO (days)'`` — a KPI's readable name with its unit."""
    entry = CATALOGUE.get(kpi)
    unit = entry.unit if entry else None
    name = entry.label if entry else kpi.replace("_", " ")
    return f"{name} ({unit})" if unit and unit not in ("count",) else name


def _bounds(kpi: str) -> tuple[float | None, float | None]:
    """The KPI's possible range from the one KPI table (unbounded for anything else, e.g. differences)."""
    entry = CATALOGUE.get(kpi)
    return (entry.lower, entry.upper) if entry else (None, None)


def _table(obj, attribute: str) -> pd.DataFrame:
    if hasattr(obj, "stacked"):
        return obj.stacked(attribute)
    return pd.DataFrame(obj)


def _kpis(obj) -> pd.DataFrame:
    return obj.kpi_frame() if hasattr(obj, "kpi_frame") else pd.DataFrame(obj)


def mean_band(frame: pd.DataFrame, by: str, value: str, *, band: str = "ci",
              bounds: tuple[float | None, float | None] = (None, None)) -> pd.DataFrame:
    """Mean of ``value`` per ``by`` across rows (replications) with a band.

    ``band="ci"``: the 95 % confidence interval of the mean, Student-t, within ``bounds`` — the
    quantity's possible range, e.g. ``(0, 100)`` for a percentage — as
    :func:`o2c_sim.kpis.bounded_mean_ci95` (the interval the KPI tables show); ``band="range"``: the
    lowest and highest replication (how much one replication varies — better for noisy daily series).
    Returns columns ``by, mean, lo, hi, n``; with one replication lo = hi = mean.
    """
    g = frame.groupby(by, sort=True)[value]
    out = pd.DataFrame({"mean": g.mean(), "sd": g.std(ddof=1), "n": g.count()})
    if band == "range":
        out["lo"], out["hi"] = g.min(), g.max()
    elif band == "ci":
        cis = [bounded_mean_ci95(g.get_group(k).tolist(), *bounds) for k in out.index]
        out["lo"], out["hi"] = [c[1] for c in cis], [c[2] for c in cis]
    else:
        raise ValueError(f"band must be 'ci' or 'range', got {band!r}")
    out[["lo", "hi"]] = out[["lo", "hi"]].clip(lower=bounds[0], upper=bounds[1])
    return out.drop(columns="sd").reset_index()


def _band_traces(fig: go.Figure, x, lo, hi, *, name: str, color: str = BAND, row=None, col=None, secondary_y=None) -> None:
    kw = {} if row is None else {"row": row, "col": col}
    if secondary_y is not None:
        kw["secondary_y"] = secondary_y
    fig.add_trace(go.Scatter(x=x, y=hi, mode="lines", line={"width": 0}, hoverinfo="skip", showlegend=False,
                             legendgroup=name), **kw)
    fig.add_trace(go.Scatter(x=x, y=lo, mode="lines", line={"width": 0}, fill="tonexty", fillcolor=color,
                             hoverinfo="skip", name=f"{name} 95% CI", legendgroup=name, showlegend=False), **kw)


def _finish(fig: go.Figure, title: str, height: int | None = None) -> go.Figure:
    fig.update_layout(title=title, template=TEMPLATE, hovermode="x unified", margin={"l": 60, "r": 30, "t": 60, "b": 40},
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1})
    if height:
        fig.update_layout(height=height)
    return fig


# ----------------------------------------------------------------------------------------- aging


def aging_stack(daily, *, share: bool = False, from_day: int | None = None,
                title: str = "Receivables by aging bucket") -> go.Figure:
    """Stacked area of AR by aging bucket (days past due) over time, mean across replications.

    ``share=True`` shows each bucket as % of total AR. ``from_day`` drops the warm-up
    (the daily table's ``day`` column counts from the start of warm-up).
    """
    d = _table(daily, "daily")
    if from_day is not None and "day" in d:
        d = d[d["day"] >= from_day]
    cols = [c for c, _, _ in AGING if c in d]
    mean = d.groupby("date")[cols].mean().sort_index()
    if share:
        total = mean.sum(axis=1).replace(0, np.nan)
        mean = mean.div(total, axis=0) * 100
    fig = go.Figure()
    for col, name, color in AGING:
        if col not in mean:
            continue
        fig.add_trace(go.Scatter(x=mean.index, y=mean[col], name=name, mode="lines", stackgroup="ar",
                                 line={"width": 0.5, "color": color}, fillcolor=color,
                                 hovertemplate="%{y:,.0f}" + ("%" if share else "")))
    fig.update_yaxes(title="% of AR" if share else "AR (ledger currency)", rangemode="tozero")
    fig.update_xaxes(title="date")
    return _finish(fig, title)


# ----------------------------------------------------------------------------------------- trends


def kpi_trend(monthly, kpis: Sequence[str] = ("dso", "cei"), *, targets: dict[str, float] | None = None,
              title: str = "Monthly KPIs (mean and 95% CI across replications)") -> go.Figure:
    """One panel per KPI of the monthly series: mean across replications with a 95 % CI band.

    ``targets`` maps a KPI to a target value drawn as a dashed line (e.g. ``{"dso": 45}``).
    """
    m = _table(monthly, "monthly")
    kpis = [k for k in kpis if k in m]
    if not kpis or m.empty:  # a short scenario: say what cannot be shown instead of failing the report
        fig = go.Figure()
        fig.add_annotation(text="No complete month in the measurement window: monthly KPIs need a horizon that "
                                "covers at least one calendar month after the warm-up.",
                           showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        return _finish(fig, title, height=200)
    fig = make_subplots(rows=len(kpis), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=[label_of(k) for k in kpis])
    for i, key in enumerate(kpis, start=1):
        b = mean_band(m, "month", key, bounds=_bounds(key))
        _band_traces(fig, b["month"], b["lo"], b["hi"], name=key, row=i, col=1)
        fig.add_trace(go.Scatter(x=b["month"], y=b["mean"], mode="lines+markers", name=KPI_LABELS.get(key, key),
                                 line={"color": LINE}, customdata=np.c_[b["lo"], b["hi"]],
                                 hovertemplate="%{y:,.2f} [%{customdata[0]:,.2f}, %{customdata[1]:,.2f}]"),
                      row=i, col=1)
        if targets and key in targets:
            fig.add_hline(y=targets[key], line_dash="dash", line_color="#d62728", row=i, col=1,
                          annotation_text=f"target {targets[key]:g}", annotation_position="top left")
        fig.update_yaxes(title=CATALOGUE[key].unit if key in CATALOGUE else "", row=i, col=1)
    fig.update_layout(showlegend=False)
    return _finish(fig, title, height=260 * len(kpis) + 80)


# ------------------------------------------------------------------------------------------- cash


def weekly_cash(daily, *, from_day: int | None = None) -> pd.DataFrame:
    """Cash collected per calendar week (weeks ending Sunday) per replication; partial first/last weeks dropped."""
    d = _table(daily, "daily")
    if from_day is not None and "day" in d:
        d = d[d["day"] >= from_day]
    if "replication" not in d:
        d = d.assign(replication=0)
    d = d.assign(week=d["date"].dt.to_period("W-SUN").dt.start_time)
    g = d.groupby(["replication", "week"]).agg(cash=("cash", "sum"), days=("date", "size")).reset_index()
    return g[g["days"] == 7].drop(columns="days")


def cash_per_week(daily, *, from_day: int | None = None, title: str = "Cash collected per week") -> go.Figure:
    """Bars: mean weekly cash across replications, with 95 % CI error bars."""
    w = weekly_cash(daily, from_day=from_day)
    b = mean_band(w, "week", "cash", bounds=(0, None))
    fig = go.Figure(go.Bar(x=b["week"], y=b["mean"], name="cash", marker_color=LINE,
                           error_y={"type": "data", "symmetric": False, "array": b["hi"] - b["mean"],
                                    "arrayminus": b["mean"] - b["lo"]},
                           hovertemplate="week of %{x|%Y-%m-%d}: %{y:,.0f}<extra></extra>"))
    overall = b["mean"].mean() if len(b) else np.nan
    if np.isfinite(overall):
        fig.add_hline(y=overall, line_dash="dot", line_color="#555", annotation_text=f"average {overall:,.0f}")
    fig.update_yaxes(title="cash (ledger currency)", rangemode="tozero")
    fig.update_xaxes(title="week starting")
    return _finish(fig, title)


# --------------------------------------------------------------------------------------- capacity


def utilisation(kpis, columns: Sequence[str] = ("collector_utilisation", "coverage_pct", "inbound_sla_pct",
                                                 "dispute_sla_pct"),
                *, title: str = "Capacity: utilisation, coverage and service levels") -> go.Figure:
    """Percent KPIs about capacity as bars (mean, 95 % CI error bars) with each replication as a dot."""
    k = _kpis(kpis)
    columns = [c for c in columns if c in k and k[c].notna().any()]
    means, los, his = [], [], []
    for c in columns:
        b = mean_band(k.assign(_all=0), "_all", c, bounds=(0, 100)).iloc[0]
        means.append(b["mean"]), los.append(b["lo"]), his.append(b["hi"])
    names = [KPI_LABELS.get(c, c) for c in columns]
    fig = go.Figure(go.Bar(x=names, y=means, name="mean", marker_color=LINE, opacity=0.8,
                           error_y={"type": "data", "symmetric": False, "array": np.subtract(his, means),
                                    "arrayminus": np.subtract(means, los)},
                           hovertemplate="%{x}: %{y:.1f}%<extra></extra>"))
    for c, n in zip(columns, names):
        fig.add_trace(go.Scatter(x=[n] * len(k), y=k[c], mode="markers", name="replications",
                                 marker={"color": "#333", "size": 6}, showlegend=c == columns[0],
                                 hovertemplate="%{y:.1f}%<extra>replication</extra>"))
    fig.update_yaxes(title="%", range=[0, 105])
    fig = _finish(fig, title)
    fig.update_layout(hovermode="closest")
    return fig


def dispute_sla_by_month(events, *, sla_business_days: int = 10, weekmask: str = "Mon Tue Wed Thu Fri",
                         holidays: Iterable = ()) -> pd.DataFrame:
    """% of disputes closed within the SLA (business days from opening), by month of closing and replication."""
    e = _table(events, "events")
    if "replication" not in e:
        e = e.assign(replication=0)
    key = ["replication", "invoice_id"]
    opened = e[e["kind"] == "dispute_open"].groupby(key)["date"].min().rename("opened")
    closed = e[e["kind"] == "dispute_close"].groupby(key)["date"].max().rename("closed")
    both = pd.concat([opened, closed], axis=1, join="inner").reset_index()
    if both.empty:
        return pd.DataFrame(columns=["replication", "month", "sla_pct", "closed"])
    hol = np.array([np.datetime64(h, "D") for h in holidays], dtype="datetime64[D]")
    bdays = np.busday_count(both["opened"].values.astype("datetime64[D]"), both["closed"].values.astype("datetime64[D]"),
                            weekmask=weekmask, holidays=hol)
    both["within"] = bdays <= sla_business_days
    both["month"] = both["closed"].dt.to_period("M").dt.start_time
    g = both.groupby(["replication", "month"]).agg(sla_pct=("within", "mean"), closed=("within", "size")).reset_index()
    g["sla_pct"] *= 100
    return g


def dispute_backlog(daily, events=None, *, sla_business_days: int = 10, from_day: int | None = None,
                    weekmask: str = "Mon Tue Wed Thu Fri", holidays: Iterable = (), band: str = "range",
                    title: str = "Dispute backlog and SLA") -> go.Figure:
    """Open disputes per day (mean across replications, band = lowest..highest replication, or the
    95 % CI with ``band="ci"``); with ``events``, the monthly % of disputes closed within
    ``sla_business_days`` (mean and 95 % CI) on a second axis."""
    d = _table(daily, "daily")
    if from_day is not None and "day" in d:
        d = d[d["day"] >= from_day]
    fig = make_subplots(specs=[[{"secondary_y": events is not None}]])
    b = mean_band(d, "date", "dispute_backlog", band=band, bounds=(0, None))
    _band_traces(fig, b["date"], b["lo"], b["hi"], name="backlog", secondary_y=False if events is not None else None)
    fig.add_trace(go.Scatter(x=b["date"], y=b["mean"], mode="lines", name="open disputes", line={"color": LINE},
                             hovertemplate="%{y:,.1f} open"), **({"secondary_y": False} if events is not None else {}))
    fig.update_yaxes(title="open disputes", rangemode="tozero", **({"secondary_y": False} if events is not None else {}))
    if events is not None:
        sla = dispute_sla_by_month(events, sla_business_days=sla_business_days, weekmask=weekmask, holidays=holidays)
        if from_day is not None and len(d):
            sla = sla[sla["month"] >= d["date"].min().to_period("M").start_time]
        s = mean_band(sla, "month", "sla_pct", bounds=(0, 100)) if len(sla) else pd.DataFrame(columns=["month", "mean", "lo", "hi"])
        fig.add_trace(go.Scatter(x=s["month"], y=s["mean"], mode="lines+markers", name=f"% within {sla_business_days}-day SLA",
                                 line={"color": "#d62728", "dash": "dot"},
                                 error_y={"type": "data", "symmetric": False, "array": s["hi"] - s["mean"],
                                          "arrayminus": s["mean"] - s["lo"]},
                                 hovertemplate="%{y:.1f}% within SLA"), secondary_y=True)
        fig.update_yaxes(title="% closed within SLA", range=[0, 105], secondary_y=True)
    fig.update_xaxes(title="date")
    return _finish(fig, title)


# --------------------------------------------------------------------------------------- staffing


def staffing_curve(frame: pd.DataFrame, *, x: str = "team.collectors", y: str = "dso", lo: str | None = None,
                   hi: str | None = None, target: float | None = None, recommended: float | None = None,
                   by: str | None = None, title: str | None = None) -> go.Figure:
    """A KPI against headcount: mean line with a 95 % CI band, the target as a dashed line, the
    recommended headcount as a vertical marker.

    ``frame`` is a sweep's summary (one row per headcount with ``{y}_mean/_lo/_hi`` —
    :attr:`o2c_sim.experiments.sweep.SweepResult.summary`), any frame with ``y`` and ``lo``/``hi`` columns, or
    one row per replication and headcount (mean and CI are then computed here). ``by`` draws one line
    per value of another column (e.g. ``strategy.prioritisation``).
    """
    f = pd.DataFrame(frame)
    groups = [(None, f)] if by is None else list(f.groupby(by, sort=False))
    fig = go.Figure()
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]
    for i, (name, g) in enumerate(groups):
        color = palette[i % len(palette)]
        lo_c = lo or (f"{y}_lo" if f"{y}_lo" in g else None)
        hi_c = hi or (f"{y}_hi" if f"{y}_hi" in g else None)
        mean_c = f"{y}_mean" if f"{y}_mean" in g else y
        if lo_c and hi_c:
            b = g.sort_values(x)[[x, mean_c, lo_c, hi_c]].set_axis([x, "mean", "lo", "hi"], axis=1)
        else:
            b = mean_band(g, x, y, bounds=_bounds(y))
        r, gg, bb = (int(color[k:k + 2], 16) for k in (1, 3, 5))
        _band_traces(fig, b[x], b["lo"], b["hi"], name=str(name or y), color=f"rgba({r},{gg},{bb},0.18)")
        fig.add_trace(go.Scatter(x=b[x], y=b["mean"], mode="lines+markers", name=str(name) if name is not None else label_of(y),
                                 line={"color": color}, customdata=np.c_[b["lo"], b["hi"]],
                                 hovertemplate=f"{x} %{{x}}: %{{y:,.2f}} [%{{customdata[0]:,.2f}}, %{{customdata[1]:,.2f}}]"))
    if target is not None:
        fig.add_hline(y=target, line_dash="dash", line_color="#d62728", annotation_text=f"target {target:g}",
                      annotation_position="top left")
    if recommended is not None and np.isfinite(recommended):
        fig.add_vline(x=recommended, line_dash="dot", line_color="#2ca02c", line_width=2,
                      annotation_text=f"recommended: {recommended:g}", annotation_position="top right")
    xname = x.split(".")[-1].replace("_", " ")
    fig.update_xaxes(title=xname, dtick=1)
    fig.update_yaxes(title=label_of(y))
    fig = _finish(fig, title or f"{KPI_LABELS.get(y, y)} by {xname}")
    fig.update_layout(hovermode="closest", showlegend=by is not None)
    return fig


# --------------------------------------------------------------------------------------- strategy


def _labels(frame: pd.DataFrame, label: str | Sequence[str] | None) -> pd.Series:
    from o2c_sim.experiments.comparison import cell_labels

    if label is None:
        return cell_labels(frame)
    return cell_labels(frame, [label] if isinstance(label, str) else list(label))


def strategy_comparison(differences: pd.DataFrame, kpis: Sequence[str] | None = None, *,
                        label: str | Sequence[str] | None = None,
                        title: str = "Paired difference to the reference (95% CI)") -> go.Figure:
    """Forest plot of paired differences: one panel per KPI, one row per alternative, its difference
    to the reference with the 95 % CI; intervals excluding zero are drawn solid, others grey.

    ``differences`` is :attr:`o2c_sim.experiments.sweep.SweepResult.differences` (or the second element of
    :func:`o2c_sim.experiments.comparison.compare_runs`): ``kpi, diff_mean, diff_lo, diff_hi`` plus grid columns,
    which name the rows (``label`` picks the column(s)).
    """
    d = differences[differences["diff_mean"].notna()].copy()
    d["_label"] = _labels(d, label)
    kpis = [k for k in (kpis or list(dict.fromkeys(d["kpi"]))) if k in set(d["kpi"])]
    if not kpis:
        raise ValueError("no paired differences to plot: compare at least two scenarios")
    cols = min(2 if d["_label"].str.len().max() <= 24 else 1, len(kpis))
    rows = -(-len(kpis) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[label_of(k) for k in kpis],
                        horizontal_spacing=0.2, vertical_spacing=min(0.12, 0.5 / rows))
    for i, key in enumerate(kpis):
        r, c = i // cols + 1, i % cols + 1
        s = d[d["kpi"] == key]
        significant = np.isfinite(s["diff_lo"]) & ((s["diff_lo"] > 0) | (s["diff_hi"] < 0))
        colors = np.where(significant, "#1f77b4", "#9aa5b1").tolist()
        ref = s["reference_mean"] if "reference_mean" in s else pd.Series(np.nan, index=s.index)
        fig.add_trace(go.Scatter(x=s["diff_mean"], y=s["_label"], mode="markers", marker={"size": 10, "color": colors},
                                 error_x={"type": "data", "symmetric": False, "array": s["diff_hi"] - s["diff_mean"],
                                          "arrayminus": s["diff_mean"] - s["diff_lo"], "color": "#444"},
                                 customdata=np.c_[s["diff_lo"], s["diff_hi"], ref], showlegend=False,
                                 hovertemplate="%{y}: Δ %{x:,.2f} [%{customdata[0]:,.2f}, %{customdata[1]:,.2f}]"
                                               "<br>reference %{customdata[2]:,.2f}<extra></extra>"),
                      row=r, col=c)
        fig.add_vline(x=0, line_color="#555", line_width=1, row=r, col=c)
    fig = _finish(fig, title, height=max(320, (120 + 30 * d["_label"].nunique()) * rows + 80))
    fig.update_layout(hovermode="closest")
    return fig


def kpi_means(summary: pd.DataFrame, kpis: Sequence[str] = ("dso", "cei", "bad_debt_ratio"), *,
              label: str | Sequence[str] | None = None,
              title: str = "KPIs by scenario (mean and 95% CI)") -> go.Figure:
    """Bars of each cell's KPI mean with its 95 % CI, one panel per KPI.

    ``summary`` is :attr:`o2c_sim.experiments.sweep.SweepResult.summary` (``{kpi}_mean/_lo/_hi`` per cell).
    """
    kpis = [k for k in kpis if f"{k}_mean" in summary]
    names = _labels(summary, label)
    cols = min(3, len(kpis))
    rows = -(-len(kpis) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[label_of(k) for k in kpis], vertical_spacing=0.14)
    for i, key in enumerate(kpis):
        m, lo, hi = summary[f"{key}_mean"], summary[f"{key}_lo"], summary[f"{key}_hi"]
        fig.add_trace(go.Bar(x=names, y=m, marker_color=LINE, showlegend=False,
                             error_y={"type": "data", "symmetric": False, "array": hi - m, "arrayminus": m - lo},
                             hovertemplate="%{x}: %{y:,.2f}<extra></extra>"),
                      row=i // cols + 1, col=i % cols + 1)
    fig = _finish(fig, title, height=max(320, 280 * rows + 80))
    fig.update_layout(hovermode="closest")
    return fig

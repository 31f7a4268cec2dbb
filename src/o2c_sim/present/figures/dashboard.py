"""Figures only the dashboards need; the shared ones live in :mod:`o2c_sim.present.figures.simulation`.

* :func:`staffing_curve_with_choice` — the shared staffing curve with the current choice and the
  baseline marked (trace names ``"your setting"`` and ``"baseline"``, which the browser tests read);
* :func:`change_vs_baseline` — the change of each KPI against the baseline, in % of the baseline
  value, with its paired 95 % confidence interval (one chart for KPIs of different units).
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from o2c_sim.present.figures import simulation

TEMPLATE = "plotly_white"
CHOICE = "#d62728"
BASELINE = "#555555"


def label(kpi: str) -> str:
    """``'DSO (days)'``: the shared figures' readable KPI name with its unit."""
    return simulation.label_of(kpi)


def _empty(title: str, note: str, height: int = 380) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=note, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"color": "#6b7785"})
    fig.update_layout(title=title, template=TEMPLATE, height=height, xaxis={"visible": False}, yaxis={"visible": False})
    return fig


def staffing_curve_with_choice(frame: pd.DataFrame, kpi: str, *, choice: tuple[int, float | None],
                               baseline: tuple[int, float | None] | None = None, target: float | None = None,
                               title: str | None = None, height: int = 380) -> go.Figure:
    """A KPI against the number of collectors (mean and 95 % CI over replications, from
    :func:`o2c_sim.present.figures.simulation.staffing_curve`) with the current choice as a red star and the
    baseline as a grey diamond.

    ``frame`` has columns ``collectors, replication, <kpi>``; ``choice`` and ``baseline`` are
    ``(collectors, mean KPI)`` (a ``None`` mean is not drawn).
    """
    title = title or f"{label(kpi)} by number of collectors"
    data = frame.dropna(subset=[kpi]) if len(frame) else frame
    if len(data):
        fig = simulation.staffing_curve(data, x="collectors", y=kpi, target=target, title=title)
    else:
        fig = go.Figure()
        fig.update_layout(title=title, template=TEMPLATE)
        fig.update_xaxes(title="collectors", dtick=1)
        fig.update_yaxes(title=label(kpi))
        if target is not None:
            fig.add_hline(y=target, line_dash="dash", line_color="#d62728", annotation_text=f"target {target:g}")
        fig.add_annotation(text="staffing curve: computing…", showarrow=False, x=0.5, y=0.5, xref="paper",
                           yref="paper", font={"color": "#6b7785"})
    for name, point, symbol, color, size in (("baseline", baseline, "diamond", BASELINE, 12),
                                             ("your setting", choice, "star", CHOICE, 18)):
        if point is None or point[1] is None or not math.isfinite(point[1]):
            continue
        fig.add_trace(go.Scatter(x=[point[0]], y=[point[1]], mode="markers+text", name=name, text=[name],
                                 textposition="top center", marker={"symbol": symbol, "size": size, "color": color},
                                 hovertemplate=f"{name}: %{{x}} collectors, %{{y:,.2f}}<extra></extra>"))
    fig.update_layout(height=height, showlegend=True, hovermode="closest")
    return fig


def change_vs_baseline(table: pd.DataFrame, names: Mapping[str, str] | None = None, *,
                       title: str = "Change against the baseline (% of baseline, paired 95% CI)",
                       height: int = 380) -> go.Figure:
    """Horizontal bars: each KPI's paired difference to the baseline as % of the baseline mean.

    ``table`` has columns ``kpi, base, diff, diff_lo, diff_hi, significant`` (as
    :func:`o2c_sim.present.dashboard.summarise` returns). Bars whose interval excludes zero are solid.
    """
    names = names or {}
    t = table[np.isfinite(table["diff"].astype(float)) & (table["base"].astype(float).abs() > 0)]
    if t.empty:
        return _empty(title, "waiting for the first replications…", height)
    scale = 100.0 / t["base"].abs()
    rel, lo, hi = t["diff"] * scale, t["diff_lo"] * scale, t["diff_hi"] * scale
    colors = np.where(t["significant"], "#1f77b4", "#b8c2cc")
    labels = [names.get(k, k) for k in t["kpi"]]
    fig = go.Figure(go.Bar(
        x=rel, y=labels, orientation="h", marker_color=colors, name="change",
        error_x={"type": "data", "symmetric": False, "array": (hi - rel).fillna(0), "arrayminus": (rel - lo).fillna(0)},
        customdata=np.c_[t["diff"], t["diff_lo"], t["diff_hi"]],
        hovertemplate="%{y}: %{x:+.1f} % (Δ %{customdata[0]:,.2f} [%{customdata[1]:,.2f}, %{customdata[2]:,.2f}])<extra></extra>",
    ))
    fig.add_vline(x=0, line_color="#555", line_width=1)
    fig.update_layout(title=title, template=TEMPLATE, height=height, showlegend=False,
                      margin={"l": 150, "r": 30, "t": 60, "b": 40}, yaxis={"autorange": "reversed"},
                      xaxis={"title": "% of baseline"})
    return fig


def fan_chart_with_actuals(history: pd.Series, forecast: pd.DataFrame, model: str,
                           actual: pd.Series | None = None, *, height: int = 420) -> go.Figure:
    """The shared fan chart (:func:`o2c_sim.present.figures.forecast.fan_chart`) plus, where the history
    records them, the receipts of the forecast weeks (trace ``"actual after as-of"``, dotted)."""
    from o2c_sim.present.figures.forecast import fan_chart

    fig = fan_chart(history, forecast, model)
    if actual is not None and len(actual):
        fig.add_trace(go.Scatter(x=actual.index, y=actual.values, name="actual after as-of", mode="lines+markers",
                                 line={"color": "black", "dash": "dot"}, marker={"size": 5}))
    fig.update_layout(template=TEMPLATE, height=height, hovermode="x unified",
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1})
    return fig


def what_if_cash(frame: pd.DataFrame, label_text: str, *, height: int = 380) -> go.Figure:
    """Simulated weekly receipts with the team as is and with the change (lines), and the paired
    difference with its 95 % interval (bars, right axis), from
    :func:`o2c_sim.forecast.simulation.what_if` (columns ``period_start, base, what_if, difference,
    diff_lo95, diff_hi95``)."""
    from plotly.subplots import make_subplots

    f = frame.sort_values("period_start")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=f["period_start"], y=f["difference"], name="difference", marker_color="rgba(44,160,44,0.45)",
                         error_y={"type": "data", "symmetric": False, "array": f["diff_hi95"] - f["difference"],
                                  "arrayminus": f["difference"] - f["diff_lo95"]}), secondary_y=True)
    fig.add_trace(go.Scatter(x=f["period_start"], y=f["base"], name="team as is", mode="lines+markers",
                             line={"color": BASELINE}), secondary_y=False)
    fig.add_trace(go.Scatter(x=f["period_start"], y=f["what_if"], name=label_text, mode="lines+markers",
                             line={"color": CHOICE}), secondary_y=False)
    fig.update_yaxes(title="receipts per week", secondary_y=False)
    fig.update_yaxes(title="difference (95% CI)", secondary_y=True, showgrid=False)
    fig.update_layout(title=f"What-if cash: {label_text}", template=TEMPLATE, height=height, hovermode="x unified",
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1})
    return fig

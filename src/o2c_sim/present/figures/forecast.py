"""Forecast figures: fan chart, back-test accuracy, gap waterfall (plotly Figures)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots


def fan_chart(history: pd.Series, forecast: pd.DataFrame, model: str, *, last: int = 52) -> go.Figure:
    """Receipts history (last ``last`` periods) and one model's forecast with 80 % and 95 % bands."""
    f = forecast[forecast["model"] == model]
    h = history.iloc[-last:]
    fig = go.Figure()
    x = list(f["period_start"]) + list(f["period_start"][::-1])
    for lo, hi, name, alpha in (("lo95", "hi95", "95 % interval", 0.15), ("lo80", "hi80", "80 % interval", 0.3)):
        fig.add_trace(go.Scatter(x=x, y=list(f[hi]) + list(f[lo][::-1]), fill="toself", name=name, mode="lines",
                                 line={"width": 0}, fillcolor=f"rgba(31,119,180,{alpha})"))
    fig.add_trace(go.Scatter(x=h.index, y=h.values, name="receipts", mode="lines", line={"color": "black"}))
    fig.add_trace(go.Scatter(x=f["period_start"], y=f["mean"], name=f"forecast ({model})", mode="lines+markers",
                             line={"color": "rgb(31,119,180)"}))
    fig.update_layout(title=f"Cash receipts forecast — {model}", xaxis_title="period", yaxis_title="receipts")
    return fig


def backtest_accuracy(summary: pd.DataFrame, selected: str | None = None) -> go.Figure:
    """WAPE and 80 % interval coverage per model and horizon band, from :func:`metrics.summary`."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("WAPE (lower is better)", "80 % interval coverage (target 0.8)"))
    for band, g in summary.groupby("band", sort=False):
        fig.add_trace(go.Bar(x=g["model"], y=g["wape"], name=f"h {band}", legendgroup=band), row=1, col=1)
        fig.add_trace(go.Bar(x=g["model"], y=g["cov80"], name=f"h {band}", legendgroup=band, showlegend=False), row=1, col=2)
    fig.add_hline(y=0.8, line_dash="dash", row=1, col=2)
    title = "Rolling-origin back-test" + (f" — selected: {selected}" if selected else "")
    fig.update_layout(title=title, barmode="group")
    return fig


def gap_waterfall(steps: pd.DataFrame, title: str = "Forecast vs actual") -> go.Figure:
    """Waterfall from the forecast to the actual through the root causes (:func:`gap.waterfall_steps`)."""
    fig = go.Figure(go.Waterfall(x=steps["label"], y=steps["value"],
                                 measure=["absolute" if i == 0 else "total" if k == "absolute" else "relative"
                                          for i, k in enumerate(steps["kind"])],
                                 text=[f"{v:,.0f}" for v in steps["value"]], textposition="outside"))
    fig.update_layout(title=title, yaxis_title="receipts", showlegend=False)
    return fig

"""The dashboards' tables and figure payloads: paired KPI summaries, formatting, HTML, Plotly output."""

from __future__ import annotations

import html
import math
from typing import Any, Iterable, Mapping

from o2c_sim.present.dashboard.setting import HEADLINE_KPIS, KPI_DIRECTION, KPI_NAMES
from o2c_sim.sim.results import KPI_UNITS


def summarise(base_runs: Mapping[int, Mapping[str, float]], setting_runs: Mapping[int, Mapping[str, float]],
              kpis: Iterable[str] = HEADLINE_KPIS):
    """Means, 95 % CIs and paired differences of the setting against the baseline (one row per KPI).

    Columns: ``kpi, unit, base, base_lo, base_hi, base_n, mean, lo, hi, n, diff, diff_lo, diff_hi,
    significant``. Missing replications give NaN; differences pair the replications both have
    (replication *r* of both shares common random numbers); means within the KPI's range as
    :func:`o2c_sim.kpis.kpi_mean_ci95`, differences Student-t as :func:`o2c_sim.kpis.mean_ci95`. ``significant``: at least two pairs and the interval excludes zero.
    """
    import numpy as np
    import pandas as pd

    from o2c_sim.kpis import kpi_mean_ci95, mean_ci95

    kpis = list(kpis)
    paired_reps = sorted(set(base_runs) & set(setting_runs))
    rows = []
    for k in kpis:
        b = kpi_mean_ci95(k, [v.get(k, math.nan) for v in base_runs.values()])
        s = kpi_mean_ci95(k, [v.get(k, math.nan) for v in setting_runs.values()])
        d = mean_ci95([setting_runs[r].get(k, math.nan) - base_runs[r].get(k, math.nan) for r in paired_reps])
        rows.append({"kpi": k, "unit": KPI_UNITS.get(k, ""), "base": b[0], "base_lo": b[1], "base_hi": b[2],
                     "base_n": len(base_runs), "mean": s[0], "lo": s[1], "hi": s[2], "n": len(setting_runs),
                     "diff": d[0], "diff_lo": d[1], "diff_hi": d[2]})
    out = pd.DataFrame(rows)
    paired = len(set(base_runs) & set(setting_runs))
    out["significant"] = (paired >= 2) & np.isfinite(out["diff_lo"]) & ((out["diff_lo"] > 0) | (out["diff_hi"] < 0))
    return out


def fmt_value(value: float, unit: str) -> str:
    """A KPI value for the page: money without decimals, percentages and days with one."""
    if value is None or not math.isfinite(value):
        return "…"
    if unit == "money":
        return f"{value:,.0f}"
    if unit == "%":
        return f"{value:,.2f} %" if abs(value) < 1 else f"{value:,.1f} %"
    return f"{value:,.1f}"


def _fmt_ci(lo: float, hi: float, unit: str, n: int) -> str:
    if n < 2 or not (math.isfinite(lo) and math.isfinite(hi)):
        return "95% CI after 2 replications" if n < 2 else ""
    strip = lambda v: fmt_value(v, unit).replace(" %", "")  # noqa: E731
    return f"[{strip(lo)}, {strip(hi)}]"


def _attr(v: float) -> str:
    return "" if v is None or not math.isfinite(v) else repr(float(v))


def kpi_table_html(table, *, key: str, base_key: str, replications: int) -> str:
    """The KPI table with stable DOM hooks: ``#kpi-<kpi>-baseline``, ``#kpi-<kpi>-setting`` and
    ``#kpi-<kpi>-diff`` cells carry ``data-value``/``data-lo``/``data-hi``/``data-n``; the table carries
    ``data-key`` (the setting's cache key) and ``data-complete`` ("true" when every replication is in)."""
    complete = int(table["n"].iloc[0]) >= replications and int(table["base_n"].iloc[0]) >= replications
    rows = []
    for r in table.itertuples(index=False):
        direction = KPI_DIRECTION.get(r.kpi, 0)
        tone = "neutral"
        if r.significant and direction:
            tone = "better" if (r.diff > 0) == (direction > 0) else "worse"
        sign = "+" if math.isfinite(r.diff) and r.diff > 0 else ""
        diff_text = (sign + fmt_value(r.diff, r.unit)) if math.isfinite(r.diff) else "…"
        diff_ci = _fmt_ci(r.diff_lo, r.diff_hi, r.unit, min(int(r.n), int(r.base_n)))
        name = html.escape(KPI_NAMES.get(r.kpi, r.kpi))
        unit = "" if r.unit in ("%", "money") else html.escape(r.unit)
        rows.append(
            f'<tr data-kpi="{r.kpi}"><th scope="row">{name}<span class="o2c-unit">{unit}</span></th>'
            f'<td id="kpi-{r.kpi}-baseline" class="o2c-kpi" data-value="{_attr(r.base)}" data-lo="{_attr(r.base_lo)}" '
            f'data-hi="{_attr(r.base_hi)}" data-n="{int(r.base_n)}">{fmt_value(r.base, r.unit)}'
            f'<div class="o2c-ci">{_fmt_ci(r.base_lo, r.base_hi, r.unit, int(r.base_n))}</div></td>'
            f'<td id="kpi-{r.kpi}-setting" class="o2c-kpi" data-value="{_attr(r.mean)}" data-lo="{_attr(r.lo)}" '
            f'data-hi="{_attr(r.hi)}" data-n="{int(r.n)}">{fmt_value(r.mean, r.unit)}'
            f'<div class="o2c-ci">{_fmt_ci(r.lo, r.hi, r.unit, int(r.n))}</div></td>'
            f'<td id="kpi-{r.kpi}-diff" class="o2c-kpi o2c-{tone}" data-value="{_attr(r.diff)}" '
            f'data-lo="{_attr(r.diff_lo)}" data-hi="{_attr(r.diff_hi)}">{diff_text}<div class="o2c-ci">{diff_ci}</div></td></tr>'
        )
    return (
        f'<table id="kpi-table" class="o2c-kpis" data-key="{key}" data-base-key="{base_key}" '
        f'data-complete="{str(complete).lower()}">'
        "<thead><tr><th>KPI</th><th>Baseline</th><th>Your setting</th><th>Change (paired 95% CI)</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


STYLE = """<style>
.o2c-kpis {border-collapse: collapse; font-size: 14px; min-width: 620px}
.o2c-kpis th, .o2c-kpis td {padding: 6px 12px; border-bottom: 1px solid #e3e6ea; text-align: right; vertical-align: top}
.o2c-kpis th[scope=row], .o2c-kpis thead th:first-child {text-align: left; font-weight: 600}
.o2c-kpis thead th {background: #f4f6f8}
.o2c-kpi {font-variant-numeric: tabular-nums; font-size: 15px}
.o2c-ci {font-size: 11px; color: #6b7785}
.o2c-unit {font-weight: 400; color: #6b7785; margin-left: 6px; font-size: 12px}
.o2c-better {color: #1b7f3b; font-weight: 600}
.o2c-worse {color: #b42318; font-weight: 600}
.o2c-error {background: #fdecea; border: 1px solid #f5c2c0; color: #7a1d18; padding: 8px 12px; border-radius: 4px}
.o2c-status {color: #44505c; font-size: 13px}
.o2c-note {color: #44505c; font-size: 12px}
.o2c-cmd {font-family: monospace; font-size: 12px; background: #f4f6f8; padding: 4px 8px; word-break: break-all}
</style>"""


def plain_arrays(obj: Any) -> Any:
    """Plotly JSON with its base64 typed arrays (``{"dtype", "bdata"}``) decoded to plain lists, so the
    figure data in the page (``gd.data``) is readable as numbers (the browser tests read it)."""
    import base64

    import numpy as np

    if isinstance(obj, dict):
        if set(obj) >= {"dtype", "bdata"} and set(obj) <= {"dtype", "bdata", "shape"}:
            arr = np.frombuffer(base64.b64decode(obj["bdata"]), dtype=np.dtype(obj["dtype"]))
            if "shape" in obj:
                shape = obj["shape"]
                arr = arr.reshape([int(x) for x in (shape.split(",") if isinstance(shape, str) else shape)])
            return [None if isinstance(v, float) and not math.isfinite(v) else v for v in arr.tolist()] \
                if arr.ndim == 1 else arr.tolist()
        return {k: plain_arrays(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [plain_arrays(v) for v in obj]
    return obj


def plotly_output(fig) -> dict:
    """A display-data output of a plotly figure (rendered by the plotly mime renderer in Voila)."""
    import json

    import plotly.io as pio

    return {"output_type": "display_data", "metadata": {},
            "data": {"application/vnd.plotly.v1+json": plain_arrays(json.loads(pio.to_json(fig, validate=False))),
                     "text/plain": f"<{fig.layout.title.text or 'figure'}>"}}


def curve_frame(points: Mapping[int, Mapping[int, Mapping[str, float]]], kpi: str):
    """One row per (collectors, replication) with the KPI's value, for the staffing curve figure."""
    import pandas as pd

    rows = [{"collectors": c, "replication": r, kpi: v.get(kpi, math.nan)}
            for c, runs in sorted(points.items()) for r, v in sorted(runs.items())]
    return pd.DataFrame(rows, columns=["collectors", "replication", kpi])


def curve_collectors(collectors: int, current: int, max_points: int = 9, minimum: int = 1) -> list[int]:
    """Headcounts of the staffing curve: about half to one and a half times the scenario's team (never
    below ``minimum``: with teams on, one per staffed desk), the current choice always included, at most
    ``max_points`` (plus the current) evenly spaced."""
    lo, hi = max(minimum, math.floor(collectors * 0.5)), max(collectors + 2, math.ceil(collectors * 1.5))
    step = max(1, math.ceil((hi - lo + 1) / max_points))
    values = set(range(lo, hi + 1, step)) | {collectors, current}
    return sorted(v for v in values if v >= 0)

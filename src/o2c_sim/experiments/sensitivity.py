"""Global sensitivity: which assumptions move a KPI (or a decision), with SALib on the sweep engine.

::

    from o2c_sim.experiments.sensitivity import Factor, factors, sensitivity
    sc = load_scenario("baseline")
    fs = factors(sc, ["portfolio.segments.mid_market.behaviour.rpc_rate=0.3..0.6"])
    res = sensitivity(sc, fs, kpis=["dso"], method="morris", replications=2)
    res.indices   # kpi, parameter, mu_star, sigma, … (Morris) or S1, ST (Sobol), ranked
    res.tornado   # the KPI with each parameter alone at the low / high end of its range

**Factors.** Each parameter varies over its *plausible range*: the central 95 % of its distribution
when it is uncertain (:mod:`o2c_sim.uncertainty`), ``path=lo..hi`` when given so, else ±25 % around
its value. A unit design point u ∈ [0, 1]ᵏ maps to values by the inverse CDF over that central 95 %
(uncertain parameters) or linearly (others). Every other uncertain parameter is held at its mean.

**Methods** (SALib): ``morris`` (default) — r trajectories of k+1 points on a 4-level grid,
μ* = mean |elementary effect| ranks the parameters, σ shows interaction or non-linearity (Morris
1991; Campolongo et al. 2007); ``sobol`` — Saltelli's design of N·(k+2) points, first-order S1 and
total ST indices (Saltelli et al. 2010). Each design point is one cell of a
:func:`~o2c_sim.experiments.sweep.sweep` (resumable, bit-identical whatever the workers) run ``replications``
times with common random numbers; its output is the mean over replications, so a parameter without
effect moves nothing at all.

**Decisions.** ``decision=({"team.collectors": 6}, {"team.collectors": 8})`` (two sets of overrides;
:func:`parse_decision` reads ``team.collectors=6,8``) runs both options at each design point and
analyses the paired difference KPI(8) − KPI(6): what the *choice* depends on.

**Tornado.** Besides the design, 2k+1 one-at-a-time cells (all at base; each parameter alone at its
low and high end) give the swing of each KPI. ``method="tornado"`` runs only those (cheap: a
notebook's "what drives this answer"), ranking by swing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from o2c_sim.errors import UserError
from o2c_sim.scenario import Scenario
from o2c_sim.scenario import at_means
from o2c_sim.uncertainty import PLAUSIBLE, Distribution, canonical, distributions, get_value

METHODS = ("morris", "sobol", "tornado")
#: relative half-width of the default range of a parameter that is not uncertain
DEFAULT_SPREAD = 0.25
MORRIS_LEVELS = 4


@dataclass(frozen=True)
class Factor:
    """One parameter and its plausible range; ``value(u)`` maps u ∈ [0, 1] into it."""

    path: str
    low: float
    high: float
    base: float
    dist: Distribution | None = None
    integer: bool = False

    def value(self, u: float) -> float:
        if self.dist is not None:
            v = self.dist.ppf(PLAUSIBLE[0] + u * (PLAUSIBLE[1] - PLAUSIBLE[0]))
        else:
            v = self.low + u * (self.high - self.low)
        return int(round(v)) if self.integer else float(v)

    @property
    def name(self) -> str:
        """The path without the leading sections that add nothing to a reader (``portfolio.segments.``)."""
        return self.path.removeprefix("portfolio.segments.")


def parse_params(text: str | Iterable[str]) -> list[str]:
    """``"a.b,c.d=0.1..0.5"`` → ``["a.b", "c.d=0.1..0.5"]``."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out = [p.strip() for p in items if p.strip()]
    if not out:
        raise UserError("--params: no parameter given; expected dotted paths such as team.absence_rate")
    return out


def factors(scenario: Scenario, params: Iterable[str] | None = None) -> list[Factor]:
    """The factors of an analysis: ``params`` (``path`` or ``path=lo..hi``), or every uncertain parameter."""
    dists = distributions(scenario)
    if params is None:
        if not dists:
            raise UserError(f"scenario {scenario.name!r} has no uncertain parameters; give --params P1,P2 "
                            "(dotted paths, optionally path=low..high) or put distributions in the scenario")
        params = list(dists)
    data = scenario.model_dump(mode="json")
    out: list[Factor] = []
    for item in params:
        path, sep, rng = item.partition("=")
        path = canonical(data, path.strip())
        base = get_value(data, path)
        if isinstance(base, bool) or not isinstance(base, (int, float)):
            raise UserError(f"--params '{path}': not a numeric value of the scenario ({'no such path' if base is None else f'found {base!r}'}); expected a dotted "
                            "path to a number such as portfolio.segments.mid_market.behaviour.rpc_rate")
        integer = isinstance(base, int)
        if sep:
            lo_text, dots, hi_text = rng.partition("..")
            try:
                lo, hi = float(lo_text), float(hi_text)
            except ValueError:
                lo = hi = float("nan")
            if not dots or not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
                raise UserError(f"--params '{item}': expected path=low..high with low < high (e.g. {path}=0.3..0.6)")
            f = Factor(path, lo, hi, float(base), None, integer)
        elif path in dists:
            lo, hi = dists[path].plausible_range()
            f = Factor(path, lo, hi, dists[path].mean, dists[path], integer)
        else:
            if base == 0:
                raise UserError(f"--params '{path}': its value is 0, so there is no default ±{DEFAULT_SPREAD:.0%} range; "
                                f"give one as {path}=low..high")
            lo, hi = (_accepted(scenario, path, base, base * (1 + s * DEFAULT_SPREAD)) for s in (-1, 1))
            f = Factor(path, min(lo, hi), max(lo, hi), float(base), None, integer)
        for end in (f.value(0.0), f.value(1.0)):
            try:
                scenario.with_overrides({path: end})
            except UserError as err:
                raise UserError(f"--params '{path}': the end {end:g} of its range [{f.low:g}, {f.high:g}] is not a "
                                f"valid value ({err}); give a range as {path}=low..high") from None
        out.append(f)
    if len({f.path for f in out}) != len(out):
        raise UserError("--params: a parameter is given twice")
    return out


Decision = tuple[dict[str, Any], dict[str, Any]]


def _accepted(scenario: Scenario, path: str, base: float, end: float) -> float:
    """``end`` if the field accepts it, else the nearest accepted value on the way back to ``base``
    (a default ±25 % range around a probability of 0.9 stops at 1)."""
    tries = [end, *([1.0] if 0 <= base < 1 < end else []), *(base + (end - base) / 2**i for i in range(1, 20))]
    for value in tries:
        try:
            scenario.with_overrides({path: value})
            return value
        except UserError:
            continue
    return base


def parse_decision(text: str) -> Decision:
    """``"team.collectors=6,8"`` → ``({"team.collectors": 6}, {"team.collectors": 8})``."""
    from o2c_sim.experiments.grid import parse_grid_arg

    key, values = parse_grid_arg(text)
    if len(values) != 2:
        raise UserError(f"--decision {text!r}: expected exactly two options, e.g. team.collectors=6,8")
    return {key: values[0]}, {key: values[1]}


def decision_label(decision: Decision) -> str:
    show = lambda o: ", ".join(f"{k}={v}" for k, v in o.items()) or "as is"  # noqa: E731
    return f"({show(decision[1])}) − ({show(decision[0])})"


def design_size(method: str, k: int, samples: int) -> int:
    """Design points: Morris r·(k+1); Sobol (Saltelli, first and total order) N·(k+2); tornado none."""
    return {"morris": samples * (k + 1), "sobol": samples * (k + 2)}.get(method, 0)


def unit_design(method: str, k: int, samples: int, seed: int) -> np.ndarray:
    """The SALib design on the unit hypercube, one row per point."""
    problem = {"num_vars": k, "names": [f"x{i}" for i in range(k)], "bounds": [[0.0, 1.0]] * k}
    if method == "tornado":
        return np.zeros((0, k))
    if method == "morris":
        from SALib.sample import morris

        return morris.sample(problem, samples, num_levels=MORRIS_LEVELS, seed=seed)
    from SALib.sample import sobol

    return sobol.sample(problem, samples, calc_second_order=False, seed=seed)


@dataclass
class SensitivityResult:
    """``indices`` (one row per KPI and parameter, best first), ``tornado`` (one-at-a-time swings), the design."""

    scenario: Scenario
    factors: list[Factor]
    kpis: list[str]
    method: str
    decision: Decision | None
    design: np.ndarray
    outputs: pd.DataFrame  # one row per design point, one column per KPI (mean over replications)
    tornado: pd.DataFrame
    indices: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        self.indices = indices(self.method, self.factors, self.design, self.outputs, self.kpis)
        swing = self.tornado.set_index(["kpi", "path"])["swing"]
        self.indices["swing"] = [swing[(k, p)] for k, p in zip(self.indices["kpi"], self.indices["path"])]
        if self.method == "tornado":
            self.indices["rank"] = self.indices.groupby("kpi")["swing"].rank(ascending=False, method="first").astype(int)
            self.indices = self.indices.sort_values(["kpi", "rank"], key=lambda c: c.map(self.kpis.index) if c.name == "kpi" else c,
                                                    ignore_index=True)

    def ranking(self, kpi: str) -> list[str]:
        return self.indices[self.indices["kpi"] == kpi].sort_values("rank")["parameter"].tolist()

    def text(self) -> str:
        key = {"morris": "mu_star", "sobol": "ST", "tornado": "swing"}[self.method]
        what = "" if self.decision is None else f"Δ {decision_label(self.decision)} of "
        lines = []
        for kpi in self.kpis:
            t = self.indices[self.indices["kpi"] == kpi].sort_values("rank")
            lines.append(f"{what}{kpi} — parameters ranked by {key}:")
            cols = ["rank", "parameter", "low", "high", *{"morris": ["mu_star", "sigma"], "sobol": ["ST", "S1"]}.get(self.method, []), "swing"]
            lines.append(t[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
            lines.append("")
        return "\n".join(lines).rstrip()


def indices(method: str, fs: list[Factor], design: np.ndarray, outputs: pd.DataFrame, kpis: list[str]) -> pd.DataFrame:
    """SALib's analysis of each KPI column of ``outputs`` (nothing for ``tornado``), ranked; the swing
    |KPI(high) − KPI(low)| of the one-at-a-time cells is added by :class:`SensitivityResult`."""
    problem = {"num_vars": len(fs), "names": [f.path for f in fs], "bounds": [[0.0, 1.0]] * len(fs)}
    frames = []
    for kpi in kpis:
        y = outputs[kpi].to_numpy(float)
        if method == "tornado":
            frame = pd.DataFrame(index=range(len(fs)))
            score = pd.Series(np.zeros(len(fs)))
        elif not np.isfinite(y).all():
            raise UserError(f"KPI {kpi!r} is undefined (NaN) at some design points, so its sensitivity cannot be "
                            "computed; lengthen horizon_days or choose another KPI")
        elif method == "morris":
            from SALib.analyze import morris

            r = morris.analyze(problem, design, y, num_levels=MORRIS_LEVELS, seed=0)
            frame = pd.DataFrame({"mu_star": r["mu_star"], "mu": r["mu"], "sigma": r["sigma"],
                                  "mu_star_conf": r["mu_star_conf"]})
            score = frame["mu_star"]
        else:
            from SALib.analyze import sobol

            r = sobol.analyze(problem, y, calc_second_order=False, seed=0) if np.ptp(y) > 0 else \
                {k: np.zeros(len(fs)) for k in ("S1", "S1_conf", "ST", "ST_conf")}
            frame = pd.DataFrame({k: r[k] for k in ("S1", "S1_conf", "ST", "ST_conf")})
            score = frame["ST"]
        frame.insert(0, "parameter", [f.name for f in fs])
        frame.insert(0, "kpi", kpi)
        frame.insert(2, "path", [f.path for f in fs])
        frame.insert(3, "low", [f.value(0.0) for f in fs])
        frame.insert(4, "high", [f.value(1.0) for f in fs])
        frame["rank"] = score.rank(ascending=False, method="first").astype(int).to_numpy()
        frames.append(frame.sort_values("rank"))
    return pd.concat(frames, ignore_index=True)


def sensitivity(scenario: Scenario, fs: list[Factor], kpis: Iterable[str] = ("dso",), method: str = "morris",
                samples: int | None = None, replications: int = 2, *, decision: Decision | None = None,
                budget: int | None = None, workers: int = 1, scheduler: Any = None, out: str | Path | None = None,
                progress: bool = True, seed: int = 0) -> SensitivityResult:
    """Run the analysis (module docstring). ``samples``: Morris trajectories r (default 10) or Sobol base
    samples N (a power of 2, default 64). ``budget``: the most simulation runs allowed; a larger design
    is refused before anything runs. ``out``: a directory for the resumable runs (``out/runs``)."""
    from o2c_sim.experiments.sweep import sweep
    from o2c_sim.experiments.tables import METRIC_UNITS

    kpis = list(kpis)
    unknown = [k for k in kpis if k not in METRIC_UNITS]
    if unknown or not kpis:
        raise UserError(f"--kpi {unknown[0] if unknown else ''!r} is not a KPI; expected one of {', '.join(METRIC_UNITS)}")
    if method not in METHODS:
        raise UserError(f"--method {method!r} is unknown; expected one of {', '.join(METHODS)}")
    if not fs:
        raise UserError("no parameters to analyse")
    k = len(fs)
    samples = samples if samples is not None else (10 if method == "morris" else 64)
    if method != "tornado" and (samples < 2 or (method == "sobol" and samples & (samples - 1))):
        raise UserError(f"--samples {samples}: Morris needs at least 2 trajectories; Sobol a power of 2 (e.g. 64)")
    if replications < 1:
        raise UserError(f"--replications must be at least 1, got {replications}")
    options = [{}] if decision is None else _same_keys(scenario, [dict(decision[0]), dict(decision[1])])
    points = design_size(method, k, samples) + 2 * k + 1
    runs = points * len(options) * replications
    if budget is not None and runs > budget:
        alt = {"sobol": ("--method morris", "morris", 10), "morris": ("--method tornado", "tornado", 0)}.get(method)
        other = "" if alt is None else (f", or use {alt[0]} ("
                                        f"{(design_size(alt[1], k, alt[2]) + 2 * k + 1) * len(options) * replications:,} runs)")
        raise UserError(
            f"a {method} design with {samples} samples and {k} parameters needs {points} points × {len(options)} "
            f"option(s) × {replications} replication(s) = {runs:,} simulation runs, more than --budget {budget:,}. "
            f"Lower --samples, analyse fewer --params or use fewer --replications{other}")
    design = unit_design(method, k, samples, seed)
    base_u = [_unit_of(f, f.base) for f in fs]
    oat = [list(base_u)]
    for i in range(k):
        for end in (0.0, 1.0):
            u = list(base_u)
            u[i] = end
            oat.append(u)
    unit = np.vstack([design, np.array(oat)])
    cells = [{**{f.path: f.value(u) for f, u in zip(fs, row)}, **opt} for row in unit for opt in options]
    base = at_means(scenario)
    result = sweep(base, cells=cells, replications=replications, workers=workers, scheduler=scheduler,
                   out=None if out is None else _runs_dir(Path(out)), progress=progress, split_variance=False)
    means = result.results.groupby("cell", sort=True)[kpis].mean()
    if decision is not None:  # paired: replication means of option b − option a, per design point
        means = pd.DataFrame(means.to_numpy()[1::2] - means.to_numpy()[0::2], columns=kpis)
    means = means.reset_index(drop=True)
    outputs, oat_out = means.iloc[:len(design)].reset_index(drop=True), means.iloc[len(design):].reset_index(drop=True)
    tornado = _tornado(fs, oat_out, kpis)
    res = SensitivityResult(scenario, fs, kpis, method, decision, design, outputs, tornado)
    if out is not None:
        from o2c_sim.data.rundir import atomic_file

        for name, frame in (("indices", res.indices), ("tornado", res.tornado)):
            with atomic_file(Path(out) / f"{name}.parquet") as tmp:
                frame.to_parquet(tmp, index=False)
        for kpi in kpis:
            figs = [("tornado", tornado_figure(res, kpi))] + ([(method, screening_figure(res, kpi))] if method != "tornado" else [])
            for fig_name, fig in figs:
                with atomic_file(Path(out) / f"{fig_name}_{kpi}.html") as tmp:
                    fig.write_html(tmp, include_plotlyjs="cdn")
    return res


def _same_keys(scenario: Scenario, options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Options setting different keys, completed with the scenario's own values (a design's cells share keys)."""
    data = scenario.model_dump(mode="json")
    keys = list(dict.fromkeys(k for o in options for k in o))
    return [{k: o[k] if k in o else get_value(data, k) for k in keys} for o in options]


def _unit_of(f: Factor, value: float) -> float:
    """The u ∈ [0, 1] with ``f.value(u)`` ≈ ``value`` (the base point of the one-at-a-time cells)."""
    if f.dist is not None:
        from scipy.optimize import brentq

        g = lambda u: f.dist.ppf(PLAUSIBLE[0] + u * (PLAUSIBLE[1] - PLAUSIBLE[0])) - value  # noqa: E731
        if g(0.0) >= 0:
            return 0.0
        if g(1.0) <= 0:
            return 1.0
        return float(brentq(g, 0.0, 1.0, xtol=1e-12))
    return float(min(max((value - f.low) / (f.high - f.low), 0.0), 1.0))


def _runs_dir(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise UserError("exists and is not a directory; choose another --out", source=str(out))
    if out.exists() and any(out.iterdir()) and not (out / "runs" / "manifest.json").exists():
        raise UserError("already exists and is not a sensitivity directory (no runs/manifest.json); nothing is "
                        "overwritten — choose another --out", source=str(out))
    return out / "runs"


def _tornado(fs: list[Factor], oat: pd.DataFrame, kpis: list[str]) -> pd.DataFrame:
    """Row 0 of ``oat`` is the base; rows 1+2i / 2+2i are parameter i at its low / high end."""
    rows = []
    for kpi in kpis:
        base = float(oat[kpi].iloc[0])
        for i, f in enumerate(fs):
            lo, hi = float(oat[kpi].iloc[1 + 2 * i]), float(oat[kpi].iloc[2 + 2 * i])
            rows.append({"kpi": kpi, "parameter": f.name, "path": f.path, "low": f.value(0.0), "high": f.value(1.0),
                         "base_value": f.base, "kpi_base": base, "kpi_at_low": lo, "kpi_at_high": hi,
                         "swing": abs(hi - lo)})
    return pd.DataFrame(rows)


def tornado_figure(res: SensitivityResult, kpi: str, *, names: dict[str, str] | None = None, title: str | None = None):
    """Horizontal bars: the KPI with each parameter alone at the low and the high end of its range.
    ``names``: path → the label to show instead of the parameter's path (e.g. plain words)."""
    import plotly.graph_objects as go

    t = res.tornado[res.tornado["kpi"] == kpi].sort_values("swing")
    base = float(t["kpi_base"].iloc[0]) if len(t) else 0.0
    names = names or {}
    labels = [f"{names.get(path, p)} [{lo:.3g}, {hi:.3g}]" for p, path, lo, hi in zip(t["parameter"], t["path"], t["low"], t["high"])]
    fig = go.Figure()
    for col, name, color in (("kpi_at_low", "parameter at its low end", "#4C78A8"),
                             ("kpi_at_high", "parameter at its high end", "#F58518")):
        fig.add_bar(y=labels, x=t[col] - base, base=base, orientation="h", name=name, marker_color=color)
    what = kpi if res.decision is None else f"Δ {kpi} {decision_label(res.decision)}"
    fig.update_layout(title=title or f"What drives {what}", barmode="overlay", xaxis_title=what, height=120 + 40 * len(t),
                      template="plotly_white", legend_orientation="h")
    fig.add_vline(x=base, line_dash="dot")
    return fig


def screening_figure(res: SensitivityResult, kpi: str):
    """Morris: μ* against σ per parameter; Sobol: S1 and ST bars."""
    import plotly.graph_objects as go

    t = res.indices[res.indices["kpi"] == kpi]
    if res.method == "morris":
        fig = go.Figure(go.Scatter(x=t["mu_star"], y=t["sigma"], mode="markers+text", text=t["parameter"],
                                   textposition="top center", error_x={"type": "data", "array": t["mu_star_conf"]}))
        fig.update_layout(title=f"Morris screening of {kpi}: μ* (importance) vs σ (interaction / non-linearity)",
                          xaxis_title="μ*", yaxis_title="σ", template="plotly_white")
    else:
        fig = go.Figure([go.Bar(x=t["parameter"], y=t["S1"], name="S1 (alone)", error_y={"array": t["S1_conf"]}),
                         go.Bar(x=t["parameter"], y=t["ST"], name="ST (with interactions)", error_y={"array": t["ST_conf"]})])
        fig.update_layout(title=f"Sobol indices of {kpi}", barmode="group", template="plotly_white")
    return fig


def default_drivers(scenario: Scenario, *, extended: bool = False) -> list[str]:
    """The parameters a "what drives this answer" view tries when none are named: the scenario's
    uncertain ones, else, for its largest segment, the right-party-contact rate and the hazard
    multipliers of a right-party contact and of a promise (docs/model.md §2.2), then absence and
    conversation length — ``extended`` adds that segment's daily intensity just past due, frailty
    variance, first-notice multiplier, silent share, dispute rate and insolvency rate, and the team's
    shrinkage (the default of ``o2c-sim sensitivity``)."""
    if scenario.uncertain:
        return list(scenario.uncertain)
    seg = max(scenario.portfolio.segments, key=lambda s: s.share)
    beh = f"portfolio.segments.{seg.name}.behaviour"
    core = [f"{beh}.rpc_rate", f"{beh}.hazard.effects.contact.multiplier", f"{beh}.hazard.effects.promise.multiplier",
            "team.absence_rate", "work.conversation"]
    more = [f"{beh}.hazard.daily.{first_late_band(seg.behaviour.hazard.bands)}", f"{beh}.hazard.frailty_variance",
            f"{beh}.hazard.effects.notice.0.multiplier", f"{beh}.silent_share", f"{beh}.dispute_rate",
            f"{beh}.insolvency_rate_annual", "team.shrinkage"]
    return core + more if extended else core


def first_late_band(bands: list[int]) -> int:
    """Index of the hazard band that holds day 1 past due (the last left edge ≤ 1; 0 if none is)."""
    return max((i for i, edge in enumerate(bands) if edge <= 1), default=0)


__all__ = ["Factor", "SensitivityResult", "METHODS", "factors", "parse_params", "parse_decision", "sensitivity",
           "default_drivers", "decision_label",
           "design_size", "tornado_figure", "screening_figure"]

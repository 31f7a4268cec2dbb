"""Parameter uncertainty: any numeric scenario value may be a distribution instead of a number.

In a scenario file::

    behaviour:
      rpc_rate: {dist: beta, mean: 0.45, sd: 0.05}
      hazard: {frailty_variance: {dist: gamma, mean: 0.4, sd: 0.15}}

or, equivalently, in a top-level ``uncertain:`` mapping of dotted path → spec (the form the resolved
``scenario.yaml`` records)::

    uncertain:
      portfolio.segments.mid_market.behaviour.rpc_rate: {dist: beta, mean: 0.45, sd: 0.05}
      portfolio.segments.mid_market.behaviour.hazard.effects.notice.0.multiplier: {dist: lognormal, mean: 1.3, sd: 0.15}

A listed path may name list items by index (``notice.0``, ``daily.3``) and reach into sections the
file leaves at their defaults.

At load time (:func:`extract`) every spec is taken out of the tree, recorded under ``uncertain`` and
replaced by its mean, so the scenario itself is an ordinary fixed-value scenario. Replication *r*
then draws one value per uncertain path from a stream keyed by (seed, r, path) and applies the draw
through the dotted-path override mechanism (:func:`o2c_sim.scenario.with_values`, called by
:func:`o2c_sim.sim.model.simulate`): replication *r* sees the
same parameters in every cell of a sweep, so paired differences stay paired, and adding a parameter
does not change the others' draws. A degenerate distribution (sd 0, low = high) draws exactly its
mean, so results are bit-identical to the fixed value.

Distributions (each parameterised by what a team lead knows, not by shape parameters):

============  ====================  =====================================================================
``dist``      keys                  shape
============  ====================  =====================================================================
normal        mean, sd              N(mean, sd²)
lognormal     mean, sd (> 0 mean)   σ² = ln(1 + sd²/mean²), μ = ln mean − σ²/2
gamma         mean, sd (> 0 mean)   k = mean²/sd², θ = sd²/mean
beta          mean, sd (0<mean<1)   ν = mean(1−mean)/sd² − 1, a = mean·ν, b = (1−mean)·ν; needs sd² < mean(1−mean)
uniform       low, high             mean (low+high)/2
triangular    low, mode, high       mean (low+mode+high)/3
empirical     values                each value equally likely (e.g. bootstrap draws from calibration)
============  ====================  =====================================================================

Draws are inverse-CDF transforms of a uniform u ∈ [10⁻⁶, 1 − 10⁻⁶]; at load time both ends of that
range are checked against the schema, so a draw can never be refused mid-run (a normal on a
probability that reaches below 0 is refused up front, naming the path).

**Variance split** (:func:`variance_split`). With y_r the KPI of replication r with its drawn
parameters and z_r the KPI of the same replication (same random numbers) with every parameter at its
mean, Var(z) estimates the stochastic (Monte Carlo) variance and Var(y − z) the part due to the
parameters (the noise cancels in the paired difference when the two sources add); the parameter
share is Var(y − z) ÷ (Var(y − z) + Var(z)).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from o2c_sim.errors import UserError

#: the tails a draw never reaches: u is clipped to [EPS, 1 − EPS] (checked against the schema at load)
EPS = 1e-6
#: the "plausible range" of a parameter (sensitivity analysis, flip search): its central 95 %
PLAUSIBLE = (0.025, 0.975)

_KEYS = {
    "normal": ("mean", "sd"), "lognormal": ("mean", "sd"), "gamma": ("mean", "sd"), "beta": ("mean", "sd"),
    "uniform": ("low", "high"), "triangular": ("low", "mode", "high"), "empirical": ("values",),
}
DISTRIBUTIONS = tuple(_KEYS)


@dataclass(frozen=True)
class Distribution:
    """A parsed spec; ``ppf(u)`` is its inverse CDF, ``mean`` its mean."""

    dist: str
    params: tuple[tuple[str, Any], ...]

    @property
    def p(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def mean(self) -> float:
        p = self.p
        if self.dist == "uniform":
            return (p["low"] + p["high"]) / 2
        if self.dist == "triangular":
            return (p["low"] + p["mode"] + p["high"]) / 3
        if self.dist == "empirical":
            return float(np.mean(p["values"]))
        return float(p["mean"])

    @property
    def degenerate(self) -> bool:
        p = self.p
        if self.dist in ("uniform", "triangular"):
            return p["low"] == p["high"]
        if self.dist == "empirical":
            return len(set(p["values"])) == 1
        return p["sd"] == 0

    def ppf(self, u: float) -> float:
        """The value at quantile ``u`` (exactly the mean when degenerate)."""
        if self.degenerate:
            return self.p["values"][0] if self.dist == "empirical" else self.mean
        from scipy import stats  # imported on first draw: loading a scenario stays light

        p = self.p
        if self.dist == "normal":
            return float(stats.norm.ppf(u, p["mean"], p["sd"]))
        if self.dist == "lognormal":
            s2 = math.log1p((p["sd"] / p["mean"]) ** 2)
            return float(stats.lognorm.ppf(u, math.sqrt(s2), scale=math.exp(math.log(p["mean"]) - s2 / 2)))
        if self.dist == "gamma":
            return float(stats.gamma.ppf(u, p["mean"] ** 2 / p["sd"] ** 2, scale=p["sd"] ** 2 / p["mean"]))
        if self.dist == "beta":
            m, v = p["mean"], p["sd"] ** 2
            nu = m * (1 - m) / v - 1
            return float(stats.beta.ppf(u, m * nu, (1 - m) * nu))
        if self.dist == "uniform":
            return p["low"] + u * (p["high"] - p["low"])
        if self.dist == "triangular":
            lo, hi = p["low"], p["high"]
            return float(stats.triang.ppf(u, (p["mode"] - lo) / (hi - lo), loc=lo, scale=hi - lo))
        values = sorted(p["values"])
        return float(values[min(int(u * len(values)), len(values) - 1)])

    def plausible_range(self) -> tuple[float, float]:
        """The central 95 % (:data:`PLAUSIBLE`) of the distribution."""
        return self.ppf(PLAUSIBLE[0]), self.ppf(PLAUSIBLE[1])

    def spec(self) -> dict[str, Any]:
        """The spec as written in a scenario (``{dist: beta, mean: …, sd: …}``)."""
        return {"dist": self.dist, **{k: (list(v) if isinstance(v, tuple) else v) for k, v in self.params}}


def is_spec(value: Any) -> bool:
    """A mapping with a ``dist`` key is a distribution spec."""
    return isinstance(value, Mapping) and "dist" in value


def _number(path: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserError(f"field '{path}': '{key}' must be a finite number, got {value!r}")
    return float(value)


def parse(path: str, spec: Any) -> Distribution:
    """Check a spec and return its :class:`Distribution`; impossible arguments are a :class:`UserError`."""
    if not is_spec(spec):
        raise UserError(f"field 'uncertain.{path}': expected a distribution such as {{dist: beta, mean: 0.45, sd: 0.05}}, got {spec!r}")
    dist = spec["dist"]
    where = f"{path} ({dist})"
    if dist not in _KEYS:
        raise UserError(f"field '{path}': unknown distribution {dist!r}; expected one of {', '.join(DISTRIBUTIONS)}")
    keys = set(spec) - {"dist"}
    if keys != set(_KEYS[dist]):
        raise UserError(f"field '{path}': a {dist} distribution takes {', '.join(_KEYS[dist])}; got {', '.join(sorted(keys)) or 'nothing'}")
    if dist == "empirical":
        values = spec["values"]
        if not isinstance(values, (list, tuple)) or not values:
            raise UserError(f"field '{where}': 'values' must be a non-empty list of numbers, got {values!r}")
        return Distribution(dist, (("values", tuple(_number(where, "values", v) for v in values)),))
    p = {k: _number(where, k, spec[k]) for k in _KEYS[dist]}
    if "sd" in p and p["sd"] < 0:
        raise UserError(f"field '{where}': sd must be ≥ 0, got {p['sd']:g}")
    if dist in ("lognormal", "gamma") and p["mean"] <= 0:
        raise UserError(f"field '{where}': the mean must be > 0, got {p['mean']:g}")
    if dist == "beta":
        m, sd = p["mean"], p["sd"]
        if not 0 < m < 1:
            raise UserError(f"field '{where}': the mean must be strictly between 0 and 1, got {m:g}")
        if sd > 0 and sd * sd >= m * (1 - m):
            raise UserError(f"field '{where}': sd {sd:g} is too large for mean {m:g}; a beta needs "
                            f"sd < √(mean·(1−mean)) = {math.sqrt(m * (1 - m)):.4g}")
    if dist == "uniform" and p["low"] > p["high"]:
        raise UserError(f"field '{where}': low {p['low']:g} is above high {p['high']:g}")
    if dist == "triangular" and not p["low"] <= p["mode"] <= p["high"]:
        raise UserError(f"field '{where}': expected low ≤ mode ≤ high, got {p['low']:g}, {p['mode']:g}, {p['high']:g}")
    return Distribution(dist, tuple(p.items()))


# ------------------------------------------------------------------------------------ load-time hook


def _walk(node: Any, prefix: str, found: dict[str, Any]) -> Any:
    """``node`` with every spec replaced by its mean; the specs are collected in ``found`` by path."""
    if is_spec(node):
        dist = parse(prefix, node)
        found[prefix] = dist.spec()
        return dist.mean
    if isinstance(node, dict):
        return {k: _walk(v, f"{prefix}.{k}" if prefix else str(k), found) for k, v in node.items()}
    if isinstance(node, list):
        return [_walk(v, f"{prefix}.{v.get('name', i) if isinstance(v, dict) else i}", found) for i, v in enumerate(node)]
    return node


def extract(data: Any, *, apply, complete, source: str | None = None) -> Any:
    """The raw scenario mapping with every distribution replaced by its mean and recorded under
    ``uncertain`` (path → spec). Called by :func:`o2c_sim.scenario.from_dict` before validation, with
    ``apply`` = :func:`o2c_sim.scenario.apply_overrides` (which sets the listed paths' means) and
    ``complete`` writing out every default (so a listed path may reach into a default-only section or
    list, ``…hazard.effects.notice.0.multiplier``, ``…hazard.daily.3``)."""
    if not isinstance(data, dict):
        return data
    listed = data.get("uncertain") or {}
    if not isinstance(listed, dict):
        raise UserError(f"field 'uncertain': expected a mapping of dotted paths to distributions, got {listed!r}", source=source)
    body = {k: v for k, v in data.items() if k != "uncertain"}
    found: dict[str, Any] = {}
    try:
        body = _walk(body, "", found)
        if any(get_value(body, path) is None for path in listed):
            body = complete(body)
        means = {canonical(body, path): parse(path, spec) for path, spec in listed.items()}
        means = {path: dist for path, dist in means.items() if path not in found}
    except UserError as err:
        raise UserError(str(err), source=source) from None
    if not found and not means:
        return body if "uncertain" in data else data
    found.update({path: dist.spec() for path, dist in means.items()})
    body = apply(body, {path: dist.mean for path, dist in means.items()}, source=source) if means else body
    return {**body, "uncertain": dict(sorted(found.items()))}


def _steps(data: dict, path: str):
    """Walk a dotted path through a scenario mapping: yield (part, node) with list items named by
    their ``name`` where they have one; the node is None once the path leaves the data."""
    node: Any = data
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list):
            if part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
                node = node[int(part)]
                part = str(node.get("name", part)) if isinstance(node, dict) else part
            else:
                node = next((x for x in node if isinstance(x, dict) and x.get("name") == part), None)
        else:
            node = None
        yield part, node


def canonical(data: dict, path: str) -> str:
    """``path`` with list indices replaced by item names (``segments.0`` → ``segments.smb``)."""
    return ".".join(part for part, _ in _steps(data, path))


def get_value(data: dict, path: str) -> Any:
    """The value at a dotted path of a scenario mapping (list items by index or name); None if absent."""
    node = None
    for _, node in _steps(data, path):
        pass
    return node


def forget(data: dict, path: str) -> None:
    """An explicit override of ``path`` fixes it: drop it from ``data['uncertain']`` (in place)."""
    listed = data.get("uncertain")
    if listed:
        listed.pop(canonical(data, path), None)


def distributions(scenario) -> dict[str, Distribution]:
    """The scenario's uncertain parameters, path → :class:`Distribution` (sorted by path)."""
    return {path: parse(path, spec) for path, spec in sorted(scenario.uncertain.items())}


# ---------------------------------------------------------------------------------- per replication


def path_key(path: str) -> int:
    """A stable 32-bit key of a dotted path (CRC-32), keying the path's parameter stream."""
    return zlib.crc32(path.encode("utf-8"))


def draw(scenario, replication: int, seed: int | None = None) -> dict[str, float]:
    """Replication ``replication``'s value of every uncertain path: ``ppf(u)`` with u from the stream
    keyed by (seed, replication, "parameters", :func:`path_key`)."""
    from o2c_sim.streams import generator

    seed = scenario.seed if seed is None else seed
    out = {}
    for path, dist in distributions(scenario).items():
        u = generator(seed, replication, "parameters", path_key(path)).random()
        out[path] = dist.ppf(min(max(u, EPS), 1 - EPS))
    return out


# --------------------------------------------------------------------------------------- variance split


def variance_split(with_parameters: Any, at_mean: Any) -> dict[str, float]:
    """Split the variance of a KPI over replications into parameter and stochastic parts.

    ``with_parameters[r]``: replication r with its drawn parameters; ``at_mean[r]``: the same
    replication with the parameters at their means. Returns ``stochastic_var`` = Var(at_mean),
    ``parameter_var`` = Var(with − at_mean), ``total_var`` (their sum) and ``parameter_share``.
    """
    y, z = np.asarray(with_parameters, float), np.asarray(at_mean, float)
    ok = np.isfinite(y) & np.isfinite(z)
    y, z = y[ok], z[ok]
    if len(y) < 2:
        nan = float("nan")
        return {"parameter_var": nan, "stochastic_var": nan, "total_var": nan, "parameter_share": nan, "n": int(len(y))}
    pv, sv = float(np.var(y - z, ddof=1)), float(np.var(z, ddof=1))
    total = pv + sv
    return {"parameter_var": pv, "stochastic_var": sv, "total_var": total,
            "parameter_share": pv / total if total > 0 else float("nan"), "n": int(len(y))}


def split_table(with_parameters: "Any", at_mean: "Any", kpis: list[str]):
    """One row per KPI of :func:`variance_split`, from two frames with one row per replication."""
    import pandas as pd

    a = with_parameters.set_index("replication")
    b = at_mean.set_index("replication")
    common = a.index.intersection(b.index)
    rows = [{"kpi": k, **variance_split(a.loc[common, k], b.loc[common, k])} for k in kpis if k in a and k in b]
    return pd.DataFrame(rows)


def sweep_split(results, noise_results, grid_keys: list[str], kpis: list[str] | None = None):
    """Per cell of a sweep, :func:`split_table` of its results against the noise-only sweep's."""
    import pandas as pd

    metrics = kpis or [c for c in results.columns if c not in ("cell", "replication", *grid_keys)]
    frames = []
    for cell, g in results.groupby("cell", sort=True):
        z = noise_results[noise_results["cell"] == cell]
        t = split_table(g, z, metrics)
        t.insert(0, "cell", cell)
        for k in reversed(grid_keys):
            t.insert(1, k, g[k].iloc[0])
        frames.append(t)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


#: the KPIs whose variance split is shown by default
SPLIT_KPIS = ["dso", "bad_debt_ratio", "cash_collected", "cei", "coverage_pct"]


def format_sweep_split(variance, grid_keys: list[str], kpis: list[str]) -> str:
    """Per cell, each KPI's share of variance from the parameters (the rest is stochastic noise)."""
    import pandas as pd

    v = variance[variance["kpi"].isin(kpis)]
    wide = v.pivot_table(index=["cell", *grid_keys], columns="kpi", values="parameter_share", sort=False)
    wide = wide[[k for k in kpis if k in wide.columns]].map(lambda x: "n/a" if not np.isfinite(x) else f"{x:.0%}")
    return ("Share of each cell's variance between replications due to parameter uncertainty "
            "(the rest is stochastic noise):\n" + pd.DataFrame(wide).reset_index().to_string(index=False))


def format_split(table) -> str:
    """The split as text: per KPI, the share of variance from parameters and from noise."""
    lines = ["Share of the variance between replications (parameters vs stochastic noise):",
             f"{'KPI':<24}{'from parameters':>17}{'from noise':>12}{'total sd':>14}"]
    for row in table.itertuples():
        share = row.parameter_share
        shown = "n/a" if not np.isfinite(share) else f"{share:.0%}"
        noise = "n/a" if not np.isfinite(share) else f"{1 - share:.0%}"
        lines.append(f"{row.kpi:<24}{shown:>17}{noise:>12}{math.sqrt(row.total_var) if np.isfinite(row.total_var) else float('nan'):>14,.4g}")
    return "\n".join(lines)


__all__ = ["Distribution", "DISTRIBUTIONS", "PLAUSIBLE", "parse", "extract", "distributions", "draw",
           "variance_split", "split_table", "format_split"]

"""The grid of a sweep: dotted override paths → lists of values, their cells, and the cells' scenarios.

A *grid* maps dotted override paths (the one override mechanism of :mod:`o2c_sim.scenario`) to lists
of values; its *cells* are the cartesian product, in the order the keys and values are given (the last
key varies fastest). On the command line a grid is ``--grid team.collectors=4,6,8`` or ``=2..10:2``.
A *design* gives the cells one by one instead (:func:`normalise_cells`).
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from o2c_sim.errors import UserError
from o2c_sim.scenario import Scenario, parse_override

def _plain(value: Any) -> Any:
    """numpy scalars → Python scalars, tuples/ranges → lists (so values are JSON- and YAML-friendly)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, range)):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def normalise_grid(grid: Mapping[str, Any] | None) -> dict[str, list]:
    """Check a grid and return it as ``{key: [values]}``; a scalar value means a one-value list.

    Keys must be dotted paths (validated against the schema later, cell by cell); each list must be
    non-empty and without repeated values.
    """
    if grid is None:
        return {}
    if not isinstance(grid, Mapping):
        raise UserError(f"the grid must be a mapping of dotted paths to lists of values, got {type(grid).__name__}")
    out: dict[str, list] = {}
    for key, values in grid.items():
        if not isinstance(key, str) or not key.strip() or not all(key.split(".")):
            raise UserError(f"grid key {key!r} is not a dotted path such as team.collectors")
        if isinstance(values, (list, tuple, range, np.ndarray, pd.Series, pd.Index)):
            values = [_plain(v) for v in list(values)]
        else:
            values = [_plain(values)]
        if not values:
            raise UserError(f"grid '{key}': no values given; expected at least one")
        seen = [json.dumps(v, sort_keys=True, default=str) for v in values]
        if len(set(seen)) != len(seen):
            dup = next(v for v in seen if seen.count(v) > 1)
            raise UserError(f"grid '{key}': value {dup} is given more than once")
        out[key.strip()] = values
    return out


def grid_cells(grid: Mapping[str, list]) -> list[dict[str, Any]]:
    """The cells of a (normalised) grid: the cartesian product, first key slowest, last key fastest."""
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside brackets, braces or quotes (``[1,2],3`` → ``[1,2]``, ``3``)."""
    parts, depth, quote, current = [], 0, "", []
    for ch in text:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


_RANGE = re.compile(r"^\s*([+-]?\d+)\s*\.\.\s*([+-]?\d+)\s*(?::\s*(\d+)\s*)?$")


def parse_values(key: str, text: str) -> list:
    """The values of ``--grid key=TEXT`` / ``--range key=TEXT``, each parsed like an override value.

    ``TEXT`` is a comma-separated list (``4,6,8``, ``oldest_first,largest_balance``) or an inclusive
    integer range ``a..b`` with an optional step ``a..b:s`` (``2..20``, ``2..20:2``).
    """
    if not text.strip():
        raise UserError(f"grid '{key}': no values given; expected e.g. {key}=4,6,8 or {key}=2..8")
    m = _RANGE.match(text)
    if m:
        lo, hi, step = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
        if step < 1:
            raise UserError(f"grid '{key}': the step of range {text!r} must be at least 1")
        if hi < lo:
            raise UserError(f"grid '{key}': range {text!r} is empty; expected a..b with a ≤ b")
        return list(range(lo, hi + 1, step))
    if ".." in text and not any(q in text for q in "'\"[{"):
        raise UserError(f"grid '{key}': {text!r} is not a range of whole numbers; expected a..b or a..b:step "
                        f"(e.g. 2..20), or a comma-separated list for other values")
    values = []
    for raw in _split_top_level(text):
        if not raw.strip():
            raise UserError(f"grid '{key}': empty value in {text!r}; expected comma-separated values")
        values.append(parse_override(f"{key}={raw}")[1])
    return values


def parse_grid_arg(text: str) -> tuple[str, list]:
    """``"team.collectors=4,6,8"`` → ``("team.collectors", [4, 6, 8])`` (see :func:`parse_values`)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UserError(f"--grid {text!r} is not of the form key=v1,v2,... (e.g. team.collectors=4,6,8)")
    return key, parse_values(key, raw)


def cell_scenarios(scenario: Scenario, cells: list[dict[str, Any]]) -> list[Scenario]:
    """Every cell's scenario, validated up front: a bad value fails here naming the cell and field."""
    out = []
    for i, overrides in enumerate(cells):
        try:
            out.append(scenario.with_overrides(overrides) if overrides else scenario)
        except UserError as err:
            shown = ", ".join(f"{k}={v}" for k, v in overrides.items())
            raise UserError(f"grid cell {i} ({shown}) is not a valid scenario: {err}") from None
    return out


def normalise_cells(cells: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, list]]:
    """A design's cells as plain dicts, and the ``grid`` naming its keys (each key's distinct values)."""
    out = [{str(k): _plain(v) for k, v in c.items()} for c in cells]
    if not out:
        raise UserError("the design has no cells")
    keys = list(dict.fromkeys(k for c in out for k in c))
    if any(set(c) != set(keys) for c in out):
        raise UserError(f"every cell of a design must set the same keys ({', '.join(keys)})")
    grid = {k: list({json.dumps(c[k], sort_keys=True): c[k] for c in out}.values()) for k in keys}
    return out, grid


def find_cell(cells: list[dict[str, Any]], reference: int | Mapping[str, Any] | None) -> int:
    """A cell number from a number or from (some of) its grid values."""
    if reference is None:
        return 0
    if isinstance(reference, (int, np.integer)) and not isinstance(reference, bool):
        if not 0 <= reference < len(cells):
            raise UserError(f"reference cell {reference} does not exist; the sweep has cells 0..{len(cells) - 1}")
        return int(reference)
    if isinstance(reference, Mapping):
        ref = {k: _plain(v) for k, v in reference.items()}
        matches = [i for i, c in enumerate(cells) if all(k in c and c[k] == v for k, v in ref.items())]
        if len(matches) == 1:
            return matches[0]
        raise UserError(f"reference {ref} matches {len(matches)} cells; name exactly one cell by its grid values")
    raise UserError(f"reference must be a cell number or a mapping of grid values, got {reference!r}")

"""The sweep directory: a manifest that names what was run, and one parquet part per finished task,
so an interrupted sweep resumes where it stopped and never mixes two different sweeps.

``manifest.json`` holds the resolved base scenario, the grid (or design) and the number of
replications; ``parts/cell-CCCC_rep-RRRR.parquet`` one row per finished task, written atomically.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from o2c_sim.errors import UserError
from o2c_sim.data.rundir import atomic_file, atomic_write_text
from o2c_sim.scenario import Scenario
from o2c_sim.experiments.tables import ID_COLUMNS, as_float

MANIFEST_FORMAT = 1


def part_name(cell: int, replication: int) -> str:
    return f"cell-{cell:04d}_rep-{replication:04d}.parquet"


_PART = re.compile(r"^cell-(\d+)_rep-(\d+)\.parquet$")


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    with atomic_file(path) as tmp:
        frame.to_parquet(tmp, index=False)


def _jsonable(obj: Any) -> Any:
    """``obj`` as it reads back from JSON (dates → ISO strings, tuples → lists)."""
    return json.loads(json.dumps(obj, default=lambda o: o.isoformat() if isinstance(o, (dt.date, dt.datetime)) else str(o)))


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(obj, list) and obj and all(isinstance(v, dict) for v in obj):
        out = {}
        for i, v in enumerate(obj):
            out.update(_flatten(v, f"{prefix}.{v.get('name', i)}"))
        return out
    return {prefix: obj}


def _describe_difference(old: dict, new: dict) -> str:
    reasons = []
    if old.get("grid") != new["grid"]:
        reasons.append(f"the grid differs: it holds {json.dumps(old.get('grid'))}, you asked for {json.dumps(new['grid'])}")
    if old.get("replications") != new["replications"]:
        reasons.append(f"the number of replications differs: it holds {old.get('replications')}, you asked for {new['replications']}")
    if old.get("scenario") != new["scenario"]:
        a, b = _flatten(old.get("scenario") or {}), _flatten(new["scenario"])
        changed = sorted(k for k in set(a) | set(b) if a.get(k, "<absent>") != b.get(k, "<absent>"))
        shown = ", ".join(f"{k}: {a.get(k, '<absent>')!r} → {b.get(k, '<absent>')!r}" for k in changed[:5])
        more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        reasons.append(f"the scenario differs ({shown}{more})")
    return "; ".join(reasons) or "the manifest differs"


def prepare_directory(out: Path, manifest: dict) -> set[tuple[int, int]]:
    """Create or reopen a sweep directory; return the (cell, replication) tasks already finished there.

    A new (or empty) directory gets the manifest. An existing sweep directory must hold the same
    manifest; any other non-empty directory is refused, so nothing already there is mixed or lost.
    """
    out = Path(out)
    path = out / "manifest.json"
    if out.exists() and not out.is_dir():
        raise UserError("exists and is not a directory; choose another --out", source=str(out))
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read the sweep manifest ({exc}); choose another --out", source=str(path)) from None
        if old != manifest:
            raise UserError(f"this directory holds a different sweep — {_describe_difference(old, manifest)}. "
                            "Results are never mixed: choose another --out, or re-run with the original settings to resume",
                            source=str(out))
    elif out.exists() and any(out.iterdir()):
        raise UserError("already exists and is not a sweep directory (no manifest.json); nothing is overwritten — "
                        "choose another --out", source=str(out))
    try:
        (out / "parts").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the sweep directory: {exc.strerror}", source=str(out)) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UserError("the sweep directory is not writable; choose another --out", source=str(out))
    if not path.exists():
        atomic_write_text(path, json.dumps(manifest, indent=2))
        atomic_write_text(out / "scenario.yaml", Scenario.model_validate(manifest["scenario"]).to_yaml())
    done = set()
    for p in (out / "parts").iterdir():
        m = _PART.match(p.name)
        if m:
            done.add((int(m.group(1)), int(m.group(2))))
    return done


def read_part(path: Path) -> dict[str, float] | None:
    """A finished task's row, or None if the file cannot be read (it is then recomputed)."""
    try:
        frame = pd.read_parquet(path)
    except Exception:  # noqa: BLE001 — a damaged part is simply recomputed
        return None
    if len(frame) != 1:
        return None
    row = frame.iloc[0].to_dict()
    return {k: as_float(v) for k, v in row.items() if k not in ID_COLUMNS}


def manifest_for(scenario: Scenario, grid: dict[str, list], replications: int, cells: list[dict] | None = None) -> dict:
    """The identity of a sweep: what must match for a directory's parts to be reused."""
    design = {} if cells is None else {"cells": cells}
    return _jsonable({"format": MANIFEST_FORMAT, "scenario": scenario.model_dump(mode="json"),
                      "grid": grid, "replications": replications, **design})

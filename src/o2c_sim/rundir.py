"""Run directories, written atomically (DESIGN §4).

Everything is written into a hidden temporary sibling directory which is renamed into place only when
complete, so a failed run never leaves a directory that looks complete, and an existing directory is
never overwritten.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import UserError


def default_run_dir(name: str, root: str | Path = "runs") -> Path:
    return Path(root) / f"{name}-{dt.datetime.now():%Y%m%d-%H%M%S}"


def check_target(out: Path) -> None:
    """Fail early (before any work) if ``out`` exists or its parent cannot be written."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError("already exists; an earlier run is never overwritten — choose another --out or remove it", source=str(out))
    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the output directory's parent: {exc.strerror}", source=str(parent)) from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError("the output directory's parent is not writable; choose another --out", source=str(parent))


@contextmanager
def atomic_dir(out: str | Path) -> Iterator[Path]:
    """Yield a temporary directory; on success rename it to ``out``, on failure remove it."""
    out = Path(out)
    check_target(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            out.rmdir()  # an empty directory left by the user; check_target refused a non-empty one
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _clean(obj):
    """JSON with NaN written as null."""
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item"):
        return _clean(obj.item())
    return obj


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(_clean(data), indent=2), encoding="utf-8")


def write_run(out: str | Path, reps) -> Path:
    """Write the run directory for :class:`~o2c_sim.experiments.Replications` ``reps``."""
    out = Path(out)
    with atomic_dir(out) as tmp:
        (tmp / "scenario.yaml").write_text(reps.scenario.to_yaml(), encoding="utf-8")
        for name in ("invoices", "events", "daily", "monthly"):
            reps.stacked(name).to_parquet(tmp / f"{name}.parquet", index=False)
        write_json(tmp / "kpis.json", reps.summary())
    return out

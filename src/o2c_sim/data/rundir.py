"""Outputs written atomically: run directories (DESIGN §4), and the files and folders every other
command writes.

Everything is written into a hidden temporary sibling which is renamed into place only when complete,
so a failed write never leaves a file or directory that looks complete, a reader never sees half a
file, and what was there before is untouched until the rename.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from o2c_sim.errors import UserError


#: longest file-name part taken from a user's name (most file systems allow 255 bytes)
MAX_NAME = 80


def safe_name(name: str, default: str = "run") -> str:
    """A file-name part from a user's text: letters, digits, ``. _ -`` only (others become ``_``), no
    leading dot, at most :data:`MAX_NAME` characters, so that a folder named after it can never
    leave its parent (``../x``, ``/etc``) or exceed the file-name limit."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._")[:MAX_NAME].strip("._")
    return cleaned or default


def default_run_dir(name: str, root: str | Path = "runs") -> Path:
    return Path(root) / f"{safe_name(name)}-{dt.datetime.now():%Y%m%d-%H%M%S}"


def check_writable(target: str | os.PathLike) -> None:
    """Fail early (before any long work) if the file ``target`` could not be created: its folder
    cannot be made or written."""
    folder = Path(target).parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"cannot be written: {existing} is not a folder", source=str(target))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"cannot be written: the folder {existing} is not writable; choose another path", source=str(target))


def new_subdir(parent: str | os.PathLike, name: str) -> Path:
    """A path inside ``parent`` named after ``name`` that does not exist yet (``name``, ``name-2``, …)."""
    parent, base = Path(parent), safe_name(name)
    candidate, i = parent / base, 2
    while candidate.exists():
        candidate, i = parent / f"{base}-{i}", i + 1
    return candidate


def check_target(out: Path) -> None:
    """Fail early (before any work) if ``out`` exists or its parent cannot be written."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError("already exists; an earlier run is never overwritten — choose another --out or remove it", source=str(out))
    parent = out.parent if str(out.parent) else Path(".")
    blocking = next((p for p in (parent, *parent.parents) if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise UserError(f"cannot create it: {blocking} is a file, not a folder", source=str(out))
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the output directory's parent: {exc.strerror}", source=str(parent)) from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError("the output directory's parent is not writable; choose another --out", source=str(parent))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish_dir(tmp: Path, target: Path) -> None:
    """Rename a finished temporary directory (``mkdtemp``, mode 0700) to ``target`` with the usual
    permissions."""
    os.chmod(tmp, 0o777 & ~_umask())
    os.replace(tmp, target)


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
        publish_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextmanager
def atomic_file(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling path of ``target`` to write; on success rename it onto ``target``,
    on failure remove it (``target`` keeps its earlier content). A directory that cannot be written
    is a :class:`UserError` naming ``target``."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    except OSError as exc:
        raise UserError(f"cannot write here: {exc.strerror or exc}", source=str(target)) from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(target: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``target`` atomically (:func:`atomic_file`)."""
    with atomic_file(target) as tmp, open(tmp, "w", newline="", encoding=encoding) as fh:
        fh.write(text)
    return Path(target)


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


def json_text(data) -> str:
    """``data`` as indented JSON, NaN and infinities as null."""
    return json.dumps(_clean(data), indent=2)


def write_json(path: Path, data) -> None:
    path.write_text(json_text(data), encoding="utf-8")


def write_run(out: str | Path, reps) -> Path:
    """Write the run directory for :class:`~o2c_sim.experiments.replications.Replications` ``reps``."""
    out = Path(out)
    with atomic_dir(out) as tmp:
        (tmp / "scenario.yaml").write_text(reps.scenario.to_yaml(), encoding="utf-8")
        for name in ("invoices", "events", "activities", "daily", "monthly"):
            reps.stacked(name).to_parquet(tmp / f"{name}.parquet", index=False)
        if reps.scenario.teams.enabled:  # per-team and per-collector KPIs (docs/model.md §2.21)
            for name in ("teams", "collectors"):
                reps.stacked(name).to_parquet(tmp / f"{name}.parquet", index=False)
        if reps.scenario.queries.enabled:  # query management (docs/model.md §2.22)
            for name in ("queries", "query_channels", "query_reasons"):
                reps.stacked(name).to_parquet(tmp / f"{name}.parquet", index=False)
        if reps.scenario.refunds.enabled:  # one row per refund paid (docs/model.md §2.23)
            reps.stacked("refunds").to_parquet(tmp / "refunds.parquet", index=False)
        write_json(tmp / "kpis.json", reps.summary())
    return out

"""Files meant for Excel: workbooks of a report's tables (openpyxl) and CSV exports, safe to open.

Formula injection (DESIGN §10, OWASP "CSV Injection"): a text cell whose first character is ``=``,
``+``, ``-``, ``@``, a tab or a carriage return would be evaluated by Excel as a formula
(``=HYPERLINK(...)``, ``@SUM(...)``, ``-2+3``). :func:`looks_like_formula` is the one test for it:

* XLSX (:func:`write_tables`): every text cell is written with the explicit string type, so Excel
  shows the text as it is and never evaluates it; the value itself is not changed, so reading the
  workbook back gives exactly the text that was written. Numbers stay numbers and dates stay dates.
* CSV (:func:`write_csv`, used by every CSV the project writes): a CSV has no cell types, so text
  that looks like a formula gets a leading apostrophe (:func:`formula_safe`), which Excel shows as text.

Example::

    from o2c_sim.data.excel import write_tables
    write_tables("report.xlsx", {"KPI comparison": kpis, "Staffing": staffing})
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from o2c_sim.errors import UserError
from o2c_sim.data.rundir import atomic_file

FORMULA_PREFIXES = ("=", "+", "-", "@")
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control characters XML cannot hold


FORMULA_STARTS = (*FORMULA_PREFIXES, "\t", "\r")


def looks_like_formula(value: Any) -> bool:
    """Text Excel would evaluate: it starts with ``= + - @``, a tab or CR and is not a plain number."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return False
    try:
        float(value)
        return False  # -5.00 or +3 is a number, harmless
    except ValueError:
        return True


def formula_safe(value: Any) -> Any:
    """``value`` with a leading apostrophe if Excel would read it as a formula; anything else unchanged."""
    return "'" + value if looks_like_formula(value) else value


def write_csv(path: str | os.PathLike, frame: pd.DataFrame, *, index: bool = True, encoding: str = "utf-8-sig") -> Path:
    """Write ``frame`` as CSV atomically, every text cell (index and header included) made formula-safe.

    ``utf-8-sig`` (with a byte-order mark) is what Excel needs to read non-ASCII text correctly."""
    path = Path(path)
    safe = frame.copy()
    safe.columns = [formula_safe(str(c)) for c in safe.columns]
    if index:
        safe.index = safe.index.map(formula_safe)
        safe.index.names = [formula_safe(n) if isinstance(n, str) else n for n in safe.index.names]
    for col in safe.columns[safe.dtypes.eq(object).to_numpy() | safe.dtypes.map(pd.api.types.is_string_dtype).to_numpy()]:
        safe[col] = safe[col].map(formula_safe)
    with atomic_file(path) as tmp:
        safe.to_csv(tmp, index=index, encoding=encoding)
    return path


def sheet_name(name: str, taken: set[str]) -> str:
    """A valid, unique Excel sheet name (≤ 31 characters, none of ``[]:*?/\\``)."""
    base = _BAD_SHEET_CHARS.sub("_", str(name)).strip("'") or "Sheet"
    base = base[:31]
    candidate, i = base, 2
    while candidate.lower() in {t.lower() for t in taken}:
        suffix = f" ({i})"
        candidate = base[: 31 - len(suffix)] + suffix
        i += 1
    taken.add(candidate)
    return candidate


def _cell_value(value: Any) -> tuple[Any, bool]:
    """(value for openpyxl, is_text)."""
    if value is None:
        return None, False
    if isinstance(value, (bool, np.bool_)):
        return bool(value), False
    if isinstance(value, (int, np.integer)):
        return int(value), False
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return (None, False) if math.isnan(v) or math.isinf(v) else (v, False)
    if isinstance(value, pd.Timestamp):
        if pd.isna(value):
            return None, False
        return (value.tz_localize(None) if value.tzinfo else value).to_pydatetime(), False
    if isinstance(value, (dt.datetime, dt.date)):
        return value, False
    if isinstance(value, pd.Period):
        return str(value), True
    if value is pd.NaT or (not isinstance(value, (list, tuple, dict, str)) and pd.isna(value)):
        return None, False
    return _ILLEGAL.sub("", str(value)), True  # written as string type: never a formula (looks_like_formula)


def _write_sheet(ws, frame: pd.DataFrame, index: bool) -> None:
    from openpyxl.cell.cell import TYPE_STRING
    from openpyxl.styles import Font

    frame = frame.reset_index() if index and not isinstance(frame.index, pd.RangeIndex) else frame
    columns = [str(c) if not isinstance(c, tuple) else " / ".join(map(str, c)) for c in frame.columns]
    for j, name in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=j)
        cell.value = _ILLEGAL.sub("", name)
        cell.data_type = TYPE_STRING
        cell.font = Font(bold=True)
    for i, row in enumerate(frame.itertuples(index=False, name=None), start=2):
        for j, raw in enumerate(row, start=1):
            value, is_text = _cell_value(raw)
            cell = ws.cell(row=i, column=j)
            cell.value = value
            if is_text:
                cell.data_type = TYPE_STRING  # never a formula, whatever the first character
            elif isinstance(value, dt.datetime):
                cell.number_format = "yyyy-mm-dd hh:mm" if (value.hour or value.minute) else "yyyy-mm-dd"
            elif isinstance(value, dt.date):
                cell.number_format = "yyyy-mm-dd"
    for j, name in enumerate(columns, start=1):
        width = max([len(name)] + [len(str(v)) for v in frame.iloc[:200, j - 1].tolist()])
        ws.column_dimensions[ws.cell(row=1, column=j).column_letter].width = min(60, max(8, width + 2))
    ws.freeze_panes = "A2"


def write_tables(path: str | os.PathLike, tables: Mapping[str, pd.DataFrame | pd.Series], *, index: bool = True) -> Path:
    """Write each table to its own sheet of the workbook at ``path`` (atomically: temp file + rename).

    ``tables`` maps sheet names to DataFrames (or Series); a named or non-default index is written as
    the first column(s) when ``index``. Returns the path written.
    """
    from openpyxl import Workbook

    path = Path(path)
    if not tables:
        raise UserError("no tables to write to Excel", source=str(path))
    if path.suffix.lower() != ".xlsx":
        raise UserError("expected a file name ending in .xlsx", source=str(path))
    wb = Workbook()
    wb.remove(wb.active)
    taken: set[str] = set()
    for name, table in tables.items():
        frame = table.to_frame() if isinstance(table, pd.Series) else pd.DataFrame(table)
        _write_sheet(wb.create_sheet(sheet_name(name, taken)), frame, index)
    try:
        with atomic_file(path) as tmp:
            wb.save(tmp)
    except OSError as exc:
        raise UserError(f"cannot write the workbook: {exc.strerror or exc}", source=str(path)) from None
    return path

"""Importing a ledger (CSV, XLSX or Parquet) into the canonical invoice table, checking every row.

A file already in the canonical column names (see :mod:`o2c_sim.invoice_table`) needs no mapping. An
ERP export is read through a small YAML column mapping (:class:`Mapping`, e.g.
``scenarios/mappings/ibm_ar.yaml``): which source column feeds each canonical column, the date
format(s), value maps (``Disputed: Yes/No`` → bool, ``PaperlessBill`` → channel) and, for mixed
currencies, the currency column and the rates into the ledger currency.

Every row is checked and every problem is reported with the file, the row number as a spreadsheet
shows it (header = row 1), the column and the value. ``on_error="fail"`` raises one
:class:`~o2c_sim.errors.UserError` listing them; ``on_error="quarantine"`` returns the good rows and
writes the bad ones, with a ``problem`` column, to a side CSV. Rows are checked independently: a bad
row never drops or shifts another row.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, ValidationError, field_validator, model_validator

from . import invoice_table
from .errors import UserError
from .excel import FORMULA_PREFIXES
from .invoice_table import COLUMNS, DATE_COLUMNS, MONEY_COLUMNS, REQUIRED
from .rundir import atomic_write_text
from .scenario import read_yaml
from .settings import MAPPINGS_DIR

MAX_LISTED = 20  # problems listed in an error message; the rest are counted
CENT = 0.005  # tolerance when comparing money
#: accepted spellings of a bool when a mapping gives no value map for ``disputed``
BOOL_WORDS = {"true": True, "false": False, "yes": True, "no": False, "y": True, "n": False,
              "t": True, "f": False, "1": True, "0": False, "": False}
#: canonical columns that take a value map (dates and money are parsed, not mapped)
MAPPABLE = tuple(c for c in COLUMNS if c not in DATE_COLUMNS + MONEY_COLUMNS)


# --------------------------------------------------------------------------------------------- mapping


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CurrencyMapping(_Strict):
    """Mixed-currency ledgers: amounts in ``column``'s currency × ``rates[currency]`` = ledger currency."""

    column: str  # source column holding the currency code of each row
    ledger: str  # rows in this currency are taken as they are
    rates: dict[str, PositiveFloat] = Field(default_factory=dict)  # ledger units per unit of currency

    @field_validator("ledger")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.strip().upper()

    @field_validator("rates")
    @classmethod
    def _upper_keys(cls, v: dict[str, float]) -> dict[str, float]:
        return {k.strip().upper(): r for k, r in v.items()}


class Mapping(_Strict):
    """How an ERP export's columns and values become the canonical invoice table."""

    columns: dict[str, str] = Field(default_factory=dict)  # canonical column -> source column
    date_formats: list[str] = Field(default_factory=lambda: ["%Y-%m-%d", "%Y-%m-%d %H:%M:%S"], min_length=1)
    values: dict[str, dict[str, Any]] = Field(default_factory=dict)  # canonical column -> {source value: value}
    currency: CurrencyMapping | None = None
    sep: str = ","  # CSV field separator
    encoding: str = "utf-8"  # CSV text encoding
    sheet: str | int = 0  # XLSX sheet name or 0-based index

    @field_validator("columns")
    @classmethod
    def _canonical_keys(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(COLUMNS))
        if unknown:
            raise ValueError(f"unknown canonical column(s) {unknown}; expected some of {', '.join(COLUMNS)}")
        sources = list(v.values())
        repeated = sorted({s for s in sources if sources.count(s) > 1})
        if repeated:
            raise ValueError(f"source column(s) {repeated} mapped to more than one canonical column")
        return v

    @field_validator("date_formats")
    @classmethod
    def _strftime(cls, v: list[str]) -> list[str]:
        for fmt in v:
            if "%" not in fmt:
                raise ValueError(f"date format {fmt!r} has no %-directive; write e.g. '%m/%d/%Y' or '%Y-%m-%d'")
        return v

    @field_validator("values", mode="before")
    @classmethod
    def _string_keys(cls, v: Any) -> Any:
        if isinstance(v, dict):
            for col, table in v.items():
                for key in table if isinstance(table, dict) else ():
                    if not isinstance(key, str):
                        raise ValueError(
                            f"values.{col}: key {key!r} is not text; quote it ('Yes', 'No', '1') — "
                            "YAML reads bare Yes/No/On/Off/numbers as other types")
        return v

    @model_validator(mode="after")
    def _value_maps(self) -> "Mapping":
        for col, table in self.values.items():
            if col not in MAPPABLE:
                raise ValueError(f"values.{col}: only {', '.join(MAPPABLE)} take a value map")
            if col == "disputed" and not all(isinstance(x, bool) for x in table.values()):
                raise ValueError("values.disputed must map each source value to true or false")
            if col != "disputed" and not all(isinstance(x, str) for x in table.values()):
                raise ValueError(f"values.{col} must map each source value to a text value")
        return self


def mapping_path(name_or_path: str | os.PathLike) -> Path:
    """Resolve ``ibm_ar`` to the shipped ``scenarios/mappings/ibm_ar.yaml``; other paths are returned as given."""
    p = Path(name_or_path)
    if p.exists():
        return p
    for candidate in (MAPPINGS_DIR / p, MAPPINGS_DIR / f"{p}.yaml"):
        if candidate.exists():
            return candidate
    return p


def load_mapping(path: str | os.PathLike) -> Mapping:
    """Load and validate a column-mapping YAML file (unknown keys rejected) or a shipped name like ``ibm_ar``."""
    return load_mapping_model(Mapping, path, "columns, date_formats, values")


def load_mapping_model(model: type[BaseModel], path: str | os.PathLike, keys: str) -> Any:
    """Load a mapping YAML (a file or a shipped name) into the pydantic ``model``; every mistake becomes one
    :class:`UserError` naming the file and the field. ``keys`` lists a few expected keys for the message."""
    resolved = mapping_path(path)
    data = read_yaml(resolved)
    if not isinstance(data, dict):
        raise UserError(f"expected a mapping with keys such as {keys}", source=str(resolved))
    try:
        return model.model_validate(data)
    except ValidationError as err:
        parts = []
        for e in err.errors():
            loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
            msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"].removeprefix("Value error, ")
            parts.append(f"field '{loc}': {msg}")
        raise UserError("; ".join(parts), source=str(resolved)) from None


# --------------------------------------------------------------------------------------------- reading


def _records_frame(header: list[Any], records: list[tuple[int, list[Any]]], source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Raw rows (object values, index = file row number) and the rows whose width differs from the header."""
    names = ["" if h is None else str(h).strip() for h in header]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise UserError("the file is empty: no header row with column names", source=source)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UserError(f"the header names column(s) {repeated} more than once (row 1)", source=source)
    width = len(names)
    rows, values, ragged = [], [], []
    for number, rec in records:
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in rec):
            continue  # blank line: skipped, row numbers of the others unchanged
        extra = [v for v in rec[width:] if v not in (None, "")]
        if extra:
            ragged.append((number, None, extra, f"row has {width + len(extra)} values but the header has {width} columns"))
        rows.append(number)
        values.append(list(rec[:width]) + [None] * (width - len(rec)))
    raw = pd.DataFrame(values, columns=names, index=pd.Index(rows, name="row"), dtype=object)
    return raw, _problems(ragged)


def _read_raw(path: Path, mapping: Mapping, what: str = "ledger") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read CSV, XLSX or Parquet as raw values keyed by the row number a user sees (header = row 1).
    ``mapping`` needs only ``sep``, ``encoding`` and ``sheet``; ``what`` names the file in messages."""
    source = str(path)
    if not path.exists():
        raise UserError(f"file not found; expected a CSV, XLSX or Parquet {what}", source=source)
    if path.is_dir():
        raise UserError(f"is a directory; expected a CSV, XLSX or Parquet {what} file", source=source)
    suffix = path.suffix.lower()
    try:
        if suffix in {".xlsx", ".xlsm"}:
            return _read_xlsx(path, mapping)
        if suffix in {".parquet", ".pq"}:
            df = pd.read_parquet(path)
            df = df.reset_index(drop=True).astype(object)
            df.index = pd.Index(np.arange(len(df)) + 2, name="row")
            df.columns = [str(c) for c in df.columns]
            return df, _problems([])
        with open(path, newline="", encoding=mapping.encoding) as fh:
            reader = csv.reader(fh, delimiter=mapping.sep)
            header = next(reader, None)
            if header is None:
                raise UserError("the file is empty: no header row with column names", source=source)
            records = [(i + 2, rec) for i, rec in enumerate(reader)]
        return _records_frame(header, records, source)
    except UserError:
        raise
    except UnicodeDecodeError as exc:
        raise UserError(f"cannot be read as {mapping.encoding} text ({exc.reason} at byte {exc.start}); "
                        "set 'encoding' in the mapping (e.g. cp1252)", source=source) from None
    except (csv.Error, OSError, ValueError, ImportError) as exc:
        raise UserError(f"cannot be read as a {suffix.lstrip('.') or 'CSV'} {what}: {exc}", source=source) from None
    except Exception as exc:  # pyarrow / openpyxl raise their own types for corrupt files
        raise UserError(f"cannot be read as a {suffix.lstrip('.')} {what}: {type(exc).__name__}: {exc}", source=source) from None


def _read_xlsx(path: Path, mapping: Mapping) -> tuple[pd.DataFrame, pd.DataFrame]:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        if isinstance(mapping.sheet, int):
            if not 0 <= mapping.sheet < len(wb.worksheets):
                raise UserError(f"sheet index {mapping.sheet} does not exist (the workbook has {len(wb.worksheets)})", source=str(path))
            ws = wb.worksheets[mapping.sheet]
        elif mapping.sheet in wb.sheetnames:
            ws = wb[mapping.sheet]
        else:
            raise UserError(f"no sheet named {mapping.sheet!r}; the workbook has {wb.sheetnames}", source=str(path))
        rows = ws.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise UserError("the sheet is empty: no header row with column names", source=str(path))
        records = [(i + 2, list(rec)) for i, rec in enumerate(rows)]
    finally:
        wb.close()
    return _records_frame(list(header), records, str(path))


# --------------------------------------------------------------------------------------------- parsing


def _problems(items: list[tuple[Any, Any, Any, str]]) -> pd.DataFrame:
    return pd.DataFrame(items, columns=["row", "column", "value", "message"])


def _flag(mask: pd.Series, raw: pd.Series | None, column: str | None, message: str | pd.Series) -> pd.DataFrame:
    """One problem per row where ``mask`` holds: the file row, the source column, the raw value, the message."""
    mask = mask.fillna(False).astype(bool)
    idx = mask.index[mask.to_numpy()]
    msg = message[mask] if isinstance(message, pd.Series) else message
    value = raw[mask] if raw is not None else None
    return pd.DataFrame({"row": idx, "column": column, "value": value if value is None else value.to_numpy(),
                         "message": msg if isinstance(msg, str) else msg.to_numpy()})


def _text(s: pd.Series) -> pd.Series:
    """Raw values as stripped text: missing → "", 611365.0 → "611365" (spreadsheet numbers)."""
    def one(v: Any) -> str:
        if v is None or v is pd.NaT or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            return ""
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v).strip()
    return s.map(one).astype(object)


def _example(fmt: str) -> str:
    return dt.datetime(2013, 1, 31).strftime(fmt)


def _parse_dates(raw: pd.Series, text: pd.Series, formats: list[str], keep_time: bool = False) -> pd.Series:
    """Native dates (XLSX, Parquet) as they are; text tried against each format in turn; NaT where none fits.
    Midnight of each date unless ``keep_time``."""
    native = raw.map(lambda v: isinstance(v, (dt.date, np.datetime64)) and not pd.isna(v)).astype(bool)
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    if native.any():
        out[native] = pd.to_datetime(raw[native].map(pd.Timestamp)).astype("datetime64[ns]")
    for fmt in formats:
        todo = out.isna() & ~native & text.ne("")
        if not todo.any():
            break
        out[todo] = pd.to_datetime(text[todo], format=fmt, errors="coerce").astype("datetime64[ns]")
    return out if keep_time else out.dt.normalize()


def _parse_numbers(raw: pd.Series, text: pd.Series) -> pd.Series:
    """Numbers as floats; booleans, text that is not a number, inf and nan become NaN."""
    def one(v: Any, t: str) -> float:
        if isinstance(v, bool):
            return math.nan
        if isinstance(v, (int, float, np.integer, np.floating)):
            x = float(v)
        else:
            try:
                x = float(t)
            except ValueError:
                return math.nan
        return x if math.isfinite(x) else math.nan
    return pd.Series([one(v, t) for v, t in zip(raw, text)], index=raw.index, dtype="float64")


def _map_values(text: pd.Series, table: dict[str, Any]) -> tuple[pd.Series, pd.Series]:
    """Look each value up (case-insensitively); returns (mapped values, mask of unknown values)."""
    lookup = {str(k).strip().casefold(): v for k, v in table.items()}
    keys = text.map(str.casefold)
    known = keys.isin(list(lookup))
    return keys.map(lambda k: lookup.get(k)), ~known


def _resolve_columns(raw: pd.DataFrame, mapping: Mapping, explicit: bool, source: str) -> dict[str, str]:
    """canonical column → source column; missing required or mapped columns stop the import."""
    found = list(raw.columns)
    columns = {c: c for c in COLUMNS if c in found}
    columns.update(mapping.columns)
    missing = [f"'{src}' (for {canon})" for canon, src in mapping.columns.items() if src not in found]
    missing += [f"'{c}'" for c in REQUIRED if c not in columns]
    if mapping.currency and mapping.currency.column not in found:
        missing.append(f"'{mapping.currency.column}' (currency)")
    if missing:
        hint = ("check the mapping's column names" if explicit else
                f"name the columns {', '.join(REQUIRED)} or pass a column mapping (--mapping, see scenarios/mappings/)")
        raise UserError(f"missing column(s) {', '.join(missing)}; the file has {found}; {hint}", source=source)
    return columns


def _parse(raw: pd.DataFrame, columns: dict[str, str], mapping: Mapping) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Parse every mapped column and run the row checks; returns (parsed values, list of problem frames)."""
    out = pd.DataFrame(index=raw.index)
    found: list[pd.DataFrame] = []
    fmt_hint = " or ".join(f"{_example(f)} ({f})" for f in mapping.date_formats)
    for canon, src in columns.items():
        values, text = raw[src], _text(raw[src])
        empty = text.eq("")
        if canon in REQUIRED:
            found.append(_flag(empty, values, src, f"empty value; {canon} is required"))
        if canon in DATE_COLUMNS:
            parsed = _parse_dates(values, text, mapping.date_formats)
            found.append(_flag(parsed.isna() & ~empty, values, src, f"unparseable date; expected a date like {fmt_hint}"))
        elif canon in MONEY_COLUMNS:
            parsed = _parse_numbers(values, text)
            found.append(_flag(parsed.isna() & ~empty, values, src, "not a number; expected an amount like 1234.56"))
            found.append(_flag(parsed < 0, values, src, f"negative {canon}; expected 0 or more (credit notes are not invoices)"))
            if canon not in REQUIRED:
                parsed = parsed.where(~empty, 0.0)
        elif canon in mapping.values or canon == "disputed":
            table = mapping.values.get(canon, BOOL_WORDS)
            parsed, unknown = _map_values(text, table)
            expected = ", ".join(repr(k) for k in table if k != "")
            found.append(_flag(unknown & ~(empty & (canon in REQUIRED)), values, src,
                               f"unknown value; expected one of {expected} (see values.{canon} in the mapping)"))
        else:
            parsed = text
        out[canon] = parsed
    if mapping.currency:
        found.append(_convert_currency(raw, out, mapping.currency))
    found.extend(_row_checks(raw, out, columns))
    return out, found


def _convert_currency(raw: pd.DataFrame, out: pd.DataFrame, cur: CurrencyMapping) -> pd.DataFrame:
    """Money columns × rate of the row's currency (1 for the ledger currency); rows without a rate are flagged."""
    code = _text(raw[cur.column]).str.upper()
    rates = {cur.ledger: 1.0, **cur.rates}
    rate = code.map(lambda c: rates.get(c, math.nan)).astype(float)
    for col in MONEY_COLUMNS:
        if col in out:
            out[col] = out[col] * rate
    message = code.map(lambda c: f"empty currency; expected a code such as {cur.ledger}" if not c else
                       f"currency {c} is not the ledger currency {cur.ledger} and has no rate; "
                       f"add currency.rates.{c} to the mapping")
    return _flag(rate.isna(), raw[cur.column], cur.column, message)


def _row_checks(raw: pd.DataFrame, out: pd.DataFrame, columns: dict[str, str]) -> list[pd.DataFrame]:
    """Checks across columns: date order, overpayment, duplicate invoice ids."""
    found = []
    inv = out["invoice_date"]
    found.append(_flag(out["due_date"] < inv, raw[columns["due_date"]], columns["due_date"],
                       "due date is before the invoice date " + inv.dt.strftime("%Y-%m-%d").fillna("")))
    if "paid_date" in out:
        found.append(_flag(out["paid_date"] < inv, raw[columns["paid_date"]], columns["paid_date"],
                           "paid date is before the invoice date " + inv.dt.strftime("%Y-%m-%d").fillna("")))
    if "paid_amount" in out:
        found.append(_flag(out["paid_amount"] > out["amount"] + CENT, raw[columns["paid_amount"]], columns["paid_amount"],
                           "paid amount is greater than the invoice amount " + out["amount"].map("{:.2f}".format)))
    ids = out["invoice_id"]
    repeat = ids.duplicated(keep="first") & ids.ne("")
    if repeat.any():
        first_row = pd.Series(ids.index, index=ids.index).groupby(ids.to_numpy()).transform("min")
        found.append(_flag(repeat, raw[columns["invoice_id"]], columns["invoice_id"],
                           "duplicate invoice id (first seen on row " + first_row.astype(str) + ")"))
    return found


def _settled_in_full(out: pd.DataFrame) -> pd.Series:
    """Without a paid-amount column a settled invoice is paid in full: amount − credited − written off; open: 0."""
    rest = out["amount"] - out.get("credited_amount", 0.0) - out.get("written_off_amount", 0.0)
    return rest.where(out["paid_date"].notna(), 0.0)


# --------------------------------------------------------------------------------------------- loading


def format_problems(problems: pd.DataFrame, *, limit: int = MAX_LISTED, row_label: str = "row") -> str:
    """One line per problem, ``row R, column 'C': message (got 'V')``, capped at ``limit`` lines + "and N more"."""
    lines = []
    for p in problems.head(limit).itertuples(index=False):
        where = ", ".join(x for x in (f"{row_label} {p.row}" if pd.notna(p.row) else "",
                                      f"column '{p.column}'" if isinstance(p.column, str) else "") if x)
        got = "" if p.value is None or (isinstance(p.value, float) and math.isnan(p.value)) else f" (got {p.value!r})"
        lines.append(f"  {where}: {p.message}{got}")
    if len(problems) > limit:
        lines.append(f"  and {len(problems) - limit} more")
    return "\n".join(lines)


def default_quarantine_path(path: str | os.PathLike) -> Path:
    """``ledger.csv`` → ``ledger.quarantine.csv`` beside it."""
    path = Path(path)
    return path.with_name(f"{path.stem}.quarantine.csv")


def _excel_safe(v: Any) -> Any:
    """Text starting with = + - @ (or tab/CR) gets a leading apostrophe so that Excel shows it as text, not a formula."""
    if isinstance(v, str) and v[:1] in (*FORMULA_PREFIXES, "\t", "\r"):
        try:
            float(v)
            return v  # a plain number such as -5.00 is harmless
        except ValueError:
            return "'" + v
    return v


def _write_quarantine(raw: pd.DataFrame, problems: pd.DataFrame, target: Path, source: Path) -> None:
    """Bad rows as read (plus ``row`` and ``problem``) to ``target``, atomically; never onto the input."""
    if target.resolve() == source.resolve():
        raise UserError("the quarantine file would overwrite the input ledger; choose another path", source=str(target))
    if target.is_dir():
        raise UserError("is a directory; expected a CSV file name for the quarantined rows", source=str(target))
    per_row = problems.assign(text=[
        (f"{c}: " if isinstance(c, str) else "") + m for c, m in zip(problems["column"], problems["message"])
    ]).groupby("row")["text"].agg("; ".join)
    bad = raw.loc[per_row.index].map(_excel_safe)
    bad.insert(0, "row", bad.index)
    bad["problem"] = per_row.map(_excel_safe)
    atomic_write_text(target, bad.to_csv(index=False), encoding="utf-8-sig")


def load_ledger(
    path: str | os.PathLike,
    mapping: Mapping | str | os.PathLike | None = None,
    *,
    on_error: Literal["fail", "quarantine"] = "fail",
    quarantine_path: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """Read a ledger into the canonical invoice table (:func:`o2c_sim.invoice_table.conform`).

    ``mapping`` is a :class:`Mapping`, a mapping file or a shipped name (``"ibm_ar"``); ``None`` means the
    file already uses the canonical column names. With ``on_error="fail"`` any bad row raises a
    :class:`UserError` listing the problems; with ``"quarantine"`` the bad rows go to ``quarantine_path``
    (default ``<name>.quarantine.csv`` beside the input) and the good rows are returned. Problems with the
    whole file (unreadable, empty, missing columns) always raise.

    Row numbers are those a spreadsheet shows (header = row 1, blank lines counted); a Parquet file's
    first record is numbered row 2 likewise. The result's ``attrs`` hold ``source``, ``quarantined`` (number of bad rows) and ``quarantine_path``.
    """
    if on_error not in ("fail", "quarantine"):
        raise UserError(f"on_error must be 'fail' or 'quarantine', got {on_error!r}")
    path = Path(path)
    explicit = mapping is not None
    if mapping is None:
        mapping = Mapping()
    elif not isinstance(mapping, Mapping):
        mapping = load_mapping(mapping)
    raw, ragged = _read_raw(path, mapping)
    if raw.empty:
        raise UserError("no data rows below the header", source=str(path))
    columns = _resolve_columns(raw, mapping, explicit, str(path))
    parsed, found = _parse(raw, columns, mapping)
    bad, target = set_aside(raw, [ragged, *found], path, on_error=on_error, quarantine_path=quarantine_path)
    if "paid_date" in parsed and "paid_amount" not in columns:
        parsed["paid_amount"] = _settled_in_full(parsed)
    table = invoice_table.conform(parsed[~bad])
    table.attrs = {"source": str(path), "quarantined": int(bad.sum()), "quarantine_path": target}
    return table


def set_aside(raw: pd.DataFrame, found: list[pd.DataFrame], path: Path, *, on_error: str,
              quarantine_path: str | os.PathLike | None, row_label: str = "row",
              numbering: str = "row numbers as in a spreadsheet, header = row 1") -> tuple[np.ndarray, str | None]:
    """Settle the problems ``found`` in ``raw`` (index = row number): ``on_error="fail"`` raises one
    :class:`UserError` listing them; ``"quarantine"`` writes the bad rows to ``quarantine_path`` (default
    beside ``path``). Returns the mask of bad rows and the quarantine file written (None if none)."""
    problems = pd.concat(found, ignore_index=True).astype({"row": "int64"})
    problems = problems.sort_values("row", kind="stable").reset_index(drop=True)
    bad = raw.index.isin(problems["row"])
    if problems.empty:
        return bad, None
    if on_error == "fail":
        n_rows = problems["row"].nunique()
        raise UserError(
            f"{len(problems)} problem(s) in {n_rows} of {len(raw)} {row_label}s ({numbering}); "
            f"fix them, or set the bad {row_label}s aside with --quarantine:\n"
            f"{format_problems(problems, row_label=row_label)}", source=str(path))
    target = Path(quarantine_path) if quarantine_path is not None else default_quarantine_path(path)
    _write_quarantine(raw, problems, target, path)
    return bad, str(target)

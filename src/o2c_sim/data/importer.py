"""Importing a ledger (CSV, XLSX or Parquet) into the canonical invoice table, checking every row.

A file already in the canonical column names (see :mod:`o2c_sim.data.invoice_table`) needs no mapping. An
ERP export is read through a small YAML column mapping (:class:`Mapping`, e.g.
``scenarios/mappings/ibm_ar.yaml``): which source column feeds each canonical column, the date
format(s), value maps (``Disputed: Yes/No`` → bool, ``PaperlessBill`` → channel) and, for mixed
currencies, the currency column and the rates into the ledger currency.

Every row is checked and every problem is reported with the file, the row number as a spreadsheet
shows it (header = row 1), the column and the value. ``on_error="fail"`` raises one
:class:`~o2c_sim.errors.UserError` listing them; ``on_error="quarantine"`` returns the good rows and
writes the bad ones, with a ``problem`` column, to a side CSV. Rows are checked independently: a bad
row never drops or shifts another row.

Real exports are taken as they come: a byte-order mark is skipped; the field separator (``, ; TAB |``)
and the decimal mark are detected unless the mapping states ``sep`` / ``decimal``; the date format is
the mapping's (``date_format``), checked against the file, or inferred, and a file whose dates read
both day-first and month-first is refused (:func:`date_formats`). A negative amount is a credit note;
a payment dated before its invoice is a prepayment, counted as paid on the invoice date; a file with
several currencies needs rates (:class:`CurrencyMapping`) and is refused without them.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import re
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PrivateAttr, ValidationError, field_validator, model_validator

from o2c_sim.data import invoice_table
from o2c_sim.errors import UserError
from o2c_sim.data.excel import write_csv
from o2c_sim.data.invoice_table import COLUMNS, DATE_COLUMNS, MONEY_COLUMNS, REQUIRED
from o2c_sim.data.rundir import check_writable
from o2c_sim.scenario import read_yaml
from o2c_sim.settings import SCENARIOS_DIR

MAPPINGS_DIR = SCENARIOS_DIR / "mappings"
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
    """Mixed-currency ledgers: every money value of a row × the rate of its currency = ledger currency.

    Rates are "ledger units per unit of currency": either one fixed rate per currency (``rates``) or a
    table by date (``rates_file``: a CSV with columns ``date, currency, rate``; the rate used is the
    latest one on or before the row's invoice date). Rows in the ledger currency take rate 1.
    """

    column: str  # source column holding the currency code of each row
    ledger: str  # rows in this currency are taken as they are
    rates: dict[str, PositiveFloat] = Field(default_factory=dict)  # ledger units per unit of currency
    rates_file: str | None = None  # CSV date,currency,rate; relative paths are read beside the mapping

    @field_validator("ledger")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.strip().upper()

    @field_validator("rates")
    @classmethod
    def _upper_keys(cls, v: dict[str, float]) -> dict[str, float]:
        return {k.strip().upper(): r for k, r in v.items()}


class Mapping(_Strict):
    """How an ERP export's columns and values become the canonical invoice table.

    ``date_format`` (one strftime format, e.g. ``'%d/%m/%Y'``) or ``date_formats`` (several, tried in
    turn) state how dates are written; with neither, the format is inferred from the file and a file
    whose dates read both day-first and month-first is refused. ``sep`` (field separator) and
    ``decimal`` (``.`` or ``,``) are detected when not given.
    """

    columns: dict[str, str] = Field(default_factory=dict)  # canonical column -> source column
    date_format: str | None = None
    date_formats: list[str] | None = Field(default=None, min_length=1)
    values: dict[str, dict[str, Any]] = Field(default_factory=dict)  # canonical column -> {source value: value}
    currency: CurrencyMapping | None = None
    sep: str | None = None  # CSV field separator; detected among , ; TAB | when absent
    decimal: Literal[".", ","] | None = None  # decimal mark of amounts; detected when absent
    encoding: str = "utf-8-sig"  # CSV text encoding (a byte-order mark is skipped)
    sheet: str | int = 0  # XLSX sheet name or 0-based index
    #: where the mapping file was read from (to find ``currency.rates_file``); not a YAML key
    _base_dir: Path | None = PrivateAttr(default=None)

    @field_validator("sep")
    @classmethod
    def _one_char(cls, v: str | None) -> str | None:
        if v is not None and len(v) != 1:
            raise ValueError(f"sep must be one character such as ',' ';' or '\\t', got {v!r}")
        return v

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str) -> str:
        import codecs

        try:
            codecs.lookup(v)
        except LookupError:
            raise ValueError(f"unknown text encoding {v!r}; expected e.g. utf-8, cp1252, latin-1") from None
        return v

    @property
    def stated_formats(self) -> list[str] | None:
        """The date formats the mapping states, or None when they are to be inferred from the file."""
        if self.date_format is not None:
            return [self.date_format]
        return self.date_formats

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

    @field_validator("date_formats", "date_format")
    @classmethod
    def _strftime(cls, v: list[str] | str | None) -> list[str] | str | None:
        for fmt in [v] if isinstance(v, str) else v or []:
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
        if self.date_format is not None and self.date_formats is not None:
            raise ValueError("give either date_format or date_formats, not both")
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
    return load_mapping_model(Mapping, path, "columns, date_format, values")


def load_mapping_model(model: type[BaseModel], path: str | os.PathLike, keys: str) -> Any:
    """Load a mapping YAML (a file or a shipped name) into the pydantic ``model``; every mistake becomes one
    :class:`UserError` naming the file and the field. ``keys`` lists a few expected keys for the message."""
    resolved = mapping_path(path)
    data = read_yaml(resolved)
    if not isinstance(data, dict):
        raise UserError(f"expected a mapping with keys such as {keys}", source=str(resolved))
    try:
        mapping = model.model_validate(data)
    except ValidationError as err:
        parts = []
        for e in err.errors():
            loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
            msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"].removeprefix("Value error, ")
            parts.append(f"field '{loc}': {msg}")
        raise UserError("; ".join(parts), source=str(resolved)) from None
    if "_base_dir" in model.__private_attributes__:  # relative paths in the mapping (an FX rates file) start here
        mapping._base_dir = resolved.parent
    return mapping


# ---------------------------------------------------------------------------------- allowed locations

#: environment variable listing the folders a dashboard may read ledgers and mappings from
#: (``os.pathsep``-separated); ``o2c-sim dashboard --allow-dir`` sets it for the server's kernels
ALLOWED_DIRS_ENV = "O2C_SIM_ALLOWED_DIRS"


def allowed_dirs() -> list[Path]:
    """Folders a dashboard may read files from: ``$O2C_SIM_ALLOWED_DIRS``, else the data directory, the
    shipped mappings and the current folder."""
    from o2c_sim.settings import data_dir

    env = os.environ.get(ALLOWED_DIRS_ENV)
    dirs = [Path(d) for d in env.split(os.pathsep) if d] if env else [data_dir(), MAPPINGS_DIR, Path.cwd()]
    return [d.resolve() for d in dirs]


def check_allowed(path: str | os.PathLike, what: str = "ledger") -> Path:
    """``path`` resolved (symbolic links followed) if it lies inside one of :func:`allowed_dirs`; otherwise
    a :class:`UserError` that names the folders but says nothing about the file (not even whether it exists)."""
    resolved = Path(path).expanduser().resolve()
    dirs = allowed_dirs() + ([MAPPINGS_DIR.resolve()] if what == "mapping" else [])  # shipped mappings always
    if not any(resolved.is_relative_to(d) for d in dirs):
        raise UserError(f"the {what} path {str(path)[:200]!r} is outside the folders this dashboard may read "
                        f"({', '.join(map(str, dirs))}); move the file there or start the server with "
                        "'o2c-sim dashboard --allow-dir FOLDER'")
    return resolved


# --------------------------------------------------------------------------------------------- reading


def _records_frame(header: list[Any], records: list[tuple[int, list[Any]]], source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Raw rows (object values, index = file row number) and the rows whose width differs from the header."""
    names = ["" if h is None else str(h).replace("\ufeff", "").strip() for h in header]
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
        sep = getattr(mapping, "sep", None) or sniff_separator(path, mapping.encoding)
        with open(path, newline="", encoding=mapping.encoding) as fh:
            reader = csv.reader(fh, delimiter=sep)
            header = next(reader, None)
            if header is None:
                raise UserError("the file is empty: no header row with column names", source=source)
            records = [(i + 2, rec) for i, rec in enumerate(reader)]
        raw, ragged = _records_frame(header, records, source)
        raw.attrs["read_as"] = f"read with field separator {sep!r}" + ("" if getattr(mapping, "sep", None) else " (detected)")
        raw.attrs["hint"] = "set 'sep' in the mapping if the columns run together"
        return raw, ragged
    except UserError:
        raise
    except UnicodeDecodeError as exc:
        raise UserError(f"cannot be read as {mapping.encoding.removesuffix('-sig')} text ({exc.reason} at byte {exc.start}); "
                        "set 'encoding' in the mapping (e.g. cp1252)", source=source) from None
    except csv.Error as exc:
        raise UserError(f"cannot be read as a CSV {what}: {exc}; check 'sep' and 'encoding' in the mapping",
                        source=source) from None
    except (OSError, ValueError, ImportError) as exc:
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
        title = ws.title
    finally:
        wb.close()
    raw, ragged = _records_frame(list(header), records, str(path))
    raw.attrs["read_as"] = f"read from sheet {title!r}"
    raw.attrs["hint"] = "set 'sheet' in the mapping to read another sheet"
    return raw, ragged


#: field separators :func:`sniff_separator` chooses from
SEPARATORS = (",", ";", "\t", "|")


def sniff_separator(path: Path, encoding: str, lines: int = 50) -> str:
    """The separator among :data:`SEPARATORS` that splits the first ``lines`` lines into the most
    columns, the same number on every line (quotes respected); ``,`` when none does better."""
    with open(path, newline="", encoding=encoding) as fh:
        head = [line for _, line in zip(range(lines), fh)]
    best, best_width = ",", 1
    for sep in SEPARATORS:
        widths = {len(rec) for rec in csv.reader(head, delimiter=sep) if any(v.strip() for v in rec)}
        if len(widths) == 1 and (width := widths.pop()) > best_width:
            best, best_width = sep, width
    if best_width == 1:  # ragged files: take the separator the header splits on most
        best = max(SEPARATORS, key=lambda sep: len(next(csv.reader(head[:1], delimiter=sep), [])))
    return best


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
    if pd.api.types.infer_dtype(s, skipna=False) == "string":  # every value is text (CSV): vectorised
        return s.str.strip().astype(object)

    def one(v: Any) -> str:
        if v is None or v is pd.NaT or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            return ""
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v).strip()
    return s.map(one).astype(object)


def _example(fmt: str) -> str:
    return dt.datetime(2013, 1, 31).strftime(fmt)


def _native(raw: pd.Series) -> pd.Series:
    """Cells holding a real date (XLSX, Parquet) rather than text."""
    if pd.api.types.infer_dtype(raw, skipna=False) == "string":
        return pd.Series(False, index=raw.index)
    return raw.map(lambda v: isinstance(v, (dt.date, np.datetime64)) and not pd.isna(v)).astype(bool)


def _parse_dates(raw: pd.Series, text: pd.Series, formats: list[str], keep_time: bool = False) -> pd.Series:
    """Native dates (XLSX, Parquet) as they are; text tried against each format in turn; NaT where none fits.
    Midnight of each date unless ``keep_time``."""
    native = _native(raw)
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    if native.any():
        out[native] = pd.to_datetime(raw[native].map(pd.Timestamp)).astype("datetime64[ns]")
    for fmt in formats:
        todo = out.isna() & ~native & text.ne("")
        if not todo.any():
            break
        out[todo] = pd.to_datetime(text[todo], format=fmt, errors="coerce").astype("datetime64[ns]")
    return out if keep_time else out.dt.normalize()


_TIMES = ("", " %H:%M:%S", " %H:%M")
ISO_FORMATS = ["%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d"]
#: families of formats the importer can infer: ISO, then day-first and month-first with / . - separators
DATE_FAMILIES: dict[str, list[str]] = {"ISO (%Y-%m-%d)": ISO_FORMATS}
for _sep in "/.-":
    DATE_FAMILIES[f"%d{_sep}%m{_sep}%Y"] = [f"%d{_sep}%m{_sep}%Y{t}" for t in _TIMES]
    DATE_FAMILIES[f"%m{_sep}%d{_sep}%Y"] = [f"%m{_sep}%d{_sep}%Y{t}" for t in _TIMES]


def _swapped(fmt: str) -> str:
    """The same format with day and month exchanged."""
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def _fits(texts: pd.Series, formats: list[str]) -> pd.Series:
    """Which of ``texts`` parse with one of ``formats``."""
    ok = pd.Series(False, index=texts.index)
    for fmt in formats:
        ok |= pd.to_datetime(texts[~ok], format=fmt, errors="coerce").notna().reindex(texts.index, fill_value=False)
    return ok


def date_formats(raw: pd.DataFrame, columns: dict[str, str], mapping: Mapping, source: str,
                 texts: dict[str, pd.Series] | None = None) -> list[str]:
    """The formats to read the date columns with: the mapping's, checked against the file, or inferred.

    * Stated formats: if some dates do not fit them but every date fits with day and month swapped,
      the whole file is refused (the mapping has the order wrong).
    * Inferred: the family of :data:`DATE_FAMILIES` that reads the most dates; if day-first and
      month-first read equally many (every day is 12 or less), the file is ambiguous and refused.
    """
    texts = texts or {}
    cells = [(src, raw[src], texts[src] if src in texts else _text(raw[src]))
             for canon, src in columns.items() if canon in DATE_COLUMNS]
    texts = pd.concat([t[~_native(v) & t.ne("")] for _, v, t in cells]) if cells else pd.Series(dtype=object)
    unique = pd.Series(texts.unique(), dtype=object)
    stated = mapping.stated_formats
    if stated is not None:
        if unique.empty:
            return stated
        misfit = ~_fits(unique, stated)
        swapped = [_swapped(f) for f in stated]
        if misfit.any() and swapped != stated and _fits(unique, swapped).all():
            example = unique[misfit].iloc[0]
            src = next(src for src, _, t in cells if t.eq(example).any())
            row = next(int(r) for src2, _, t in cells if src2 == src for r in t.index[t.eq(example)][:1])
            raise UserError(
                f"date_format {' / '.join(stated)} does not fit {int(misfit.sum())} date(s) (e.g. row {row}, column "
                f"'{src}': {example!r}) but {' / '.join(swapped)} fits every date: the file writes day and month "
                "the other way round; correct 'date_format' in the mapping", source=source)
        return stated
    if unique.empty:
        return ISO_FORMATS
    counts: dict[str, int] = {}
    for name, fmts in DATE_FAMILIES.items():
        counts[name] = int(_fits(unique, fmts).sum())
        if counts[name] == len(unique) and name.startswith("ISO"):
            return fmts  # ISO dates read one way only: nothing else to try
    best = max(counts.values())
    if best == 0:
        return ISO_FORMATS
    winners = [name for name, n in counts.items() if n == best]
    if len(winners) > 1:
        example = next(t for t in unique if all(_fits(pd.Series([t]), DATE_FAMILIES[w]).all() for w in winners))
        raise UserError(
            f"the dates are ambiguous: every date (e.g. {example!r}) reads both as {' and as '.join(winners)} "
            f"because no day is above 12; state the order with date_format in a column mapping "
            f"(e.g. date_format: '{winners[0]}'), --mapping FILE", source=source)
    return DATE_FAMILIES[winners[0]]


def detect_decimal(texts: pd.Series) -> str:
    """``,`` when some amounts end in a comma and one or two digits (``1.234,50``, ``12,5``) and none in
    a dot and one or two digits; otherwise ``.``."""
    texts = pd.Series(texts[texts.ne("")].unique(), dtype=object).str.replace(r"[\s\u00a0()+-]", "", regex=True)
    comma = texts.str.fullmatch(r"[\d.]*\d,\d{1,2}").any()
    dot = texts.str.fullmatch(r"[\d,]*\d\.\d{1,2}").any()
    return "," if comma and not dot else "."


def _parse_numbers(raw: pd.Series, text: pd.Series, decimal: str = ".") -> pd.Series:
    """Numbers as floats; booleans, text that is not a number, inf and nan become NaN.

    Text may group thousands with the other mark (``1,234.50`` or ``1.234,50`` with ``decimal=","``) or
    spaces, and write a negative as ``-5``, ``(5)`` or ``5-`` (SAP's trailing minus)."""
    thousands = "," if decimal == "." else "."
    grouped = re.compile(rf"\d{{1,3}}(\{thousands}\d{{3}})+(\{decimal}\d*)?")

    def from_text(t: str) -> float:
        t = t.replace(" ", "").replace("\u00a0", "")
        sign = 1.0
        if len(t) > 2 and t[0] == "(" and t[-1] == ")":
            sign, t = -1.0, t[1:-1]
        elif len(t) > 1 and t[-1] == "-" and t[0] not in "+-":
            sign, t = -1.0, t[:-1]
        body = t.lstrip("+-")
        if grouped.fullmatch(body):
            t = t.replace(thousands, "")
        elif thousands in t:
            return math.nan
        if decimal == ",":
            t = t.replace(",", ".")
        if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", t):
            return math.nan
        return sign * float(t)

    def one(v: Any, t: str) -> float:
        if isinstance(v, bool):
            return math.nan
        x = float(v) if isinstance(v, (int, float, np.integer, np.floating)) else from_text(t)
        return x if math.isfinite(x) else math.nan

    out = pd.Series(np.nan, index=raw.index, dtype="float64")
    plain = text.str.fullmatch(r"[+-]?\d{1,15}" + (r"(\.\d+)?" if decimal == "." else r"(,\d+)?")).fillna(False).astype(bool)
    if plain.any():  # the common case, vectorised: 1234, -5, 12.50 (or 12,50)
        out[plain] = pd.to_numeric(text[plain].str.replace(",", ".", regex=False))
    rest = ~plain
    if rest.any():
        out[rest] = [one(v, t) for v, t in zip(raw[rest], text[rest])]
    return out


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
        how = raw.attrs.get("read_as", "")
        if how and (len(found) <= 2 or raw.attrs.get("hint", "").startswith("set 'sheet'")):
            hint += f"; the file was {how}: {raw.attrs['hint']}"
        raise UserError(f"missing column(s) {', '.join(missing)}; the file has {_names(found)}; {hint}", source=source)
    _refuse_unmapped_currencies(raw, mapping, columns, source)
    return columns


#: header names that hold a currency code in common ERP exports (SAP's WAERS, Oracle's CURRENCY_CODE …)
CURRENCY_HEADERS = {"currency", "curr", "currency_code", "currencycode", "waers", "cur", "ccy", "doc_currency",
                    "währung", "waehrung", "devise", "moneda", "valuta"}
#: widely traded ISO 4217 codes: a column of three-letter codes including one of these is a currency column
COMMON_CURRENCIES = {"EUR", "USD", "GBP", "CHF", "JPY", "CNY", "CAD", "AUD", "SEK", "NOK", "DKK", "PLN", "CZK",
                     "HUF", "INR", "BRL", "MXN", "ZAR", "SGD", "HKD", "NZD", "TRY", "KRW"}


def _refuse_unmapped_currencies(raw: pd.DataFrame, mapping: Mapping, columns: dict[str, str], source: str) -> None:
    """A currency column with several codes and no ``currency`` section in the mapping: amounts in
    different currencies must never be summed as they are."""
    if mapping.currency is not None:
        return
    for name in raw.columns:
        if name in columns.values():
            continue
        codes = sorted({c for c in _text(raw[name]).str.upper() if c})
        named = name.casefold().replace(" ", "_") in CURRENCY_HEADERS
        looks = 1 < len(codes) <= 50 and all(re.fullmatch(r"[A-Z]{3}", c) for c in codes) and bool(COMMON_CURRENCIES & set(codes))
        if len(codes) > 1 and (named or looks):
                raise UserError(
                    f"column '{name}' holds {len(codes)} currencies ({', '.join(codes[:5])}{' …' if len(codes) > 5 else ''}); "
                    "amounts in different currencies are never summed as they are: add a 'currency' section to the "
                    "mapping with the column, the ledger currency and its rates (currency.rates, or currency.rates_file "
                    "with date,currency,rate)", source=source)


def _names(names: list[str], limit: int = 20, width: int = 40) -> str:
    """Header names for a message: at most ``limit``, each cut to ``width`` characters."""
    shown = [n if len(n) <= width else n[: width - 1] + "…" for n in names[:limit]]
    return repr(shown)[:-1] + (f", … {len(names) - limit} more]" if len(names) > limit else "]")


def _parse(raw: pd.DataFrame, columns: dict[str, str], mapping: Mapping, source: str) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Parse every mapped column and run the row checks; returns (parsed values, list of problem frames)."""
    out = pd.DataFrame(index=raw.index)
    found: list[pd.DataFrame] = []
    texts = {src: _text(raw[src]) for src in set(columns.values())}
    formats = date_formats(raw, columns, mapping, source, texts)
    fmt_hint = " or ".join(f"{_example(f)} ({f})" for f in formats[:2])
    money = [src for canon, src in columns.items() if canon in MONEY_COLUMNS]
    decimal = mapping.decimal or detect_decimal(pd.concat([texts[src] for src in money]))
    example_amount = "1234.56" if decimal == "." else "1234,56"
    for canon, src in columns.items():
        values, text = raw[src], texts[src]
        empty = text.eq("")
        if canon in REQUIRED:
            found.append(_flag(empty, values, src, f"empty value; {canon} is required"))
        if canon in DATE_COLUMNS:
            parsed = _parse_dates(values, text, formats)
            hint = "" if mapping.stated_formats else " (inferred from the file; state date_format in the mapping if wrong)"
            found.append(_flag(parsed.isna() & ~empty, values, src, f"unparseable date; expected a date like {fmt_hint}{hint}"))
        elif canon in MONEY_COLUMNS:
            parsed = _parse_numbers(values, text, decimal)
            found.append(_flag(parsed.isna() & ~empty, values, src,
                               f"not a number; expected an amount like {example_amount} (decimal mark {decimal!r}; "
                               "set 'decimal' in the mapping if wrong)"))
            if canon not in REQUIRED:
                parsed = parsed.where(~empty, 0.0)
        elif canon in mapping.values or canon == "disputed":
            table = mapping.values.get(canon, BOOL_WORDS)
            parsed, unknown = _map_values(text, table)
            expected = ", ".join(repr(k) for k in table if k != "")
            found.append(_flag(unknown & ~(empty & (canon in REQUIRED)), values, src,
                               f"unknown value; expected one of {expected} (see values.{canon} in the mapping)"))
        elif canon == "currency":
            parsed = text.str.upper()
            found.append(_flag(~parsed.str.fullmatch(r"[A-Z]{3}") & ~empty, values, src,
                               "expected a three-letter ISO 4217 currency code such as EUR, or nothing for the ledger currency"))
        else:
            parsed = text
        out[canon] = parsed
    if mapping.currency:
        found.append(_convert_currency(raw, out, mapping, source))
    found.extend(_row_checks(raw, out, columns))
    return out, found


def _fx_rates(mapping: Mapping, out: pd.DataFrame, code: pd.Series, source: str) -> pd.Series:
    """Rate of each row's currency into the ledger currency (NaN where none is known)."""
    cur = mapping.currency
    rates = {cur.ledger: 1.0, **cur.rates}
    rate = code.map(lambda c: rates.get(c, math.nan)).astype(float)
    if cur.rates_file is None:
        return rate
    table = read_fx_table(cur.rates_file, mapping._base_dir)
    todo = rate.isna() & out["invoice_date"].notna() & code.ne("")
    if todo.any():
        rows = pd.DataFrame({"date": out.loc[todo, "invoice_date"].astype("datetime64[ns]"),
                             "currency": code[todo].astype(object), "row": out.index[todo]}).sort_values("date")
        matched = pd.merge_asof(rows, table, on="date", by="currency", direction="backward")
        rate.loc[matched["row"].to_numpy()] = matched["rate"].to_numpy()
    return rate


def read_fx_table(name: str, base_dir: Path | None) -> pd.DataFrame:
    """An FX table: a CSV with columns ``date`` (YYYY-MM-DD), ``currency`` and ``rate`` (ledger units
    per unit of currency, > 0); relative names are read beside the mapping file."""
    path = Path(name)
    if not path.is_absolute() and base_dir is not None and (base_dir / path).exists():
        path = base_dir / path
    source = str(path)
    if not path.is_file():
        raise UserError("FX table not found (currency.rates_file in the mapping); expected a CSV with columns "
                        "date,currency,rate", source=source)
    try:
        fx = pd.read_csv(path, dtype=str, encoding="utf-8-sig", sep=None, engine="python")
    except (ValueError, OSError, csv.Error, UnicodeDecodeError) as exc:
        raise UserError(f"cannot be read as an FX table CSV: {type(exc).__name__}", source=source) from None
    fx.columns = [str(c).strip().lower() for c in fx.columns]
    missing = [c for c in ("date", "currency", "rate") if c not in fx.columns]
    if missing:
        raise UserError(f"FX table: missing column(s) {missing}; expected date,currency,rate", source=source)
    date = pd.to_datetime(fx["date"].str.strip(), format="%Y-%m-%d", errors="coerce")
    rate = pd.to_numeric(fx["rate"].str.strip(), errors="coerce")
    bad = date.isna() | rate.isna() | ~(rate > 0) | ~np.isfinite(rate.fillna(0))
    if bad.any():
        r = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        field = "date" if date.isna().iloc[r - 2] else "rate"
        raise UserError(f"FX table row {r}, column '{field}': expected a date YYYY-MM-DD and a rate > 0 "
                        f"({int(bad.sum())} bad row(s))", source=source)
    return (pd.DataFrame({"date": date.astype("datetime64[ns]"),
                          "currency": fx["currency"].str.strip().str.upper().astype(object),
                          "rate": rate.astype(float)}).sort_values("date").reset_index(drop=True))


def _convert_currency(raw: pd.DataFrame, out: pd.DataFrame, mapping: Mapping, source: str) -> pd.DataFrame:
    """Money columns × rate of the row's currency (1 for the ledger currency); rows without a rate are flagged."""
    cur = mapping.currency
    code = _text(raw[cur.column]).str.upper()
    rate = _fx_rates(mapping, out, code, source)
    for col in MONEY_COLUMNS:
        if col in out:
            out[col] = (out[col] * rate).round(2)
    where = ("add it to the FX table (currency.rates_file) with a date on or before the invoice date"
             if cur.rates_file else "add currency.rates.{c} to the mapping")
    message = code.map(lambda c: f"empty currency; expected a code such as {cur.ledger}" if not c else
                       f"currency {c} is not the ledger currency {cur.ledger} and has no rate; " + where.format(c=c))
    return _flag(rate.isna(), raw[cur.column], cur.column, message)


SETTLEMENTS = ("paid_amount", "credited_amount", "written_off_amount")


def _row_checks(raw: pd.DataFrame, out: pd.DataFrame, columns: dict[str, str]) -> list[pd.DataFrame]:
    """Checks across columns: date order, signs and sums of money, duplicate invoice ids.

    A negative amount is a credit note: its paid (refunded or applied), credited and written-off
    amounts are 0 or negative and, like an invoice's, add up to no more than the amount. A payment
    dated before the invoice date is a prepayment, not an error (see :func:`load_ledger`)."""
    found = []
    inv = out["invoice_date"]
    found.append(_flag(out["due_date"] < inv, raw[columns["due_date"]], columns["due_date"],
                       "due date is before the invoice date " + inv.dt.strftime("%Y-%m-%d").fillna("")))
    amount = out["amount"]
    credit = amount < 0
    present = [c for c in SETTLEMENTS if c in out]
    for col in present:
        v = out[col]
        found.append(_flag(~credit & (v < 0), raw[columns[col]], columns[col],
                           f"negative {col} on an invoice; expected 0 or more (only a credit note, with a negative "
                           "amount, has negative settlements)"))
        found.append(_flag(credit & (v > 0), raw[columns[col]], columns[col],
                           f"positive {col} on a credit note (negative amount); expected 0 or a negative value"))
    if "paid_amount" in out:
        found.append(_flag(out["paid_amount"].abs() > amount.abs() + CENT, raw[columns["paid_amount"]], columns["paid_amount"],
                           "paid amount is greater than the invoice amount " + amount.map("{:.2f}".format)))
    if len(present) > 1:
        settled = sum(out[c] for c in present)
        col = present[-1]
        found.append(_flag(settled.abs() > amount.abs() + CENT, raw[columns[col]], columns[col],
                           f"{' + '.join(present)} = " + settled.map("{:.2f}".format) +
                           " is more than the amount " + amount.map("{:.2f}".format)))
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


#: the first and last header names of a quarantine file (how an earlier one is recognised)
QUARANTINE_HEADER = ("row", "problem")


def is_quarantine_file(path: Path) -> bool:
    """Whether ``path`` is a CSV this importer wrote: its header starts with ``row`` and ends with ``problem``."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return len(header) >= 2 and (header[0], header[-1]) == QUARANTINE_HEADER


def check_quarantine_target(target: Path, source: Path) -> None:
    """Refuse, before any work, a quarantine path that is the input, a folder, or an existing file
    other than an earlier quarantine file, or a folder that cannot be written."""
    target, source = Path(target), Path(source)
    if target.exists() and source.exists() and target.resolve() == source.resolve():
        raise UserError("the quarantine file would overwrite the input ledger; choose another path", source=str(target))
    if target.is_dir():
        raise UserError("is a directory; expected a CSV file name for the quarantined rows", source=str(target))
    if target.exists() and not is_quarantine_file(target):
        raise UserError("already exists and is not an earlier quarantine file; it is never overwritten — "
                        "choose another --quarantine PATH", source=str(target))
    check_writable(target)


def _write_quarantine(raw: pd.DataFrame, problems: pd.DataFrame, target: Path, source: Path) -> None:
    """Bad rows as read (plus ``row`` and ``problem``) to ``target``, atomically; never onto the input.
    Text Excel would read as a formula is neutralised (:func:`o2c_sim.data.excel.formula_safe`)."""
    check_quarantine_target(target, source)
    per_row = problems.assign(text=[
        (f"{c}: " if isinstance(c, str) else "") + m for c, m in zip(problems["column"], problems["message"])
    ]).groupby("row")["text"].agg("; ".join)
    bad = raw.loc[per_row.index].copy()
    bad.insert(0, "row", bad.index)
    bad["problem"] = per_row
    write_csv(target, bad, index=False, encoding="utf-8-sig")


def load_ledger(
    path: str | os.PathLike,
    mapping: Mapping | str | os.PathLike | None = None,
    *,
    on_error: Literal["fail", "quarantine"] = "fail",
    quarantine_path: str | os.PathLike | None = None,
    several_currencies: bool = False,
) -> pd.DataFrame:
    """Read a ledger into the canonical invoice table (:func:`o2c_sim.data.invoice_table.conform`).

    ``mapping`` is a :class:`Mapping`, a mapping file or a shipped name (``"ibm_ar"``); ``None`` means the
    file already uses the canonical column names. With ``on_error="fail"`` any bad row raises a
    :class:`UserError` listing the problems; with ``"quarantine"`` the bad rows go to ``quarantine_path``
    (default ``<name>.quarantine.csv`` beside the input) and the good rows are returned. Problems with the
    whole file (unreadable, empty, missing columns) always raise.

    Row numbers are those a spreadsheet shows (header = row 1, blank lines counted); a Parquet file's
    first record is numbered row 2 likewise. The result's ``attrs`` hold ``source``, ``quarantined``
    (number of bad rows), ``quarantine_path``, ``prepayments`` and ``credit_notes`` (counts of good rows).
    A quarantine path that exists and is not an earlier quarantine file is refused before reading.
    A ``currency`` column of several codes is refused (amounts of different currencies would be added
    up) unless ``several_currencies`` (the caller keeps them apart, as a warm start does) or the
    mapping's ``currency`` section converts the money into the ledger currency.
    """
    if on_error not in ("fail", "quarantine"):
        raise UserError(f"on_error must be 'fail' or 'quarantine', got {on_error!r}")
    path = Path(path)
    explicit = mapping is not None
    if mapping is None:
        mapping = Mapping()
    elif not isinstance(mapping, Mapping):
        mapping = load_mapping(mapping)
    target = None
    if on_error == "quarantine":
        target = Path(quarantine_path) if quarantine_path is not None else default_quarantine_path(path)
        check_quarantine_target(target, path)
    raw, ragged = _read_raw(path, mapping)
    if raw.empty:
        raise UserError("no data rows below the header", source=str(path))
    columns = _resolve_columns(raw, mapping, explicit, str(path))
    parsed, found = _parse(raw, columns, mapping, str(path))
    bad, target = set_aside(raw, [ragged, *found], path, on_error=on_error, quarantine_path=target)
    prepaid = pd.Series(False, index=parsed.index)
    if "paid_date" in parsed:
        prepaid = parsed["paid_date"] < parsed["invoice_date"]
        parsed.loc[prepaid, "paid_date"] = parsed.loc[prepaid, "invoice_date"]
        if "paid_amount" not in columns:
            parsed["paid_amount"] = _settled_in_full(parsed)
    table = invoice_table.conform(parsed[~bad])
    if mapping.currency is not None and "currency" in table:  # the money is now in the ledger currency
        table["currency"] = mapping.currency.ledger
    if not several_currencies:
        invoice_table.one_currency(table, None, what="this command", source=str(path), choose=(
            "convert them with a 'currency' section in the mapping (the column, the ledger currency and its rates), "
            "or keep one currency's rows; a warm start (o2c-sim run --ledger) simulates each customer in its own currency"))
    table.attrs = {"source": str(path), "quarantined": int(bad.sum()), "quarantine_path": target,
                   "prepayments": int((prepaid & ~bad).sum()), "credit_notes": int((table["amount"] < 0).sum())}
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


# ------------------------------------------------------------------------------------------ payments

#: the payments table: one row per payment received against an invoice (partials each with their date)
PAYMENT_COLUMNS = {"invoice_id": ("invoice_id", "item_id", "invoice"), "payment_date": ("payment_date", "date", "paid_date"),
                   "amount": ("amount", "payment_amount", "paid_amount")}


def load_payments(path: str | os.PathLike, known_invoices: set[str] | None = None) -> pd.DataFrame:
    """Read a payments table (CSV, XLSX or Parquet): columns ``invoice_id, payment_date, amount``.

    Each column may also go by the names in :data:`PAYMENT_COLUMNS` (``item_id``, ``date``, ``payment_amount``
    …). Dates and amounts are read as the ledger's are (formats inferred, ``1.234,50``, ``(5)``); a
    negative amount is a refund or reversal. Every bad row — empty or unknown invoice (when
    ``known_invoices`` is given), unparseable date or amount — is listed with its row and column in one
    :class:`UserError`. Returns ``invoice_id, payment_date, amount`` sorted by date.
    """
    path = Path(path)
    mapping = Mapping()
    raw, ragged = _read_raw(path, mapping, what="payments table")
    if raw.empty:
        raise UserError("no data rows below the header", source=str(path))
    lower = {c.strip().lower(): c for c in raw.columns}
    columns, missing = {}, []
    for canon, names in PAYMENT_COLUMNS.items():
        src = next((lower[n] for n in names if n in lower), None)
        if src is None:
            missing.append(f"{canon} (or {', '.join(names[1:])})")
        else:
            columns[canon] = src
    if missing:
        raise UserError(f"the payments table has no column {'; no column '.join(missing)}; it has {_names(list(raw.columns))}",
                        source=str(path))
    texts = {src: _text(raw[src]) for src in columns.values()}
    formats = date_formats(raw, {"paid_date": columns["payment_date"]}, mapping, str(path), texts)
    out = pd.DataFrame(index=raw.index)
    found = [ragged]
    for canon, src in columns.items():
        values, text = raw[src], texts[src]
        empty = text.eq("")
        found.append(_flag(empty, values, src, f"empty value; {canon} is required"))
        if canon == "payment_date":
            out[canon] = _parse_dates(values, text, formats)
            found.append(_flag(out[canon].isna() & ~empty, values, src,
                               f"unparseable date; expected a date like {_example(formats[0])} ({formats[0]})"))
        elif canon == "amount":
            decimal = detect_decimal(text)
            out[canon] = _parse_numbers(values, text, decimal)
            found.append(_flag(out[canon].isna() & ~empty, values, src,
                               f"not a number; expected an amount like {'1234.56' if decimal == '.' else '1234,56'}"))
        else:
            out[canon] = text
            if known_invoices is not None:
                found.append(_flag(~text.isin(known_invoices) & ~empty, values, src,
                                   "no invoice with this id in the ledger; a payment must name an invoice of the ledger"))
    set_aside(raw, found, path, on_error="fail", quarantine_path=None)
    out["amount"] = out["amount"].round(2)
    return out.sort_values("payment_date", kind="stable").reset_index(drop=True)

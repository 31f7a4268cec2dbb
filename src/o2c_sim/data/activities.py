"""Importing an activity log (CSV, XLSX, Parquet, XES or OCEL 2.0) into the canonical activity table.

A file already in the canonical columns of :mod:`o2c_sim.data.activity_table` (``kind`` in its vocabulary;
e.g. a run's ``activities.parquet``) needs no mapping. A collections tool's export is read through a
YAML activity mapping (:class:`ActivityMapping`, examples in ``scenarios/mappings/*activity*.yaml``):
which source column is the item (invoice or case), the customer, the date and the activity; which
source activity names are which ``kind`` (and dunning ``level``); which columns carry the amount, due
date, promised date, outcome and reason; ``terms_days`` when ``issued`` rows carry no due date.

XES event logs (IEEE 1849) are read by a streaming parser (expat: constant memory apart from the
result) into a flat table whose columns are the event attribute keys (``concept:name``,
``time:timestamp`` …) and the trace attribute keys prefixed ``case:`` (``case:concept:name`` is the
case id), the convention of pm4py; the mapping then works as for a spreadsheet. OCEL 2.0 JSON logs
are flattened likewise (:func:`read_ocel`: the event type, time, attributes and related objects by type).

Bad rows are reported as the ledger importer reports them (:func:`o2c_sim.data.importer.set_aside`): file,
row (XES: event number in file order), column and value, for an unknown activity, a date before the
item's issue, money on an unknown item, a bad amount, an unparseable date. ``quarantine`` keeps every
good row and writes the bad ones to a side CSV.

:func:`invoices_from_activities` derives the invoice table from a log's own ``issued``, ``payment``,
``credit_note``, ``write_off`` and dispute rows, so a log needs no separate ledger.
"""

from __future__ import annotations

import json
import os
import xml.parsers.expat
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, NonNegativeInt, PositiveInt, field_validator

from o2c_sim.data import activity_table, invoice_table
from o2c_sim.data.activity_table import KINDS
from o2c_sim.errors import UserError
from o2c_sim.data.importer import (CENT, _Strict, _example, _flag, _parse_dates, _parse_numbers, _problems, _read_raw, _text,
                       load_mapping_model, set_aside)

#: mapping fields: what a source column can feed (``activity`` is the source's activity name)
FIELDS = ("item_id", "customer_id", "date", "activity", "amount", "level", "outcome", "reason", "promised_date",
          "due_date")
#: kinds that move money or set it: they need an amount
MONEY_KINDS = ("issued", "payment", "credit_note", "write_off")
#: kinds that settle an item (amount = paid + credited + written off + open)
SETTLING = {"payment": "paid_amount", "credit_note": "credited_amount", "write_off": "written_off_amount"}
XES_SUFFIXES = (".xes",)
OCEL_SUFFIXES = (".jsonocel", ".json")
EVENT_NUMBERING = "events numbered from 1 in file order"
#: shipped mappings for event logs read without one
DEFAULT_MAPPINGS = {**dict.fromkeys(XES_SUFFIXES, "xes_activities"), **dict.fromkeys(OCEL_SUFFIXES, "ocel_activities")}


# --------------------------------------------------------------------------------------------- mapping


class ActivitySpec(_Strict):
    """A source activity name's kind and, for a ``notice``, its dunning level."""

    kind: str
    level: PositiveInt | None = None

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        if v not in KINDS:
            raise ValueError(f"unknown kind {v!r}; expected one of {', '.join(KINDS)}")
        return v


class AccountLevel(_Strict):
    """Rows that are account-level actions (a call, a contact), not about one item: ``column`` is one of ``values``."""

    column: str
    values: list[str] = Field(min_length=1)


class ActivityMapping(_Strict):
    """How a collections tool's activity export becomes the canonical activity table."""

    columns: dict[str, str] = Field(default_factory=dict)  # field (FIELDS) -> source column / XES attribute key
    activities: dict[str, ActivitySpec] = Field(default_factory=dict)  # source activity name -> kind (+ level)
    ignore: list[str] = Field(default_factory=list)  # source activity names deliberately not imported
    terms_days: NonNegativeInt | None = None  # due date = issue date + terms where ``issued`` has none
    date_formats: list[str] = Field(default_factory=lambda: ["%Y-%m-%d", "%Y-%m-%d %H:%M:%S"], min_length=1)
    values: dict[str, dict[str, str]] = Field(default_factory=dict)  # outcome / reason: {source value: value}
    account_level: AccountLevel | None = None
    absolute_amounts: bool = False  # take |amount| (ERP exports sign payments and credits negative)
    sep: str = ","
    encoding: str = "utf-8"
    sheet: str | int = 0

    @field_validator("columns")
    @classmethod
    def _fields(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown field(s) {unknown}; expected some of {', '.join(FIELDS)}")
        return v

    @field_validator("activities", mode="before")
    @classmethod
    def _short_form(cls, v: Any) -> Any:
        """``Payment received: payment`` is short for ``{kind: payment}``; keys are text."""
        if not isinstance(v, dict):
            return v
        for name in v:
            if not isinstance(name, str):
                raise ValueError(f"activity name {name!r} is not text; quote it in the YAML")
        return {name: {"kind": spec} if isinstance(spec, str) else spec for name, spec in v.items()}

    @field_validator("values")
    @classmethod
    def _value_fields(cls, v: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        wrong = sorted(set(v) - {"outcome", "reason"})
        if wrong:
            raise ValueError(f"values.{wrong[0]}: only outcome and reason take a value map")
        return v

    def source(self, field: str) -> str | None:
        """The source column of ``field``; without a mapping the canonical name (``kind`` for the activity)."""
        return self.columns.get(field, "kind" if field == "activity" else field)

    def lookup(self) -> dict[str, ActivitySpec]:
        """Source activity names (case-folded) -> spec; the canonical kinds themselves when none are given."""
        table = self.activities or {k: ActivitySpec(kind=k) for k in KINDS}
        return {name.strip().casefold(): spec for name, spec in table.items()}


def load_activity_mapping(path: str | os.PathLike) -> ActivityMapping:
    """Load and validate an activity-mapping YAML (unknown keys rejected) or a shipped name like ``xes_activities``."""
    return load_mapping_model(ActivityMapping, path, "columns, activities, date_formats")


# --------------------------------------------------------------------------------------------- XES


def read_xes(path: str | os.PathLike) -> pd.DataFrame:
    """An XES log as a flat table, one row per event (index = event number from 1), every value as text.

    Event attributes keep their keys; trace attributes are prefixed ``case:``. Only attributes that are
    direct children of an ``<event>`` or ``<trace>`` are read (nested list/container values and
    meta-attributes are skipped). Streaming (expat): memory grows with the result only.
    """
    path = Path(path)
    columns: dict[str, list] = {}
    traces: list[dict[str, str]] = []
    per_trace: list[int] = []
    stack: list[str] = [""]
    push, pop = stack.append, stack.pop
    event: dict[str, str] = {}
    trace: dict[str, str] = {}
    n = 0

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal event, trace
        parent = stack[-1]
        push(tag)
        if "key" in attrs:
            if parent == "event":
                event[attrs["key"]] = attrs.get("value")
            elif parent == "trace":
                trace["case:" + attrs["key"]] = attrs.get("value")
        elif tag == "event":
            event = {}
        elif tag == "trace":
            trace = {}
            traces.append(trace)
            per_trace.append(0)

    def end(tag: str) -> None:
        nonlocal n
        pop()
        if tag != "event":
            return
        for key, value in event.items():
            col = columns.get(key)
            if col is None:
                col = columns[key] = [None] * n
            elif len(col) < n:
                col.extend([None] * (n - len(col)))
            col.append(value)
        n += 1
        if stack[-1] == "trace":
            per_trace[-1] += 1
        else:  # an event outside any trace: its own case-less row
            traces.append({})
            per_trace.append(1)

    parser = xml.parsers.expat.ParserCreate()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    if not path.exists():
        raise UserError("file not found; expected an XES event log", source=str(path))
    try:
        with open(path, "rb") as fh:
            parser.ParseFile(fh)
    except xml.parsers.expat.ExpatError as exc:
        raise UserError(f"not a well-formed XES (XML) file: {xml.parsers.expat.ErrorString(exc.code)} "
                        f"at line {exc.lineno}, column {exc.offset}", source=str(path)) from None
    except OSError as exc:
        raise UserError(f"cannot be read: {exc.strerror or exc}", source=str(path)) from None
    data = {}
    for key, col in columns.items():
        col.extend([None] * (n - len(col)))
        data[key] = np.array(col, dtype=object)
    counts = np.asarray(per_trace, dtype=np.int64)
    for key in sorted({k for t in traces for k in t}):
        values = np.array([t.get(key) for t in traces], dtype=object)
        data[key] = np.repeat(values, counts)
    return pd.DataFrame(data, index=pd.RangeIndex(1, n + 1, name="row"))


def read_ocel(path: str | os.PathLike) -> pd.DataFrame:
    """An OCEL 2.0 JSON log as a flat table, one row per event (index = event number from 1).

    Columns: ``ocel:eid``, ``ocel:activity`` (the event type), ``ocel:timestamp``, the event attributes by
    name, and per object type T ``object:T``, the first related object of that type, with ``objects:T``,
    how many there are. An event with no related customer takes its invoice's customer (object-to-object
    relationship), so either layout works.
    """
    path = Path(path)
    if not path.exists():
        raise UserError("file not found; expected an OCEL 2.0 JSON event log", source=str(path))
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"not a JSON file: {exc}", source=str(path)) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list) or not isinstance(doc.get("objects", []), list):
        raise UserError("not an OCEL 2.0 JSON log: expected an object with 'events' and 'objects' lists", source=str(path))
    objects = [o for o in doc.get("objects", []) if isinstance(o, dict)]
    type_of = {o.get("id"): o.get("type") for o in objects}
    owner: dict[Any, dict[Any, Any]] = {}  # object -> {type: its first related object of that type}
    for o in objects:
        links = owner.setdefault(o.get("id"), {})
        for r in o.get("relationships") or []:
            links.setdefault(type_of.get(r.get("objectId")), r.get("objectId"))
    rows = []
    for e in doc["events"]:
        e = e if isinstance(e, dict) else {}
        row = {"ocel:eid": e.get("id"), "ocel:activity": e.get("type"), "ocel:timestamp": e.get("time")}
        for a in e.get("attributes") or []:
            row[a.get("name")] = a.get("value")
        related: dict[str, list] = {}
        for r in e.get("relationships") or []:
            related.setdefault(type_of.get(r.get("objectId"), "unknown"), []).append(r.get("objectId"))
        for t, ids in related.items():
            row[f"object:{t}"], row[f"objects:{t}"] = ids[0], len(ids)
        for ids in list(related.values()):
            for other, target in owner.get(ids[0], {}).items():
                if other and f"object:{other}" not in row:
                    row[f"object:{other}"], row[f"objects:{other}"] = target, 1
        rows.append(row)
    raw = pd.DataFrame(rows, dtype=object)
    raw.index = pd.RangeIndex(1, len(raw) + 1, name="row")
    return raw


def _read(path: Path, mapping: ActivityMapping) -> tuple[pd.DataFrame, pd.DataFrame, str, str]:
    """Raw rows, ragged-row problems, the row label and its numbering note."""
    if path.suffix.lower() in XES_SUFFIXES:
        return read_xes(path), _problems([]), "event", EVENT_NUMBERING
    if path.suffix.lower() in OCEL_SUFFIXES:
        return read_ocel(path), _problems([]), "event", EVENT_NUMBERING
    raw, ragged = _read_raw(path, mapping, what="activity log")  # type: ignore[arg-type]
    return raw, ragged, "row", "row numbers as in a spreadsheet, header = row 1"


# --------------------------------------------------------------------------------------------- parsing


def _parse_times(raw: pd.Series, text: pd.Series, formats: list[str], iso_only: bool = False) -> pd.Series:
    """The mapping's formats first (not for XES / OCEL, whose dates are ISO 8601 by the standard), then ISO 8601
    (``2024-03-05T10:00:00.000+01:00``: wall-clock time, the offset dropped); NaT where nothing fits."""
    if iso_only:
        out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    else:
        out = _parse_dates(raw, text, formats, keep_time=True)
    todo = out.isna() & text.ne("")
    if todo.any():
        local = text[todo].str.replace(r"(Z|[+-]\d\d:?\d\d)$", "", regex=True)
        out[todo] = pd.to_datetime(local, format="ISO8601", errors="coerce").astype("datetime64[ns]")
    return out


def _resolve(raw: pd.DataFrame, mapping: ActivityMapping, explicit: bool, source: str,
             event_log: bool = False) -> dict[str, str]:
    """field -> source column present in the file; a missing required or mapped column stops the import
    (in XES / OCEL an optional attribute that no event carries is simply absent)."""
    found = set(raw.columns)
    columns = {f: s for f in FIELDS if (s := mapping.source(f)) in found}
    optional = set(FIELDS) - {"item_id", "customer_id", "date", "activity"} if event_log else set()
    missing = [f"'{s}' (for {f})" for f, s in mapping.columns.items() if s not in found and f not in optional]
    missing += [f"'{mapping.source(f)}' (for {f})" for f in ("date", "activity") if f not in columns and f not in mapping.columns]
    if "item_id" not in columns and "customer_id" not in columns:
        missing.append("an item or a customer column")
    if mapping.account_level and mapping.account_level.column not in found:
        missing.append(f"'{mapping.account_level.column}' (account_level)")
    if missing:
        hint = ("check the mapping's column names" if explicit else
                "name the columns item_id, date, kind (and amount, due_date …) or pass an activity mapping "
                "(--activity-mapping, see scenarios/mappings/*activity*.yaml)")
        shown = sorted(found)[:30]
        raise UserError(f"missing column(s) {', '.join(missing)}; the file has {shown}; {hint}", source=source)
    return columns


def _event_text(s: pd.Series) -> pd.Series:
    """Event-log (XES, OCEL) values are text, numbers or absent: vectorised :func:`o2c_sim.data.importer._text`."""
    return s.fillna("").astype(str).str.strip()


def _event_numbers(text: pd.Series) -> pd.Series:
    """Vectorised :func:`o2c_sim.data.importer._parse_numbers` for text: NaN for non-numbers, inf and nan."""
    x = pd.to_numeric(text.where(text.ne("")), errors="coerce").astype("float64")
    return x.where(np.isfinite(x))


def _parse(raw: pd.DataFrame, columns: dict[str, str], mapping: ActivityMapping,
           event_log: bool = False) -> tuple[pd.DataFrame, list[pd.DataFrame], pd.Series]:
    """Parse each mapped column and run the row checks: (canonical values, problem frames, ignored-row mask)."""
    idx = raw.index
    text = {f: (_event_text if event_log else _text)(raw[s]) for f, s in columns.items()}
    numbers = (lambda f: _event_numbers(text[f])) if event_log else (lambda f: _parse_numbers(raw[columns[f]], text[f]))
    blank = pd.Series("", index=idx, dtype=object)
    found: list[pd.DataFrame] = []
    out = pd.DataFrame(index=idx)

    act_src, act = columns["activity"], text["activity"]
    lookup = mapping.lookup()
    keys = act.map(str.casefold)
    ignored = keys.isin([name.strip().casefold() for name in mapping.ignore])
    spec = keys.map(lookup.get)
    known = spec.notna()
    shown = ", ".join(repr(n) for n in (list(mapping.activities) or list(KINDS))[:12])
    found.append(_flag(act.eq(""), raw[act_src], act_src, "empty activity; an activity name is required"))
    found.append(_flag(~known & ~ignored & act.ne(""), raw[act_src], act_src,
                       f"unknown activity; expected one of {shown} (add it to 'activities:' or 'ignore:' in the mapping)"))
    kind = spec.map(lambda s: s.kind if s is not None else None)
    out["kind"] = kind

    item = text.get("item_id", blank)
    if mapping.account_level:
        rule = mapping.account_level
        item = item.where(~_text(raw[rule.column]).isin(rule.values), "")
    out["item_id"] = item
    out["customer_id"] = text.get("customer_id", blank)
    who = columns.get("item_id") or columns.get("customer_id")
    found.append(_flag(item.eq("") & out["customer_id"].eq(""), raw[who], who,
                       "neither an item nor a customer; each row needs one of them"))
    found.append(_flag(item.eq("") & kind.eq("issued"), raw[who], who,
                       "an issued row without an item; issued needs the invoice (item) id"))

    fmt_hint = " or ".join(f"{_example(f)} ({f})" for f in mapping.date_formats) + " or ISO 8601"
    for field in ("date", "promised_date", "due_date"):
        if field not in columns:
            out[field] = pd.Series(pd.NaT, index=idx, dtype="datetime64[ns]")
            continue
        src, t = columns[field], text[field]
        parsed = _parse_times(raw[src], t, mapping.date_formats, iso_only=event_log)
        found.append(_flag(parsed.isna() & t.ne(""), raw[src], src, f"unparseable date; expected a date like {fmt_hint}"))
        out[field] = parsed
    found.append(_flag(text["date"].eq(""), raw[columns["date"]], columns["date"], "empty date; every row needs a date"))

    if "amount" in columns:
        src, t = columns["amount"], text["amount"]
        amount = numbers("amount")
        found.append(_flag(amount.isna() & t.ne(""), raw[src], src, "bad amount: not a number; expected an amount like 1234.56"))
        if mapping.absolute_amounts:
            amount = amount.abs()
        found.append(_flag(amount < 0, raw[src], src, "bad amount: negative; expected 0 or more "
                           "(set absolute_amounts: true in the mapping if the export signs credits)"))
        needs = kind.isin(MONEY_KINDS) & t.eq("")
        found.append(_flag(needs, raw[src], src, "empty amount; a row of kind " + kind.fillna("") + " needs an amount"))
        out["amount"] = amount.round(2)
    else:
        out["amount"] = np.nan
        found.append(_flag(kind.isin(MONEY_KINDS), raw[act_src], act_src,
                           "no amount column in the mapping; a row of kind " + kind.fillna("") + " needs an amount"))

    level = spec.map(lambda s: s.level if s is not None else None).astype("Float64")
    if "level" in columns:
        src, t = columns["level"], text["level"]
        given = numbers("level")
        found.append(_flag(t.ne("") & ~((given >= 1) & (given % 1 == 0)), raw[src], src,
                           "bad level; expected a whole number 1, 2, 3 …"))
        level = level.where(given.isna() | level.notna(), given)
    out["level"] = level.round()

    for field in ("outcome", "reason"):
        t = text.get(field, blank)
        table = {k.strip().casefold(): v for k, v in mapping.values.get(field, {}).items()}
        out[field] = t.map(lambda v: table.get(v.casefold(), v)) if table else t
    return out, found, ignored


def _item_key(df: pd.DataFrame) -> pd.Series:
    """An item's key: its id, within its replication when the table holds several."""
    item = df["item_id"]
    if "replication" in df.columns:
        return df["replication"].astype(str) + "/" + item.astype(str)
    return item.astype(str)


def _item_checks(raw: pd.DataFrame, out: pd.DataFrame, columns: dict[str, str], usable: pd.Series,
                 known_items: set[str] | None, terms_days: int | None, row_label: str) -> list[pd.DataFrame]:
    """Checks across rows of an item: a second issue, a date before the issue, money on an unknown item,
    a due date before the issue or missing."""
    found = []
    row = pd.Series(out.index, index=out.index)
    key = _item_key(out)
    has_item = out["item_id"].ne("")
    issued = out["kind"].eq("issued") & has_item
    item_src = columns.get("item_id", columns["activity"])
    date_src = columns["date"]
    first = row[issued].groupby(key[issued].to_numpy()).transform("min")
    found.append(_flag(issued & (row > first.reindex(out.index)), raw[item_src], item_src,
                       f"item issued twice (first issued on {row_label} " + first.reindex(out.index).astype("Int64").astype(str) + ")"))
    ok = issued & usable & out["date"].notna()
    issue = out.loc[ok].assign(key=key[ok]).drop_duplicates("key").set_index("key")["date"]
    issue_of = pd.Series(issue.reindex(key.to_numpy()).to_numpy(), index=out.index)
    found.append(_flag(has_item & ~issued & (out["date"].dt.normalize() < issue_of.dt.normalize()), raw[date_src], date_src,
                       "date before the item's issue on " + issue_of.dt.strftime("%Y-%m-%d").fillna("")))
    if issued.any() or known_items is not None:
        known = set(key[issued]) | set(known_items or ())
        money = out["kind"].isin(list(SETTLING)) & has_item & ~key.isin(known)
        found.append(_flag(money, raw[item_src], item_src,
                           out["kind"].fillna("") + " on an unknown item: it has no 'issued' row"
                           + (" and is not in the ledger" if known_items is not None else "")))
    if "due_date" in columns:
        src = columns["due_date"]
        found.append(_flag(issued & (out["due_date"].dt.normalize() < out["date"].dt.normalize()), raw[src], src,
                           "due date before the issue date " + out["date"].dt.strftime("%Y-%m-%d").fillna("")))
    if terms_days is None and known_items is None:
        src = columns.get("due_date", columns["activity"])
        found.append(_flag(issued & out["due_date"].isna(), raw[src], src,
                           "issued row without a due date; map a due-date column or set terms_days in the mapping"))
    return found


# --------------------------------------------------------------------------------------------- loading


def load_activities(path: str | os.PathLike, mapping: ActivityMapping | str | os.PathLike | None = None,
                    quarantine: str | os.PathLike | bool | None = None, *,
                    known_items: set[str] | None = None) -> pd.DataFrame:
    """Read an activity log (CSV, XLSX, Parquet, XES or OCEL 2.0 JSON) into the canonical activity table.

    ``mapping``: an :class:`ActivityMapping`, a file or a shipped name (``"xes_activities"``); ``None``
    means the file already has the canonical columns (an XES or OCEL file: the layout ``o2c-sim export``
    writes, ``xes_activities`` / ``ocel_activities``). ``quarantine``: ``None``/``False`` raises one
    :class:`UserError` listing every bad row; ``True`` or a path writes the bad rows to a side CSV
    (default ``<name>.quarantine.csv``) and returns the good ones. ``known_items``: invoice ids of a
    separate ledger, so money on them is not "on an unknown item". Rows of an ignored activity are
    dropped (counted in ``attrs["ignored"]``). Every canonical column is present; a ``replication``
    column of a run's file is kept. ``issued`` rows without a due date get issue date + ``terms_days``.
    """
    path = Path(path)
    explicit = mapping is not None
    if mapping is None and path.suffix.lower() in DEFAULT_MAPPINGS:
        mapping = DEFAULT_MAPPINGS[path.suffix.lower()]
    if mapping is None:
        mapping = ActivityMapping()
    elif not isinstance(mapping, ActivityMapping):
        mapping = load_activity_mapping(mapping)
    raw, ragged, row_label, numbering = _read(path, mapping)
    if raw.empty:
        raise UserError(f"no {row_label}s in the activity log", source=str(path))
    event_log = row_label == "event"
    columns = _resolve(raw, mapping, explicit, str(path), event_log=event_log)
    out, found, ignored = _parse(raw, columns, mapping, event_log=event_log)
    several = columns.get("item_id", "").replace("object:", "objects:", 1)
    if several.startswith("objects:") and several in raw.columns:  # OCEL: one item per row
        n = pd.to_numeric(raw[several], errors="coerce").fillna(0)
        found.append(_flag(n > 1, raw[several], columns["item_id"],
                           "event related to several items; the activity table needs one item per event"))
    if "replication" in raw.columns and not explicit:
        out["replication"] = pd.to_numeric(raw["replication"], errors="coerce").fillna(0).astype("int64")
    if "currency" in raw.columns and not explicit:  # a run's file with several currencies
        out["currency"] = raw["currency"].fillna("").astype(str).str.strip().str.upper()
    usable = ~raw.index.isin(pd.concat(found)["row"])
    found += _item_checks(raw, out, columns, pd.Series(usable, index=raw.index), known_items, mapping.terms_days,
                          row_label)
    on_error = "quarantine" if quarantine not in (None, False) else "fail"
    target = None if quarantine in (None, False, True) else quarantine
    bad, written = set_aside(raw, [ragged, *found], path, on_error=on_error, quarantine_path=target,
                             row_label=row_label, numbering=numbering)
    keep = ~bad & ~ignored.to_numpy()
    good = out[keep]
    if mapping.terms_days is not None:
        fill = good["kind"].eq("issued") & good["due_date"].isna()
        good = good.assign(due_date=good["due_date"].where(~fill, good["date"].dt.normalize()
                                                           + pd.Timedelta(days=mapping.terms_days)))
    table = activity_table.conform(good)
    table.attrs = {"source": str(path), "quarantined": int(bad.sum()), "quarantine_path": written,
                   "ignored": int((ignored & ~bad).sum()), "row_label": row_label}
    return table


# --------------------------------------------------------------------------------------------- the invoice table


def invoices_from_activities(acts: pd.DataFrame) -> pd.DataFrame:
    """The invoice table (:mod:`o2c_sim.data.invoice_table`) of a log's items with an ``issued`` row.

    invoice_date = issue date, due_date and amount from ``issued``; paid / credited / written-off amount =
    the sums of ``payment`` / ``credit_note`` / ``write_off`` rows; paid_date = the day the open amount
    (amount − paid − credited − written off) first reaches 0 (within half a cent), NaT while open — the
    simulator's definition; disputed = any ``dispute_opened``, dispute_reason the latest one's reason,
    dispute_resolved_date the last ``dispute_closed``. A ``replication`` column is kept, and a ``currency``
    column gives each invoice its issued row's currency.
    """
    rep = ["replication"] if "replication" in acts.columns else []
    keys = rep + ["item_id"]
    acts = acts[acts["item_id"].ne("")]
    issued = acts[acts["kind"] == "issued"].drop_duplicates(keys)
    inv = pd.DataFrame({
        **{c: issued[c].to_numpy() for c in rep},
        "invoice_id": issued["item_id"].to_numpy(),
        "customer_id": issued["customer_id"].to_numpy(),
        "segment": "",
        "invoice_date": issued["date"].dt.normalize().to_numpy(),
        "due_date": issued["due_date"].dt.normalize().to_numpy(),
        "amount": issued["amount"].to_numpy(),
        **({"currency": issued["currency"].to_numpy()} if "currency" in issued.columns else {}),
    })
    inv = inv.rename(columns={"invoice_id": "item_id"}).set_index(keys)
    moves = acts[acts["kind"].isin(list(SETTLING))].sort_values("date", kind="stable")
    for kind, column in SETTLING.items():
        per_item = moves[moves["kind"] == kind].groupby(keys)["amount"].sum()
        inv[column] = per_item.reindex(inv.index, fill_value=0.0).round(2)
    moves = moves.assign(settled=moves.groupby(keys)["amount"].cumsum())
    moves = moves.join(inv["amount"].rename("due"), on=keys)
    closing = moves[moves["settled"] >= moves["due"] - CENT].drop_duplicates(keys).set_index(keys)["date"]
    inv["paid_date"] = closing.dt.normalize().reindex(inv.index)
    disputes = acts[acts["kind"] == "dispute_opened"].drop_duplicates(keys, keep="last").set_index(keys)["reason"]
    closed = acts[acts["kind"] == "dispute_closed"].groupby(keys)["date"].max()
    inv["disputed"] = inv.index.isin(disputes.index)
    inv["dispute_reason"] = disputes.reindex(inv.index).fillna("")
    inv["dispute_resolved_date"] = closed.dt.normalize().reindex(inv.index)
    inv = inv.reset_index().rename(columns={"item_id": "invoice_id"})
    table = invoice_table.conform(inv)
    for col in rep:
        table.insert(0, col, inv[col].to_numpy())
    return table


# --------------------------------------------------------------------------------------------- summary


def summarise(acts: pd.DataFrame) -> dict[str, Any]:
    """What a team lead checks first in a log: cases, events per kind, date range, customers, items with
    no ``issued`` row, and items paid beyond their amount due (paid + credited + written off > amount).
    A run's file with several replications counts an item once per replication."""
    key = _item_key(acts)
    has_item = acts["item_id"].ne("")
    issued_keys = set(key[acts["kind"].eq("issued") & has_item])
    counts = acts["kind"].value_counts().reindex(list(KINDS), fill_value=0)
    inv = invoices_from_activities(acts)
    excess = (inv["paid_amount"] + inv["credited_amount"] + inv["written_off_amount"] - inv["amount"]).round(2)
    over = inv.assign(excess=excess)[excess > CENT]
    return {
        "events": len(acts),
        "cases": int(key[has_item].nunique()),
        "replications": int(acts["replication"].nunique()) if "replication" in acts.columns else 1,
        "customers": int(acts["customer_id"][acts["customer_id"].ne("")].nunique()),
        "per_kind": {k: int(v) for k, v in counts.items()},
        "first_date": acts["date"].min(),
        "last_date": acts["date"].max(),
        "account_level_events": int((~has_item).sum()),
        "items_without_issued": int(key[has_item].drop_duplicates().map(lambda k: k not in issued_keys).sum()),
        "overpaid_items": int(len(over)),
        "overpaid_amount": float(over["excess"].sum()),
        "overpaid_examples": list(over["invoice_id"].head(5)),
    }

"""Writing an activity table as a process-mining event log: XES (IEEE 1849) or OCEL 2.0 (JSON).

So a simulated process opens in a process-mining tool (ProM, pm4py, Celonis, Disco …) next to the
real one. Both writers are atomic and never overwrite a file.

XES: one trace per item (``concept:name`` = item id, trace attributes ``customer`` and ``scope`` =
``invoice``) and one trace per customer for its account-level actions (calls, contacts, promises not
tied to one item: ``concept:name`` = ``account <customer>``, ``scope`` = ``account``). Each event
carries ``concept:name`` = the kind, ``time:timestamp``, ``lifecycle:transition`` = complete, and where they apply ``amount``, ``level``,
``outcome``, ``reason``, ``promised_date``, ``due_date``. The shipped mapping
``scenarios/mappings/xes_activities.yaml`` reads it back.

OCEL 2.0 (https://www.ocel-standard.org, JSON format): object types ``invoice`` (attributes amount,
due_date) and ``customer``; one event type per kind with the same attributes as in XES; each event
relates to its invoice (qualifier ``item``) and its customer (qualifier ``customer``); each invoice
relates to its customer (``billed to``). ``scenarios/mappings/ocel_activities.yaml`` reads it back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd

from o2c_sim.data.activity_table import KINDS
from o2c_sim.errors import UserError
from o2c_sim.data.rundir import atomic_file

#: event attributes written besides the activity and time: column -> (XES element, OCEL type)
ATTRIBUTES = {"amount": ("float", "float"), "level": ("int", "integer"), "outcome": ("string", "string"),
              "reason": ("string", "string"), "promised_date": ("date", "time"), "due_date": ("date", "time")}
ACCOUNT_TRACE = "account {}"


def _refuse_existing(target: Path) -> None:
    if target.exists():
        raise UserError("already exists; an export is never overwritten — choose another file name or remove it",
                        source=str(target))


def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.000+00:00")


def _values(acts: pd.DataFrame) -> dict[str, list]:
    """Per attribute column, its values as text ready to write (None where absent)."""
    out: dict[str, list] = {}
    for col in ATTRIBUTES:
        if col not in acts.columns:
            continue
        s = acts[col]
        if col == "amount":
            out[col] = [None if np.isnan(v) else f"{v:.2f}" for v in s.to_numpy(dtype=float)]
        elif col == "level":
            out[col] = [None if pd.isna(v) else str(int(v)) for v in s]
        elif col in ("promised_date", "due_date"):
            out[col] = [None if pd.isna(v) else _iso(v) for v in s]
        else:
            out[col] = [v or None for v in s.astype(str)]
    return out


def _ordered(acts: pd.DataFrame) -> pd.DataFrame:
    """Rows grouped by trace (items first, then account traces), by date within a trace, file order kept."""
    trace = np.where(acts["item_id"].ne(""), acts["item_id"], [ACCOUNT_TRACE.format(c) for c in acts["customer_id"]])
    out = acts.assign(_trace=trace, _account=acts["item_id"].eq(""), _order=np.arange(len(acts)))
    return out.sort_values(["_account", "_trace", "date", "_order"], kind="stable").reset_index(drop=True)


def write_xes(acts: pd.DataFrame, target: str | os.PathLike, *, name: str = "o2c-sim") -> Path:
    """Write ``acts`` (the canonical activity table) as an XES log at ``target``, atomically."""
    target = Path(target)
    _refuse_existing(target)
    rows = _ordered(acts)
    values = _values(rows)
    header = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<log xes.version="1849-2016" xes.features="" xmlns="http://www.xes-standard.org/">',
        '  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>',
        '  <extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>',
        '  <extension name="Lifecycle" prefix="lifecycle" uri="http://www.xes-standard.org/lifecycle.xesext"/>',
        '  <global scope="trace"><string key="concept:name" value="UNKNOWN"/></global>',
        '  <global scope="event"><string key="concept:name" value="UNKNOWN"/>'
        '<date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/></global>',
        '  <classifier name="Activity" keys="concept:name"/>',
        f'  <string key="concept:name" value={quoteattr(name)}/>',
    ]
    traces, customers, accounts = rows["_trace"].to_numpy(), rows["customer_id"].to_numpy(), rows["_account"].to_numpy()
    kinds, dates = rows["kind"].astype(str).to_numpy(), [_iso(d) for d in rows["date"]]
    with atomic_file(target) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write("\n".join(header) + "\n")
        previous = None
        for i in range(len(rows)):
            if traces[i] != previous:
                if previous is not None:
                    fh.write("  </trace>\n")
                previous = traces[i]
                fh.write(f'  <trace>\n    <string key="concept:name" value={quoteattr(traces[i])}/>\n'
                         f'    <string key="customer" value={quoteattr(customers[i])}/>\n'
                         f'    <string key="scope" value="{"account" if accounts[i] else "invoice"}"/>\n')
            parts = [f'    <event>\n      <string key="concept:name" value="{kinds[i]}"/>\n'
                     f'      <date key="time:timestamp" value="{dates[i]}"/>\n'
                     '      <string key="lifecycle:transition" value="complete"/>\n']
            for col, column_values in values.items():
                v = column_values[i]
                if v is not None:
                    parts.append(f'      <{ATTRIBUTES[col][0]} key="{col}" value={quoteattr(v)}/>\n')
            parts.append("    </event>\n")
            fh.write("".join(parts))
        if previous is not None:
            fh.write("  </trace>\n")
        fh.write("</log>\n")
    return target


def ocel_document(acts: pd.DataFrame) -> dict:
    """The OCEL 2.0 JSON document (a dict) of ``acts``."""
    values = _values(acts)
    customers = sorted(set(acts["customer_id"]) - {""})
    issued_rows = acts[(acts["kind"] == "issued") & acts["item_id"].ne("")].drop_duplicates("item_id")
    issued = {r["item_id"]: r for r in issued_rows.to_dict("records")}
    items = list(dict.fromkeys(acts.loc[acts["item_id"].ne(""), "item_id"]))
    clash = set(customers) & set(items)
    customer_id = (lambda c: f"customer:{c}") if clash else (lambda c: c)
    event_attrs = [{"name": c, "type": ATTRIBUTES[c][1]} for c in values]
    kinds_present = [k for k in KINDS if (acts["kind"] == k).any()]
    objects = []
    for item in items:
        attrs, rel = [], []
        row = issued.get(item)
        if row is not None:
            stamp = _iso(row["date"])
            if not pd.isna(row.get("amount", np.nan)):
                attrs.append({"name": "amount", "time": stamp, "value": float(row["amount"])})
            if not pd.isna(row.get("due_date", pd.NaT)):
                attrs.append({"name": "due_date", "time": stamp, "value": _iso(row["due_date"])})
            if row["customer_id"]:
                rel.append({"objectId": customer_id(row["customer_id"]), "qualifier": "billed to"})
        objects.append({"id": item, "type": "invoice", "attributes": attrs, "relationships": rel})
    objects += [{"id": customer_id(c), "type": "customer", "attributes": [], "relationships": []} for c in customers]
    events = []
    kinds, item_ids, cust = acts["kind"].astype(str).to_numpy(), acts["item_id"].to_numpy(), acts["customer_id"].to_numpy()
    for i, when in enumerate(acts["date"]):
        attrs = []
        for col, column_values in values.items():
            v = column_values[i]
            if v is None:
                continue
            typed = float(v) if col == "amount" else int(v) if col == "level" else v
            attrs.append({"name": col, "value": typed})
        rel = []
        if item_ids[i]:
            rel.append({"objectId": item_ids[i], "qualifier": "item"})
        if cust[i]:
            rel.append({"objectId": customer_id(cust[i]), "qualifier": "customer"})
        events.append({"id": f"e{i + 1}", "type": kinds[i], "time": _iso(when), "attributes": attrs,
                       "relationships": rel})
    return {
        "objectTypes": [{"name": "invoice", "attributes": [{"name": "amount", "type": "float"},
                                                           {"name": "due_date", "type": "time"}]},
                        {"name": "customer", "attributes": []}],
        "eventTypes": [{"name": k, "attributes": event_attrs} for k in kinds_present],
        "objects": objects,
        "events": events,
    }


def write_ocel(acts: pd.DataFrame, target: str | os.PathLike) -> Path:
    """Write ``acts`` as an OCEL 2.0 JSON file at ``target``, atomically."""
    target = Path(target)
    _refuse_existing(target)
    document = ocel_document(acts)
    with atomic_file(target) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(document, fh, ensure_ascii=False)
    return target


def run_activities(run_dir: str | os.PathLike, replication: int = 0) -> pd.DataFrame:
    """One replication's activity table from a run directory's ``activities.parquet``."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError("not found; expected a run directory made by 'o2c-sim run'", source=str(run_dir))
    path = run_dir / "activities.parquet"
    if not path.exists():
        raise UserError("has no activities.parquet; expected a run directory made by 'o2c-sim run' "
                        "(runs made before activity logs existed: run the scenario again)", source=str(run_dir))
    acts = pd.read_parquet(path)
    if "replication" in acts.columns:
        present = sorted(int(r) for r in acts["replication"].unique())
        if replication not in present:
            raise UserError(f"--replication {replication} is not in this run; it has {present}", source=str(path))
        acts = acts[acts["replication"] == replication].drop(columns="replication")
    elif replication != 0:
        raise UserError(f"--replication {replication} is not in this run; it has only replication 0", source=str(path))
    return acts.reset_index(drop=True)

"""The activity-log importer: canonical files, the shipped mappings (SAP FSCM, Oracle AC, a spreadsheet,
XES), every bad-row kind named by file/row/field/value, quarantine keeping every good row, and the
invoice table derived from a log alone, checked against the simulator's own invoice table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from o2c_sim.data.activities import (ActivityMapping, invoices_from_activities, load_activities, load_activity_mapping,
                                read_xes, summarise)
from o2c_sim.data.activity_table import KINDS
from o2c_sim.cli import main
from o2c_sim.errors import UserError
from o2c_sim.data.importer import MAPPINGS_DIR
from o2c_sim.sim.model import simulate

from conftest import small_scenario


@pytest.fixture(scope="module")
def result():
    return simulate(small_scenario(overrides={"portfolio.accounts": 120, "horizon_days": 240, "warmup_days": 30}))


# ----------------------------------------------------------------------------------------- canonical files


def test_canonical_csv_and_parquet_load_unchanged(result, tmp_path):
    acts = result.activities
    acts.to_csv(tmp_path / "a.csv", index=False)
    acts.to_parquet(tmp_path / "a.parquet", index=False)
    for name in ("a.csv", "a.parquet"):
        loaded = load_activities(tmp_path / name)
        pd.testing.assert_frame_equal(loaded, acts, check_categorical=False)
        assert loaded.attrs["quarantined"] == 0


def test_invoice_table_from_the_log_alone_matches_the_simulators(result):
    """Independent check: the simulator's ledger moved the money; the log only recorded the events."""
    derived = invoices_from_activities(result.activities).set_index("invoice_id").sort_index()
    truth = result.invoices.set_index("invoice_id").sort_index()
    assert derived.index.equals(truth.index)
    for col in ("amount", "paid_amount", "credited_amount", "written_off_amount"):
        assert (derived[col] - truth[col]).abs().max() < 0.005, col
    for col in ("invoice_date", "due_date", "dispute_resolved_date"):
        assert derived[col].equals(truth[col]), col
    assert (derived["disputed"] == truth["disputed"]).all()
    assert (derived["dispute_reason"] == truth["dispute_reason"]).all()
    # paid_date: the day the money arrived; the simulated ledger closes an item when unapplied cash is
    # applied, up to a few days later
    lag = (truth["paid_date"] - derived["paid_date"]).dt.days
    assert derived["paid_date"].isna().equals(truth["paid_date"].isna())
    assert lag.dropna().between(0, 5).all() and (lag.dropna() == 0).mean() > 0.97


# ----------------------------------------------------------------------------------------- a spreadsheet log

SHEET = ["Invoice", "Customer", "Date", "What happened", "Amount", "Promised for", "Reason"]


def sheet_rows() -> list[list[str]]:
    """Two invoices, reminders, a call, a promise, a query and payments; amounts end in distinct cents."""
    return [
        ["A-001", "ACME", "02/01/2024", "Invoice sent", "1000.01", "", ""],
        ["A-002", "ACME", "05/01/2024", "Invoice sent", "250.02", "", ""],
        ["A-001", "ACME", "08/02/2024", "Reminder 1", "", "", ""],
        ["", "ACME", "12/02/2024", "Called, no answer", "", "", ""],
        ["", "ACME", "13/02/2024", "Spoke to customer", "", "", ""],
        ["A-001", "ACME", "13/02/2024", "Promised to pay", "1000.01", "20/02/2024", ""],
        ["A-002", "ACME", "14/02/2024", "Query raised", "", "", "pricing"],
        ["A-001", "ACME", "21/02/2024", "Part paid", "600.00", "", ""],
        ["A-001", "ACME", "28/02/2024", "Paid", "400.01", "", ""],
        ["A-002", "ACME", "01/03/2024", "Credit note", "50.02", "", ""],
        ["A-002", "ACME", "01/03/2024", "Query resolved", "", "", ""],
    ]


def write_sheet(path: Path, rows: list[list[str]]) -> Path:
    frame = pd.DataFrame(rows, columns=SHEET)
    if path.suffix == ".xlsx":
        frame.to_excel(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_spreadsheet_log_alone_gives_the_invoice_table(tmp_path, suffix):
    acts = load_activities(write_sheet(tmp_path / f"log{suffix}", sheet_rows()), "spreadsheet_activities")
    assert list(acts["kind"].astype(str)) == ["issued", "issued", "notice", "call_attempt", "contact", "promise",
                                              "dispute_opened", "payment", "payment", "credit_note", "dispute_closed"]
    assert acts.loc[2, "level"] == 1 and acts.loc[5, "promised_date"] == pd.Timestamp("2024-02-20")
    assert acts.loc[3, "item_id"] == "" and acts.loc[3, "customer_id"] == "ACME"
    inv = invoices_from_activities(acts).set_index("invoice_id")
    assert inv.loc["A-001", "due_date"] == pd.Timestamp("2024-02-01")  # 2 January + terms_days 30
    assert inv.loc["A-001", "paid_amount"] == 1000.01 and inv.loc["A-001", "paid_date"] == pd.Timestamp("2024-02-28")
    assert inv.loc["A-002", "credited_amount"] == 50.02 and pd.isna(inv.loc["A-002", "paid_date"])
    assert inv.loc["A-002", "disputed"] and inv.loc["A-002", "dispute_reason"] == "pricing"


BAD = {  # row index in sheet_rows() -> (change, column, words of the message)
    "unknown activity": (3, {"What happened": "Sent a postcard"}, "What happened", "unknown activity"),
    "date before issue": (8, {"Date": "01/01/2024"}, "Date", "date before the item's issue on 2024-01-02"),
    "payment on unknown item": (7, {"Invoice": "A-999"}, "Invoice", "payment on an unknown item"),
    "bad amount": (8, {"Amount": "four hundred"}, "Amount", "bad amount: not a number"),
    "negative amount": (9, {"Amount": "-50.02"}, "Amount", "bad amount: negative"),
    "unparseable date": (6, {"Date": "31/02/2024"}, "Date", "unparseable date"),
    "payment without amount": (7, {"Amount": ""}, "Amount", "needs an amount"),
    "issued twice": (1, {"Invoice": "A-001"}, "Invoice", "item issued twice (first issued on row 2)"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_each_bad_row_names_file_row_field_and_value(tmp_path, case):
    index, change, column, words = BAD[case]
    rows = sheet_rows()
    rows[index] = [change.get(name, value) for name, value in zip(SHEET, rows[index])]
    path = write_sheet(tmp_path / "log.csv", rows)
    with pytest.raises(UserError) as err:
        load_activities(path, "spreadsheet_activities")
    message = str(err.value)
    assert str(path) in message and f"row {index + 2}, column '{column}'" in message and words in message
    if change[column]:
        assert repr(change[column]) in message


def test_quarantine_keeps_every_good_row_and_exit_codes(tmp_path, capsys):
    rows = sheet_rows()
    bad = {3: {"What happened": "Sent a postcard"}, 7: {"Invoice": "A-999"}, 9: {"Amount": "x"}}
    for index, change in bad.items():
        rows[index] = [change.get(name, value) for name, value in zip(SHEET, rows[index])]
    path = write_sheet(tmp_path / "log.csv", rows)
    assert main(["validate", "--activities", str(path), "--activity-mapping", "spreadsheet_activities"]) == 2
    err = capsys.readouterr().err
    assert "3 problem(s) in 3 of 11 rows" in err and "Traceback" not in err
    side = tmp_path / "bad.csv"
    assert main(["validate", "--activities", str(path), "--activity-mapping", "spreadsheet_activities",
                 "--quarantine", str(side)]) == 0
    assert "3 bad row(s) written to" in capsys.readouterr().out
    quarantined = pd.read_csv(side, encoding="utf-8-sig")
    assert sorted(quarantined["row"]) == [i + 2 for i in bad]
    kept = load_activities(path, "spreadsheet_activities", quarantine=tmp_path / "again.csv")
    assert len(kept) == len(rows) - len(bad) and kept.attrs["quarantined"] == len(bad)


def test_a_ledger_makes_its_items_known(tmp_path):
    rows = [r for r in sheet_rows() if r[3] != "Invoice sent"]
    path = write_sheet(tmp_path / "log.csv", rows)
    acts = load_activities(path, "spreadsheet_activities", known_items={"A-001", "A-002"})
    assert len(acts) == len(rows)
    with pytest.raises(UserError, match="not in the ledger"):
        load_activities(path, "spreadsheet_activities", known_items={"A-001"})


def test_summary_counts_missing_issues_and_overpayments(tmp_path):
    rows = sheet_rows() + [["A-002", "ACME", "02/03/2024", "Paid", "300.00", "", ""],
                           ["B-7", "ZETA", "02/03/2024", "Reminder 2", "", "", ""]]
    summary = summarise(load_activities(write_sheet(tmp_path / "log.csv", rows), "spreadsheet_activities"))
    assert summary["cases"] == 3 and summary["customers"] == 2 and summary["items_without_issued"] == 1
    assert summary["overpaid_items"] == 1 and summary["overpaid_amount"] == pytest.approx(100.00)  # 300 + 50.02 − 250.02
    assert summary["per_kind"]["payment"] == 3 and summary["first_date"] == pd.Timestamp("2024-01-02")


# ----------------------------------------------------------------------------------------- ERP-style mappings


def test_sap_fscm_style_export(tmp_path):
    cols = ["Reference", "Business Partner", "Activity Date", "Activity", "Amount in LC", "Dunning Level",
            "P2P Date", "Net Due Date", "Result", "Reason Code"]
    rows = [
        ["1800000123", "100045", "15.01.2024", "Invoice posted", "1190.00", "", "", "14.02.2024", "", ""],
        ["1800000124", "100045", "16.01.2024", "Invoice posted", "95.50", "", "", "", "", ""],
        ["", "100045", "17.01.2024", "Worklist item created", "", "", "", "", "", ""],
        ["1800000123", "100045", "20.02.2024", "Dunning notice", "", "2", "", "", "", ""],
        ["", "100045", "22.02.2024 10:15:00", "Customer contact", "", "", "", "", "P2P", ""],
        ["1800000123", "100045", "22.02.2024", "Promise to pay created", "1190.00", "", "29.02.2024", "", "", ""],
        ["1800000123", "100045", "28.02.2024", "Incoming payment", "-1190.00", "", "", "", "", ""],
        ["1800000124", "100045", "01.03.2024", "Credit memo", "-95.50", "", "", "", "", "PRIC"],
    ]
    pd.DataFrame(rows, columns=cols).to_csv(tmp_path / "fscm.csv", index=False)
    acts = load_activities(tmp_path / "fscm.csv", "sap_fscm_activities")
    assert acts.attrs["ignored"] == 1 and len(acts) == 7
    assert acts.loc[2, "kind"] == "notice" and acts.loc[2, "level"] == 2
    assert acts.loc[3, "date"] == pd.Timestamp("2024-02-22 10:15") and acts.loc[3, "outcome"] == "promise"
    inv = invoices_from_activities(acts).set_index("invoice_id")
    assert inv.loc["1800000123", "paid_amount"] == 1190.00 and inv.loc["1800000123", "due_date"] == pd.Timestamp("2024-02-14")
    assert inv.loc["1800000124", "due_date"] == pd.Timestamp("2024-02-15")  # terms_days 30
    assert inv.loc["1800000124", "credited_amount"] == 95.50


def test_oracle_ac_style_export(tmp_path):
    cols = ["TRX_NUMBER", "ACCOUNT_NUMBER", "OBJECT_TYPE", "ACTIVITY_DATE", "ACTIVITY_TYPE", "AMOUNT",
            "DUNNING_LEVEL", "PROMISE_DATE", "DUE_DATE", "OUTCOME", "REASON_CODE"]
    rows = [
        ["10234", "4711", "TRX", "03-JAN-2024", "INVOICE", "500.00", "", "", "02-FEB-2024", "", ""],
        ["10234", "4711", "TRX", "12-Feb-2024", "DUNNING_LETTER_1", "", "", "", "", "", ""],
        ["10234", "4711", "ACCOUNT", "14-FEB-2024", "CALL_NO_ANSWER", "", "", "", "", "", ""],
        ["10234", "4711", "TRX", "20-FEB-2024", "RECEIPT", "500.00", "", "", "", "", ""],
        ["10234", "4711", "TRX", "21-FEB-2024", "NOTE", "", "", "", "", "", ""],
    ]
    pd.DataFrame(rows, columns=cols).to_csv(tmp_path / "ac.csv", index=False)
    acts = load_activities(tmp_path / "ac.csv", "oracle_ac_activities")
    assert list(acts["kind"].astype(str)) == ["issued", "notice", "call_attempt", "payment"]
    assert acts.loc[1, "level"] == 1 and acts.loc[1, "date"] == pd.Timestamp("2024-02-12")
    assert acts.loc[2, "item_id"] == ""  # logged on the account
    assert invoices_from_activities(acts).loc[0, "paid_date"] == pd.Timestamp("2024-02-20")


@pytest.mark.parametrize("path", sorted(MAPPINGS_DIR.glob("*activit*.yaml")), ids=lambda p: p.stem)
def test_shipped_mappings_load(path):
    mapping = load_activity_mapping(path)
    assert {spec.kind for spec in mapping.activities.values()} <= set(KINDS)
    assert "date" in mapping.columns and "activity" in mapping.columns


def test_a_mapping_mistake_names_the_field(tmp_path):
    bad = tmp_path / "m.yaml"
    bad.write_text("columns: {date: Date, activty: What}\nactivities: {Paid: paied}\n")
    with pytest.raises(UserError) as err:
        load_activity_mapping(bad)
    assert "activty" in str(err.value) and "paied" in str(err.value) and str(bad) in str(err.value)


# ----------------------------------------------------------------------------------------- XES

XES = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1849-2016" xmlns="http://www.xes-standard.org/">
  <global scope="event"><string key="concept:name" value="UNKNOWN"/></global>
  <string key="concept:name" value="a log"/>
  <trace>
    <string key="concept:name" value="INV-1"/>
    <string key="customer" value="C1"/>
    <event>
      <string key="concept:name" value="issued"/>
      <date key="time:timestamp" value="2024-01-02T00:00:00.000+01:00"/>
      <float key="amount" value="99.99"/>
      <date key="due_date" value="2024-02-01T00:00:00.000+01:00"/>
      <list key="tags"><values><string key="x" value="nested, not read"/></values></list>
    </event>
    <event>
      <string key="concept:name" value="payment"/>
      <date key="time:timestamp" value="2024-02-03T14:30:00Z"/>
      <float key="amount" value="{amount}"/>
    </event>
  </trace>
  <trace>
    <string key="concept:name" value="account C1"/>
    <string key="customer" value="C1"/>
    <string key="scope" value="account"/>
    <event>
      <string key="concept:name" value="contact"/>
      <date key="time:timestamp" value="2024-01-20T09:00:00.000+00:00"/>
      <string key="outcome" value="promise"/>
    </event>
  </trace>
</log>
"""


def test_xes_reads_events_with_their_trace(tmp_path):
    path = tmp_path / "log.xes"
    path.write_text(XES.replace("{amount}", "99.99"))
    raw = read_xes(path)
    assert list(raw.index) == [1, 2, 3] and "x" not in raw.columns and "case:concept:a log" not in raw.columns
    assert list(raw["case:concept:name"]) == ["INV-1", "INV-1", "account C1"]
    acts = load_activities(path)  # XES without a mapping: the standard attribute names
    assert list(acts["item_id"]) == ["INV-1", "INV-1", ""] and list(acts["customer_id"]) == ["C1"] * 3
    assert acts.loc[1, "date"] == pd.Timestamp("2024-02-03 14:30")  # wall-clock time, offset dropped
    assert acts.loc[0, "due_date"] == pd.Timestamp("2024-02-01") and acts.loc[2, "outcome"] == "promise"
    assert np.allclose(acts["amount"].fillna(0), [99.99, 99.99, 0])


def test_xes_bad_event_and_bad_file(tmp_path):
    path = tmp_path / "log.xes"
    path.write_text(XES.replace("{amount}", "NaN"))
    with pytest.raises(UserError) as err:
        load_activities(path, "xes_activities")
    assert "event 2, column 'amount': bad amount" in str(err.value) and "events numbered from 1" in str(err.value)
    broken = tmp_path / "broken.xes"
    broken.write_text(XES.replace("{amount}", "1")[:-20])
    with pytest.raises(UserError, match="not a well-formed XES"):
        load_activities(broken, "xes_activities")
    assert main(["validate", "--activities", str(path), "--activity-mapping", "xes_activities",
                 "--quarantine"]) == 0
    assert (tmp_path / "log.quarantine.csv").exists()


def test_missing_column_without_mapping_says_what_to_do(tmp_path):
    pd.DataFrame({"Invoice": ["1"], "When": ["2024-01-01"]}).to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(UserError, match="--activity-mapping"):
        load_activities(tmp_path / "x.csv")
    with pytest.raises(UserError, match="'Amount' \\(for amount\\)"):
        load_activities(tmp_path / "x.csv", ActivityMapping(columns={"item_id": "Invoice", "date": "When",
                                                                     "activity": "When", "amount": "Amount"}))


def test_validate_a_log_against_its_ledger(tmp_path, capsys):
    ledger = pd.DataFrame({"invoice_id": ["A-001", "A-002"], "customer_id": ["ACME", "ACME"],
                           "invoice_date": ["2024-01-02", "2024-01-05"], "due_date": ["2024-02-01", "2024-02-04"],
                           "amount": [1000.01, 250.02]})
    ledger.to_csv(tmp_path / "ledger.csv", index=False)
    log = write_sheet(tmp_path / "log.csv", [r for r in sheet_rows() if r[3] != "Invoice sent"])
    args = ["validate", str(tmp_path / "ledger.csv"), "--activities", str(log), "--activity-mapping", "spreadsheet_activities"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "2 invoices" in out and "9 events, 2 cases (items), 1 customers" in out
    assert "2 items have events but no issued row" in out and "per kind       notice 1, call_attempt 1" in out


def test_ocel_event_with_two_invoices_is_a_bad_row_and_bad_json_is_refused(tmp_path):
    doc = {"objectTypes": [{"name": "invoice", "attributes": []}, {"name": "customer", "attributes": []}],
           "eventTypes": [{"name": "issued", "attributes": []}, {"name": "payment", "attributes": []}],
           "objects": [{"id": "I1", "type": "invoice", "relationships": [{"objectId": "C1", "qualifier": "billed to"}]},
                       {"id": "I2", "type": "invoice", "relationships": [{"objectId": "C1", "qualifier": "billed to"}]},
                       {"id": "C1", "type": "customer"}],
           "events": [{"id": "e1", "type": "issued", "time": "2024-01-01T00:00:00Z",
                       "attributes": [{"name": "amount", "value": 10.5}, {"name": "due_date", "value": "2024-01-31T00:00:00Z"}],
                       "relationships": [{"objectId": "I1", "qualifier": "item"}]},
                      {"id": "e2", "type": "issued", "time": "2024-01-01T00:00:00Z",
                       "attributes": [{"name": "amount", "value": 20}, {"name": "due_date", "value": "2024-01-31T00:00:00Z"}],
                       "relationships": [{"objectId": "I2", "qualifier": "item"}]},
                      {"id": "e3", "type": "payment", "time": "2024-02-01T00:00:00Z",
                       "attributes": [{"name": "amount", "value": 30.5}],
                       "relationships": [{"objectId": "I1", "qualifier": "item"}, {"objectId": "I2", "qualifier": "item"}]}]}
    path = tmp_path / "log.jsonocel"
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError, match="event 3, column 'object:invoice': event related to several items"):
        load_activities(path)
    kept = load_activities(path, quarantine=True)
    assert list(kept["customer_id"]) == ["C1", "C1"]  # from the invoice's relationship
    assert list(kept["amount"]) == [10.5, 20.0] and kept.loc[0, "due_date"] == pd.Timestamp("2024-01-31")
    path.write_text("{not json")
    with pytest.raises(UserError, match="not a JSON file"):
        load_activities(path)

"""The activity table a simulation writes agrees with its own invoice table (DESIGN §4)."""

from __future__ import annotations

import pandas as pd
import pytest

from o2c_sim.data.activity_table import KINDS
from o2c_sim.sim.model import simulate

from conftest import small_scenario


@pytest.fixture(scope="module")
def result():
    return simulate(small_scenario(overrides={"horizon_days": 120, "warmup_days": 30}))


def _per_item(acts: pd.DataFrame, kind: str) -> pd.Series:
    rows = acts[acts["kind"] == kind]
    return rows.groupby("item_id")["amount"].sum()


def test_vocabulary_and_issued_rows_match_the_invoice_table(result):
    acts, inv = result.activities, result.invoices
    assert set(acts["kind"].astype(str)) <= set(KINDS)
    issued = acts[acts["kind"] == "issued"].set_index("item_id").sort_index()
    inv = inv.set_index("invoice_id").sort_index()
    assert issued.index.equals(inv.index)
    assert (issued["amount"] == inv["amount"]).all()
    assert (issued["due_date"] == inv["due_date"]).all()


def test_money_rows_match_the_invoice_table(result):
    acts, inv = result.activities, result.invoices.set_index("invoice_id")
    for kind, column in (("credit_note", "credited_amount"), ("write_off", "written_off_amount")):
        per_item = _per_item(acts, kind).reindex(inv.index, fill_value=0.0)
        assert (per_item - inv[column]).abs().max() < 0.005, kind


def test_action_details(result):
    acts = result.activities
    notices = acts[acts["kind"] == "notice"]
    assert len(notices) and notices["level"].min() >= 1 and notices["item_id"].ne("").all()
    promises = acts[acts["kind"] == "promise"]
    assert len(promises) and (promises["promised_date"] > promises["date"]).all()
    contacts = acts[acts["kind"] == "contact"]
    assert set(contacts["outcome"]) <= {"promise", "dispute", "plan", "refusal"}
    assert contacts["item_id"].eq("").all() and contacts["customer_id"].ne("").all()

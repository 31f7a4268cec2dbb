"""Money as it arrives: dated payment records (payments table or activity-log payment rows) drive the
receipts, each partial payment on its own date; an open invoice is expected to pay only its rest."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from o2c_sim.cli import main
from o2c_sim.errors import UserError
from o2c_sim.forecast.gap import gap_analysis
from o2c_sim.forecast.invoice_level import SurvivalCurves
from o2c_sim.forecast.series import History, cash_events, payments_from_activities, receipts
from o2c_sim.data.importer import load_payments
from test_forecast import synthetic_ledger


@pytest.fixture(scope="module")
def split():
    """The synthetic ledger where every third invoice is paid in two halves three weeks apart (the second on
    its settlement date): the ledger alone shows one receipt, the payments table both."""
    led = synthetic_ledger(weeks=40)
    halves = led.iloc[::3]
    first = pd.DataFrame({"invoice_id": halves["invoice_id"], "payment_date": halves["paid_date"] - pd.Timedelta(days=21),
                          "amount": (halves["amount"] / 2).round(2)})
    second = pd.DataFrame({"invoice_id": halves["invoice_id"], "payment_date": halves["paid_date"],
                           "amount": (halves["amount"] - (halves["amount"] / 2).round(2)).round(2)})
    whole = led.drop(halves.index)
    rest = pd.DataFrame({"invoice_id": whole["invoice_id"], "payment_date": whole["paid_date"], "amount": whole["amount"]})
    payments = pd.concat([first, second, rest]).sort_values("payment_date", ignore_index=True)
    return led, payments


def test_partial_payments_are_received_on_their_own_dates(split):
    led, payments = split
    with_pay, ledger_only = receipts(led, "W", payments=payments), receipts(led, "W")
    expected = payments.groupby(payments["payment_date"] - pd.to_timedelta(payments["payment_date"].dt.day_of_week, unit="D"))["amount"].sum()
    pd.testing.assert_series_equal(with_pay, expected.reindex(with_pay.index, fill_value=0.0).rename("receipts"), check_freq=False,
                                   check_names=False, check_index_type=False)
    # the same money, to the cent (first halves arrive earlier, so more of it inside the extract's weeks)
    assert cash_events(led, payments)["amount"].sum() == pytest.approx(cash_events(led)["amount"].sum(), abs=0.01)
    assert with_pay.sum() > ledger_only.sum()
    assert (with_pay - ledger_only).abs().max() > 100  # but not on the same weeks
    # an invoice without payment records is received as the ledger says
    only_some = payments[~payments["invoice_id"].isin(led["invoice_id"].iloc[:50])]
    cash = cash_events(led, only_some)
    assert cash["amount"].sum() == pytest.approx(led["amount"].sum(), abs=0.01)


def test_an_open_invoice_partly_paid_is_expected_to_pay_its_rest(split):
    led, payments = split
    as_of = pd.Timestamp("2020-07-05")
    h_pay, h_led = History(led, as_of, payments=payments), History(led, as_of)
    part = h_pay.known[h_pay.known["paid_date"].isna() & (h_pay.known["paid_amount"] > 0)]
    assert len(part) > 0  # first halves received, invoices still open
    assert (part["paid_amount"] == part["invoice_id"].map(payments[payments["payment_date"] <= as_of]
                                                        .groupby("invoice_id")["amount"].sum())).all()
    ids = set(part["invoice_id"])

    def exp(h):
        items = SurvivalCurves().items(h, 26)
        return items[items["invoice_id"].isin(ids)].groupby("invoice_id")["expected"].sum()

    ratio = (exp(h_pay) / exp(h_led)).dropna()
    np.testing.assert_allclose(ratio, 0.5, atol=0.01)  # the rest is half: the same curve on half the amount


def test_payment_rows_of_an_activity_log_are_a_payments_table(split):
    led, payments = split
    log = pd.DataFrame({"item_id": payments["invoice_id"], "date": payments["payment_date"], "kind": "payment",
                        "amount": payments["amount"]})
    log = pd.concat([log, pd.DataFrame({"item_id": ["I00001"], "date": [pd.Timestamp("2020-02-01")], "kind": ["notice"],
                                        "amount": [np.nan]})])
    got = payments_from_activities(log)
    assert len(got) == len(payments) and got["amount"].sum() == pytest.approx(payments["amount"].sum())
    assert payments_from_activities(log[log["kind"] == "notice"]) is None


def test_gap_counts_each_partial_payment_in_its_window(split):
    led, payments = split
    as_of = pd.Timestamp("2020-07-05")
    items = SurvivalCurves().items(History(led, as_of, payments=payments), 8)
    start, end = pd.Timestamp("2020-07-06"), pd.Timestamp("2020-07-26")
    table = gap_analysis(led, items, as_of, start, end, payments)
    in_window = payments[payments["payment_date"].between(start, end)]
    open_or_new = set(table["invoice_id"])
    assert table["actual"].sum() == pytest.approx(in_window[in_window["invoice_id"].isin(open_or_new)]["amount"].sum(), abs=0.01)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_payments_table_is_read_with_aliases_and_formats(tmp_path, split, suffix):
    _, payments = split
    f = tmp_path / f"pay{suffix}"
    raw = payments.rename(columns={"invoice_id": "item_id", "payment_date": "date"})
    raw.to_csv(f, index=False) if suffix == ".csv" else raw.to_parquet(f, index=False)
    got = load_payments(f, set(payments["invoice_id"]))
    assert list(got.columns) == ["invoice_id", "payment_date", "amount"]
    assert got["amount"].sum() == pytest.approx(payments["amount"].sum(), abs=0.01)


def test_bad_payment_rows_are_named_by_row_and_column(tmp_path):
    f = tmp_path / "pay.csv"
    f.write_text("invoice_id,payment_date,amount\nI00001,2020-02-03,50.00\nI99999,2020-02-04,10\nI00002,someday,5\nI00003,2020-02-05,five\n")
    with pytest.raises(UserError) as err:
        load_payments(f, {"I00001", "I00002", "I00003"})
    msg = str(err.value)
    assert "pay.csv" in msg and "3 problem(s)" in msg
    assert "row 3" in msg and "no invoice with this id" in msg
    assert "row 4" in msg and "payment_date" in msg and "unparseable date" in msg
    assert "row 5" in msg and "not a number" in msg
    (tmp_path / "cols.csv").write_text("invoice,when,amount\nI00001,2020-02-03,5\n")
    with pytest.raises(UserError, match="no column payment_date"):
        load_payments(tmp_path / "cols.csv")


def test_cli_forecast_with_payments_and_a_bad_payments_file(tmp_path, split, capsys):
    led, payments = split
    src, pay = tmp_path / "ledger.csv", tmp_path / "payments.csv"
    led.to_csv(src, index=False)
    payments.to_csv(pay, index=False)
    out = tmp_path / "fc"
    assert main(["forecast", str(src), "--as-of", "2020-09-06", "--horizon", "4", "--models", "naive,invoice_km",
                 "--payments", str(pay), "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["payments"] == f"{len(payments)} dated payment records"
    assert "track record, last quarter (13 weeks), honest: WAPE 1-4" in capsys.readouterr().out
    assert main(["gap", str(src), "--forecast", str(out), "--period", "2020-09-07..2020-09-20", "--payments", str(pay)]) == 0
    table = pd.read_csv(next(out.glob("gap_*")) / "gap_by_invoice.csv")
    window = payments[payments["payment_date"].between("2020-09-07", "2020-09-20")]
    assert table["actual"].sum() == pytest.approx(window[window["invoice_id"].isin(table["invoice_id"])]["amount"].sum(), abs=0.01)
    bad = tmp_path / "bad.csv"
    bad.write_text("invoice_id,payment_date,amount\nNOPE,2020-02-03,5\n")
    capsys.readouterr()
    assert main(["forecast", str(src), "--as-of", "2020-09-06", "--payments", str(bad), "--out", str(tmp_path / "fc2")]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and "row 2" in err and "Traceback" not in err and not (tmp_path / "fc2").exists()

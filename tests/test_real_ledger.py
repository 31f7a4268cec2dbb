"""A real ERP export as it comes: BOM, ';' separator, decimal comma, DD/MM/YYYY dates, credit notes,
prepayments and two currencies with an FX table — it imports, calibrates and forecasts end to end;
the same file without a stated date format, when every day is 12 or less, is refused clearly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from o2c_sim.cli import main
from o2c_sim.errors import UserError
from o2c_sim.data.importer import load_ledger
from o2c_sim.scenario import load_scenario
from o2c_sim.calibration.warmstart import opening_book

USD_RATES = {"2020-01-01": 0.90, "2020-07-01": 0.85, "2021-01-01": 0.80}  # EUR per USD from that date

MAPPING = """\
columns:
  invoice_id: Beleg
  customer_id: Kunde
  invoice_date: Belegdatum
  due_date: Faellig
  amount: Betrag
  paid_date: Ausgleich
  paid_amount: Gezahlt
  corrects_invoice_id: Bezug
date_format: '%d/%m/%Y'
sep: ';'
decimal: ','
currency:
  column: Waehrung
  ledger: EUR
  rates_file: fx.csv
"""


def erp_export(weeks: int = 60, seed: int = 3) -> pd.DataFrame:
    """Invoices for 20 customers over ``weeks`` weeks, 30-day terms, a customer-specific delay; every
    25th row a credit note against an earlier invoice of the same customer, some open; every 40th
    payment booked before the invoice date (prepayment); a third of the customers bill in USD."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2020-01-06")
    n = weeks * 20
    cust = rng.integers(0, 20, n)
    inv = start + pd.to_timedelta(np.sort(rng.integers(0, weeks * 7, n)), unit="D")
    delay = np.clip(15 + cust + rng.normal(0, 4, n), 0, None).round()
    amount = rng.uniform(50, 150, n).round(2)
    paid = inv + pd.to_timedelta(delay + 30, unit="D")
    df = pd.DataFrame({"Beleg": [f"{i:06d}" for i in range(n)], "Kunde": [f"K{c:02d}" for c in cust],
                       "Belegdatum": inv, "Faellig": inv + pd.Timedelta(days=30), "Betrag": amount,
                       "Ausgleich": paid, "Gezahlt": amount, "Bezug": "",
                       "Waehrung": np.where(cust % 3 == 0, "USD", "EUR")})
    for i in range(30, n, 25):  # credit note: 30 % of the customer's latest earlier invoice
        earlier = df.index[(df["Kunde"] == df.at[i, "Kunde"]) & (df.index < i) & (df["Betrag"] > 0)]
        if len(earlier):
            j = earlier[-1]
            df.loc[i, ["Betrag", "Gezahlt", "Bezug", "Faellig"]] = [-round(0.3 * df.at[j, "Betrag"], 2),
                                                                      -round(0.3 * df.at[j, "Betrag"], 2),
                                                                      df.at[j, "Beleg"], df.at[i, "Belegdatum"]]
            df.loc[i, "Waehrung"] = df.at[j, "Waehrung"]
            df.loc[i, "Ausgleich"] = df.at[i, "Belegdatum"] + pd.Timedelta(days=10)
    df.loc[::40, "Ausgleich"] = df.loc[::40, "Belegdatum"] - pd.Timedelta(days=3)  # prepayments
    last = df["Belegdatum"].max()
    df.loc[df["Ausgleich"] > last, ["Ausgleich", "Gezahlt"]] = [pd.NaT, 0.0]  # open at the end of the extract
    return df


def write_export(df: pd.DataFrame, path: Path) -> Path:
    """As an ERP or Excel writes it: a BOM, ';' between fields, decimal comma, DD/MM/YYYY."""
    out = df.copy()
    for col in ("Belegdatum", "Faellig", "Ausgleich"):
        out[col] = out[col].dt.strftime("%d/%m/%Y").fillna("")
    for col in ("Betrag", "Gezahlt"):
        out[col] = out[col].map(lambda v: f"{v:.2f}".replace(".", ","))
    path.write_bytes(b"\xef\xbb\xbf" + out.to_csv(sep=";", index=False).encode("utf-8"))
    return path


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    folder = tmp_path_factory.mktemp("erp")
    df = erp_export()
    (folder / "fx.csv").write_text("date,currency,rate\n" + "".join(f"{d},USD,{r}\n" for d, r in USD_RATES.items()))
    (folder / "mapping.yaml").write_text(MAPPING)
    return df, write_export(df, folder / "export.csv"), folder / "mapping.yaml"


def usd_rate(dates: pd.Series) -> np.ndarray:
    """The FX table applied independently: the latest rate on or before each date."""
    starts = pd.to_datetime(list(USD_RATES))
    return np.array([USD_RATES[str(starts[starts <= d].max().date())] for d in dates])


def test_imports_with_credit_notes_prepayments_and_fx(export):
    df, path, mapping = export
    table = load_ledger(path, mapping)
    assert len(table) == len(df) and table["invoice_id"].tolist() == df["Beleg"].tolist()
    rate = np.where(df["Waehrung"] == "USD", usd_rate(df["Belegdatum"]), 1.0)
    assert table["amount"].to_numpy() == pytest.approx((df["Betrag"] * rate).round(2).to_numpy(), abs=0.005)
    # dates read day-first: the 6th of January 2020 is the first invoice
    assert table["invoice_date"].iloc[0] == pd.Timestamp("2020-01-06")
    credit = df["Betrag"] < 0
    assert table.attrs["credit_notes"] == credit.sum() > 20
    assert table.loc[credit.to_numpy(), "corrects_invoice_id"].ne("").all()
    pre = (df["Ausgleich"] < df["Belegdatum"]).to_numpy()
    assert table.attrs["prepayments"] == pre.sum() > 10
    assert (table.loc[pre, "paid_date"] == table.loc[pre, "invoice_date"]).all()  # counted on the invoice date
    # money conserved per row: amount = paid + open, in the ledger currency, credit notes included
    settled = table["paid_date"].notna()
    assert (table.loc[settled, "paid_amount"] == table.loc[settled, "amount"]).all()


def test_validate_reports_prepayments_and_net_sales(export, capsys):
    _, path, mapping = export
    assert main(["validate", str(path), "--mapping", str(mapping)]) == 0
    out = capsys.readouterr().out
    assert "credit note(s)" in out and "net:" in out and "prepayments" in out


def test_calibrates_and_forecasts_end_to_end(export, tmp_path, capsys):
    _, path, mapping = export
    scenario = tmp_path / "fitted.yaml"
    assert main(["calibrate", str(path), "--mapping", str(mapping), "--out", str(scenario),
                 "--accounts", "40", "--replications", "1"]) == 0
    out = capsys.readouterr().out
    assert "credit note(s) left out of the fit" in out and scenario.exists()
    fc = tmp_path / "fc"
    assert main(["forecast", str(path), "--mapping", str(mapping), "--as-of", "2021-01-31", "--horizon", "4",
                 "--models", "naive,ses,invoice_km", "--out", str(fc)]) == 0
    metrics = json.loads((fc / "metrics.json").read_text())
    forecast = pd.read_parquet(fc / "forecast.parquet")
    assert metrics["selected"] in {"naive", "ses", "invoice_km", "combination"}
    assert np.isfinite(forecast["mean"]).all() and len(forecast) > 0
    # never overwritten: the same --out again is refused before any work
    before = sorted(p.name for p in fc.iterdir())
    assert main(["forecast", str(path), "--mapping", str(mapping), "--as-of", "2021-01-31", "--out", str(fc)]) == 2
    assert "never overwritten" in capsys.readouterr().err and sorted(p.name for p in fc.iterdir()) == before


def test_date_format_inferred_when_unambiguous(export, tmp_path):
    _, path, mapping = export
    loose = tmp_path / "inferred.yaml"
    loose.write_text(MAPPING.replace("date_format: '%d/%m/%Y'\n", "").replace("rates_file: fx.csv",
                                                                             f"rates_file: {mapping.parent / 'fx.csv'}"))
    assert load_ledger(path, loose)["invoice_date"].iloc[0] == pd.Timestamp("2020-01-06")


def test_ambiguous_dates_without_date_format_are_refused(export, tmp_path):
    df, _, mapping = export
    dates = df[["Belegdatum", "Faellig", "Ausgleich"]]
    small = df[dates.apply(lambda s: s.dt.day.fillna(1).le(12)).all(axis=1)]
    path = write_export(small, tmp_path / "export.csv")
    assert len(load_ledger(path, mapping)) == len(small)  # fine with the stated format
    loose = tmp_path / "no_format.yaml"
    loose.write_text(MAPPING.replace("date_format: '%d/%m/%Y'\n", "").replace("rates_file: fx.csv",
                                                                             f"rates_file: {mapping.parent / 'fx.csv'}"))
    with pytest.raises(UserError) as err:
        load_ledger(path, loose)
    text = str(err.value)
    assert text.startswith(str(path)) and "ambiguous" in text and "date_format" in text
    assert main(["validate", str(path), "--mapping", str(loose)]) == 2


def test_stated_format_in_the_wrong_order_is_reported(export, tmp_path):
    _, path, mapping = export
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(MAPPING.replace("%d/%m/%Y", "%m/%d/%Y").replace("rates_file: fx.csv",
                                                                   f"rates_file: {mapping.parent / 'fx.csv'}"))
    with pytest.raises(UserError, match=r"day and month the other way round.*date_format"):
        load_ledger(path, wrong)


def test_several_currencies_without_fx_are_refused(export, tmp_path):
    _, path, mapping = export
    plain = tmp_path / "plain.yaml"
    plain.write_text(MAPPING.split("currency:")[0])
    with pytest.raises(UserError, match=r"column 'Waehrung' holds 2 currencies \(EUR, USD\).*never summed"):
        load_ledger(path, plain)


def test_warm_start_carries_open_credits_and_conserves_money(export):
    _, path, mapping = export
    table = load_ledger(path, mapping)
    as_of = pd.Timestamp("2020-09-30")
    open_now = table[(table["invoice_date"] <= as_of) & (table["paid_date"].isna() | (table["paid_date"] > as_of))]
    credits = open_now[open_now["amount"] < 0]
    assert len(credits) > 0
    book = opening_book(table, as_of, load_scenario("baseline"))
    assert book.credits_applied > 0
    assert book.net_open == pytest.approx(round(open_now["amount"].sum(), 2), abs=0.005)


def test_warm_start_cli_with_quarantine(export, tmp_path, capsys):
    df, _, mapping = export
    broken = df.copy()
    broken.loc[5, "Betrag"] = np.nan  # written as "nan": not a number
    path = write_export(broken, tmp_path / "export.csv")
    (tmp_path / "fx.csv").write_bytes((mapping.parent / "fx.csv").read_bytes())
    (tmp_path / "m.yaml").write_text(MAPPING)
    args = ["run", "baseline", "--ledger", str(path), "--mapping", str(tmp_path / "m.yaml"), "--as-of", "2020-09-30",
            "--set", "horizon_days=30", "-r", "1", "-q", "--out", str(tmp_path / "run")]
    assert main(args) == 2 and "row 7, column 'Betrag'" in capsys.readouterr().err
    assert main([*args, "--quarantine"]) == 0
    captured = capsys.readouterr()
    assert "1 bad row(s) set aside" in captured.err and "open credits:" in captured.out
    assert pd.read_csv(tmp_path / "export.quarantine.csv", encoding="utf-8-sig", dtype=str)["row"].tolist() == ["7"]


@pytest.mark.parametrize("sep, amounts, expected", [
    ("\t", ["1.234,50", "12,5", "7"], [1234.5, 12.5, 7.0]),
    ("|", ["1,234.50", "12.5", "(7.25)"], [1234.5, 12.5, -7.25]),
    (";", ["1.234,50-", "0,99", "1 000,00"], [-1234.5, 0.99, 1000.0]),
])
def test_separator_and_decimal_mark_detected(tmp_path, sep, amounts, expected):
    rows = [sep.join(["invoice_id", "customer_id", "invoice_date", "due_date", "amount"])]
    rows += [sep.join([f"{i}", "C", "2024-01-0{}".format(i + 1), "2024-02-01", a]) for i, a in enumerate(amounts)]
    path = tmp_path / "l.csv"
    path.write_bytes(("\n".join(rows) + "\n").encode("utf-8-sig"))
    assert load_ledger(path)["amount"].tolist() == expected


def test_repeated_overrides_apply_in_order_everywhere():
    from o2c_sim.present.notebook_params import validate

    assert load_scenario("baseline", ["team.collectors=10", "team.collectors=+1"]).team.collectors == 11
    p = validate("run_scenario", {"scenario": "baseline", "overrides": ["team.collectors=10", "team.collectors=+1"]})
    assert p.scenario.team.collectors == 11


def test_an_override_can_set_an_item_of_a_list_that_a_replaced_section_leaves_at_its_default():
    """Replace the segments, then set one value of the new segment's default hazard list: the rest of
    the list keeps its defaults, and the caller's override values are not changed by loading."""
    default = load_scenario("baseline").portfolio.segments[0].behaviour.hazard.daily
    overrides = {"portfolio.segments": [{"name": "only", "share": 1.0}],
                 "portfolio.segments.0.behaviour.hazard.daily.0": 0.01}
    scenario = load_scenario("baseline", overrides)
    assert [s.name for s in scenario.portfolio.segments] == ["only"]
    daily = scenario.portfolio.segments[0].behaviour.hazard.daily
    assert daily[0] == 0.01 and len(daily) == len(default)
    assert overrides["portfolio.segments"] == [{"name": "only", "share": 1.0}]


def test_dso_of_an_imported_ledger_is_on_net_sales():
    """Hand computation: on 31 March, invoice A (1,000, open), B (500, paid 15 March), credit note C
    (−200, open) issued in the 90 days: net AR 800, net sales 1,300 → DSO 800 / 1,300 × 90 = 55.38."""
    from o2c_sim.data.invoice_table import ledger_dso

    t = pd.DataFrame({"invoice_id": ["A", "B", "C"], "customer_id": "X",
                      "invoice_date": pd.to_datetime(["2024-02-01", "2024-03-01", "2024-03-31"]),
                      "due_date": pd.to_datetime(["2024-03-01", "2024-03-31", "2024-03-31"]),
                      "amount": [1000.0, 500.0, -200.0], "paid_date": pd.to_datetime([None, "2024-03-15", None]),
                      "paid_amount": [0.0, 500.0, 0.0]})
    dso, ar, sales = ledger_dso(t)
    assert (ar, sales) == (800.0, 1300.0) and dso == pytest.approx(800 / 1300 * 90)
    assert ledger_dso(t, "2024-03-10")[1] == 1500.0  # B was still open on 10 March

"""Warm start: a simulation begins from exactly the items open in a real ledger on a date."""

import json
import re

import numpy as np
import pandas as pd
import pytest

from o2c_sim.cli import main
from o2c_sim.data.importer import load_ledger
from o2c_sim.sim.model import simulate
from o2c_sim.scenario import load_scenario
from o2c_sim.calibration.warmstart import opening_book

AS_OF = pd.Timestamp("2013-06-30")


@pytest.fixture(scope="module")
def ibm(ibm_csv):
    return load_ledger(ibm_csv, "ibm_ar")


def test_carries_exactly_the_items_open_on_the_date_and_conserves_money(ibm):
    # independent selection: issued by the date and settled after it
    expected = ibm[(ibm["invoice_date"] <= AS_OF) & (ibm["paid_date"] > AS_OF)]
    book = opening_book(ibm, AS_OF, load_scenario("baseline"))
    result = simulate(load_scenario("baseline", {"horizon_days": 90}), opening=book, check_every_day=True)
    events = result.events
    carried = events[events["kind"] == "opening_balance"]
    assert len(carried) == len(expected) > 50
    assert set(carried["invoice_id"]) == set(expected["invoice_id"])
    assert carried["amount"].sum() == pytest.approx(expected["amount"].sum(), abs=0.005)
    # the carried items keep their ages and customers
    inv = result.invoices.set_index("invoice_id").loc[expected["invoice_id"]]
    assert (inv["due_date"].to_numpy() == expected["due_date"].to_numpy()).all()
    assert (inv["customer_id"].to_numpy() == expected["customer_id"].to_numpy()).all()
    assert result.scenario.start_date == (AS_OF + pd.Timedelta(days=1)).date()
    assert result.scenario.portfolio.accounts == ibm["customer_id"].nunique()
    # money: every carried cent is paid, credited, written off or still open
    moved = inv[["paid_amount", "credited_amount", "written_off_amount"]].sum(axis=1)
    assert (moved <= inv["amount"] + 1e-9).all()
    assert np.isclose(result.daily["ar_total"].iloc[0] + result.daily["cash"].iloc[0]
                      + result.daily["credits"].iloc[0] + result.daily["write_offs"].iloc[0]
                      - result.daily["sales"].iloc[0], expected["amount"].sum(), atol=0.01)


def test_open_disputes_and_partial_balances_are_carried():
    table = pd.DataFrame({
        "invoice_id": ["A", "B", "C"], "customer_id": ["x", "x", "y"],
        "invoice_date": pd.to_datetime(["2026-01-01", "2026-01-10", "2026-01-05"]),
        "due_date": pd.to_datetime(["2026-01-31", "2026-02-09", "2026-02-04"]),
        "amount": [100.0, 50.0, 80.0],
        "paid_date": pd.to_datetime([None, "2026-03-01", "2026-01-20"]),
        "paid_amount": [30.0, 50.0, 80.0],
        "disputed": [True, False, False],
    })
    book = opening_book(table, "2026-02-15", load_scenario("baseline"))
    items = book.items.set_index("invoice_id")
    assert list(items.index) == ["A", "B"]  # C was paid before the date
    assert items.loc["A", "open"] == 70.0 and items.loc["B", "open"] == 50.0  # B was settled later: fully open
    assert bool(items.loc["A", "disputed_open"]) and not bool(items.loc["B", "disputed_open"])
    result = simulate(load_scenario("baseline", {"horizon_days": 60}), opening=book, check_every_day=True)
    ev = result.events
    assert "A" in set(ev.loc[ev["kind"] == "dispute_open", "invoice_id"])


def test_cli_warm_start(ibm_csv, tmp_path, capsys):
    out = tmp_path / "warm"
    code = main(["run", "baseline", "--ledger", str(ibm_csv), "--mapping", "ibm_ar", "--as-of", "2013-06-30",
                 "--set", "horizon_days=60", "-r", "1", "-q", "--out", str(out)])
    assert code == 0
    assert "items open on 2013-06-30" in capsys.readouterr().out
    assert json.loads((out / "kpis.json").read_text())["mean"]["invoices"] > 0


@pytest.mark.parametrize("args, message", [
    (["--as-of", "2013-06-30"], "needs both"),
    (["--ledger", "LEDGER", "--as-of", "not-a-date"], "not a date"),
    (["--ledger", "LEDGER", "--as-of", "2001-01-01"], "before the ledger's first invoice"),
])
def test_bad_warm_start_flags(args, message, ibm_csv, tmp_path, capsys):
    args = [str(ibm_csv) if a == "LEDGER" else a for a in args]
    code = main(["run", "baseline", *args, "--mapping", "ibm_ar", "-q", "--out", str(tmp_path / "x")])
    assert code == 2
    assert message in capsys.readouterr().err


# ------------------------------------------------------------------ frailty given the payment record

SEGMENTS = ("key_accounts", "mid_market", "small_business")
HISTORY = {"portfolio.accounts": 150, "horizon_days": 300, "warmup_days": 60, "team.hours_per_day": 0.5,
           "team.collectors": 2, **{f"portfolio.segments.{s}.behaviour.silent_share": 0.0 for s in SEGMENTS}}


@pytest.fixture(scope="module")
def simulated_history():
    """A history simulated from a known scenario, its accounts' true frailties (by customer id) and the
    opening book 240 days in (ids prefixed as an ERP's would be)."""
    from o2c_sim.sim.model import Simulation

    truth = load_scenario("baseline", HISTORY)
    sim = Simulation(truth, 0, seed=11)
    z = pd.Series(sim.payers.frailty.copy(), index=[str(c) for c in sim.customer_ids().to_pylist()])
    res = sim.run()
    ledger = res.invoices.assign(invoice_id="H-" + res.invoices["invoice_id"].astype(str))
    as_of = pd.Timestamp(res.activities["date"].min()).floor("D") + pd.Timedelta(days=240)
    return truth, z, opening_book(ledger, as_of, truth)


def test_frailty_posterior_finds_the_slow_payers_the_open_book_holds(simulated_history):
    """Against the simulator's own frailties (independent of the fit): the posterior ranks the accounts
    as their true frailties do, and the accounts with items open on the date — slower than their segment,
    as an open book is — get a lower frailty, near their true one, instead of the prior's 1."""
    from scipy import stats

    from o2c_sim.calibration.warmstart import frailty_posterior

    truth, z, book = simulated_history
    post = frailty_posterior(book.history, book.as_of, truth, book.customers, book.segment)
    mean, true = post.mean(), z[book.customers[post.rows]].to_numpy()
    assert stats.spearmanr(mean, true)[0] > 0.7
    late = np.isin(post.rows, book.items.loc[book.items["due_day"] < 0, "account"].unique())  # past due on the date
    assert late.sum() > 20 and true[late].mean() < 0.85  # the open book's late accounts are slow payers
    # their posterior mean frailty: nearer their true mean than the prior's mean 1 (by more than half)
    assert abs(mean[late].mean() - true[late].mean()) < abs(1 - true[late].mean()) / 2


def test_warm_start_draws_each_frailty_from_its_posterior_the_same_under_a_what_if(simulated_history):
    from o2c_sim.sim.model import Simulation
    from o2c_sim.calibration.warmstart import frailty_posterior

    truth, _, book = simulated_history
    base = Simulation(truth.with_overrides({"horizon_days": 30}), 0, seed=5, opening=book)
    more = Simulation(truth.with_overrides({"horizon_days": 30, "team.collectors": 4}), 0, seed=5, opening=book)
    assert np.array_equal(base.payers.frailty, more.payers.frailty)  # common random numbers: the same payers in both
    post = frailty_posterior(book.history, book.as_of, truth, book.customers, book.segment)
    u = base.keyed.uniform("frailty", np.arange(len(book.customers)))
    assert np.allclose(base.payers.frailty[post.rows], post.draw(u[post.rows]))
    # over the accounts, the draws follow the posteriors: each account's draw at its own quantile
    q = np.array([np.interp(np.log(z), post.log_w, c) for z, c in zip(base.payers.frailty[post.rows], post.cdf)])
    assert np.allclose(q, u[post.rows], atol=0.02)


def currency_ledger() -> pd.DataFrame:
    """Three customers billing in euros (the reporting currency, once left empty), dollars and dirhams."""
    return pd.DataFrame({
        "invoice_id": ["E1", "E2", "U1", "U2", "M1"], "customer_id": ["eu", "eu", "us", "us", "ma"],
        "invoice_date": pd.to_datetime(["2026-01-05", "2026-01-20", "2026-01-10", "2026-02-01", "2026-01-15"]),
        "due_date": pd.to_datetime(["2026-02-04", "2026-02-19", "2026-02-09", "2026-03-03", "2026-02-14"]),
        "amount": [1000.0, 250.0, 2000.0, 300.0, 9000.0],
        "paid_date": pd.to_datetime([None, None, None, "2026-02-10", None]),
        "paid_amount": [0.0, 0.0, 500.0, 300.0, 0.0],
        "currency": ["EUR", "", "USD", "USD", "MAD"],
    })


RATES = {"currencies.rates": {"USD": {"2026-01-01": 0.92}, "MAD": {"2026-01-01": 0.092}}}


def test_a_ledger_in_several_currencies_starts_a_run_with_currencies_on(tmp_path):
    """Each customer keeps its ledger currency: its open items are carried in in that currency (to the
    cent, per currency) and the first evening's AR is their value at the day's rates."""
    sc = load_scenario("baseline", {"horizon_days": 30, **RATES})
    book = opening_book(currency_ledger(), "2026-02-15", sc)
    assert dict(zip(book.customers, book.currency)) == {"eu": "EUR", "ma": "MAD", "us": "USD"}
    result = simulate(sc, opening=book, check_every_day=True)
    assert result.scenario.currencies.enabled
    carried = result.events[result.events["kind"] == "opening_balance"].set_index("invoice_id")
    assert carried["currency"].astype(str).to_dict() == {"E1": "EUR", "E2": "EUR", "U1": "USD", "M1": "MAD"}
    assert carried["amount"].to_dict() == {"E1": 1000.0, "E2": 250.0, "U1": 1500.0, "M1": 9000.0}
    assert carried["reporting_amount"].sum() == pytest.approx(1250.0 + 1500 * 0.92 + 9000 * 0.092)
    # every new invoice of a customer is in its currency
    inv = result.invoices
    assert (inv.groupby("customer_id")["currency"].nunique() == 1).all()
    # the CLI does the same from a CSV
    path = tmp_path / "ledger.csv"
    currency_ledger().to_csv(path, index=False)
    assert main(["run", "baseline", "--ledger", str(path), "--as-of", "2026-02-15", "--set", "horizon_days=30",
                 "--set", "currencies.rates.USD={2026-01-01: 0.92}", "--set", "currencies.rates.MAD={2026-01-01: 0.092}",
                 "-r", "1", "-q", "--out", str(tmp_path / "run")]) == 0
    assert set(pd.read_parquet(tmp_path / "run" / "invoices.parquet")["currency"]) == {"EUR", "USD", "MAD"}


@pytest.mark.parametrize("ledger, overrides, says", [
    (currency_ledger(), ["--set", "currencies.rates.USD={2026-01-01: 0.92}"], "currencies.rates.MAD.*no rates for MAD"),
    (currency_ledger(), ["--set", "currencies.rates.USD={2026-03-01: 0.92}", "--set", "currencies.rates.MAD={2026-01-01: 0.1}"],
     "no USD rate on or before 2026-02-16"),
    (currency_ledger().assign(currency=["EUR", "EUR", "USD", "GBP", "MAD"]), [], "customer 'us' has invoices in 2 currencies"),
    (currency_ledger().assign(currency=["EUR", "EUR", "US$", "USD", "MAD"]), [], "three-letter ISO 4217"),
])
def test_a_currency_the_fx_table_cannot_convert_is_refused(tmp_path, capsys, ledger, overrides, says):
    path = tmp_path / "ledger.csv"
    ledger.to_csv(path, index=False)
    assert main(["run", "baseline", "--ledger", str(path), "--as-of", "2026-02-15", *overrides, "-q",
                 "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert re.search(says, err), err
    assert "Traceback" not in err and not (tmp_path / "run").exists()

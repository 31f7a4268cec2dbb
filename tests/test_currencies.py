"""Accounts billing in several currencies (docs/model.md §2.24): the currency layer is neutral at a rate of
one, the reporting-currency book rolls forward with the revaluation of IAS 21, each currency's money is
conserved to the cent, and an FX table missing a currency or a date is refused with exit code 2."""

import numpy as np
import pytest

from o2c_sim.cli import main
from o2c_sim.errors import UserError
from o2c_sim.sim.model import simulate
from o2c_sim.scenario import load_scenario

NO_SUSPENSE = {f"portfolio.segments.{s}.behaviour.unapplied_rate": 0.0 for s in ("key_accounts", "mid_market", "small_business")}
SMALL = {"portfolio.accounts": 250, "horizon_days": 120, "warmup_days": 40, "seed": 3}
ACCOUNTS = {"currencies.enabled": True,
            "currencies.accounts": {"mid_market": {"EUR": 0.5, "USD": 0.5}, "key_accounts": {"GBP": 1.0}}}


def run(rates: dict, **overrides):
    return simulate(load_scenario("baseline", {**SMALL, **ACCOUNTS, "currencies.rates": rates, **overrides}),
                    check_every_day=True)


def test_rates_of_one_reproduce_the_single_currency_run_exactly():
    single = simulate(load_scenario("baseline", SMALL))
    par = run({"USD": {"2000-01-01": 1.0}, "GBP": {"2000-01-01": 1.0}})
    assert set(par.invoices["currency"]) == {"EUR", "USD", "GBP"}
    assert par.invoices.drop(columns="currency").equals(single.invoices)
    fx = ("fx_revaluation", "fx_realised")
    assert {k: v for k, v in par.kpis.items() if k not in fx} == pytest.approx(single.kpis, nan_ok=True)
    assert par.kpis["fx_revaluation"] == par.kpis["fx_realised"] == 0


def test_invoices_are_issued_in_the_account_currency_at_the_issue_day_rate():
    """At a constant 2.0 a USD invoice carries half the value in dollars (rounded to the cent), so the
    reporting-currency sales equal the single-currency run's within a cent per invoice."""
    single = simulate(load_scenario("baseline", SMALL))
    doubled = run({"USD": {"2000-01-01": 2.0}, "GBP": {"2000-01-01": 1.0}})
    usd = doubled.invoices["currency"] == "USD"
    original = single.invoices["amount"][usd & ~doubled.invoices["invoice_id"].str.contains("-R")]
    assert np.allclose(doubled.invoices["amount"][original.index] * 2.0, original, atol=0.011)
    assert doubled.kpis["sales"] == pytest.approx(single.kpis["sales"], abs=0.01 * single.kpis["invoices"])


FALLING = {"USD": {"2000-01-01": 1.0, "2026-02-01": 0.9, "2026-03-02": 0.8}, "GBP": {"2000-01-01": 1.0}}


def test_the_book_rolls_forward_with_realised_and_unrealised_fx_and_a_falling_currency_loses():
    """AR(d) = AR(d−1) + sales − cash − credits − write-offs + realised + revaluation, each day, to
    rounding; a dollar that only falls loses on the items paid after the fall (realised) and on those
    still open; the whole exchange difference moves only on the days the table changes."""
    falling = run(FALLING, **NO_SUSPENSE)
    d = falling.daily
    fx = d["fx_revaluation"] + d["fx_realised"]
    roll = d["ar_total"].shift(1) + d["sales"] - d["cash"] - d["credits"] - d["write_offs"] + fx - d["ar_total"]
    assert roll.iloc[1:].abs().max() < 0.05  # a cent of rounding per aging bucket
    assert falling.kpis["fx_revaluation"] < 0 and falling.kpis["fx_realised"] < 0
    assert d.loc[fx.abs() > 1e-6, "date"].dt.strftime("%Y-%m-%d").tolist() == ["2026-02-01", "2026-03-02"]
    assert (d["fx_realised"] <= 1e-9).all()  # a falling dollar never gains


def test_realised_fx_is_each_settlement_at_its_day_rate_less_its_issue_day_rate():
    """Independent of the simulator's evening arithmetic: from the event log, every reduction of a
    dollar item (payment, credit, write-off) × (rate on its day − rate on the item's issue day); and the
    revaluation summed over the run is the unrealised difference of the items open at the end."""
    r = run(FALLING, **NO_SUSPENSE)
    ev, inv = r.events, r.invoices.set_index("invoice_id")
    rate = lambda dates: np.select([dates >= np.datetime64("2026-03-02"), dates >= np.datetime64("2026-02-01")], [0.8, 0.9], 1.0)  # noqa: E731
    usd = ev[(ev["currency"] == "USD") & ev["kind"].isin(["payment", "partial_payment", "cash_applied", "plan_instalment",
                                                          "legal_recovery", "credit_applied", "credit_note", "write_off"])]
    issued = inv.loc[usd["invoice_id"], "invoice_date"].to_numpy()
    realised = float((usd["amount"].to_numpy() * (rate(usd["date"].to_numpy()) - rate(issued))).sum())
    assert realised < 0
    assert r.daily["fx_realised"].sum() == pytest.approx(realised, abs=0.01)
    open_usd = inv[inv["currency"] == "USD"]
    left = open_usd["amount"] - open_usd["paid_amount"] - open_usd["credited_amount"] - open_usd["written_off_amount"]
    unrealised = float((left * (rate(np.datetime64(r.daily["date"].iloc[-1])) - rate(open_usd["invoice_date"].to_numpy()))).sum())
    assert r.daily["fx_revaluation"].sum() == pytest.approx(unrealised, abs=0.01)


def test_money_is_conserved_per_currency():
    r = run({"USD": {"2000-01-01": 1.1, "2026-02-01": 1.05}, "GBP": {"2000-01-01": 1.17}},
            **{"refunds.enabled": True, "refunds.duplicate_payment_rate": 0.05, "fees.enabled": True})
    inv = r.invoices
    cents = lambda col: np.round(inv[col].to_numpy() * 100).astype(np.int64)  # noqa: E731
    open_cents = cents("amount") - cents("paid_amount") - cents("credited_amount") - cents("written_off_amount")
    ev = r.events
    for code in ("EUR", "USD", "GBP"):
        mine = ev[ev["currency"] == code].groupby("kind", observed=True)["amount"].sum()
        issued = round(mine.get("issue", 0.0) * 100)
        applied = sum(round(mine.get(k, 0.0) * 100) for k in ("payment", "partial_payment", "cash_applied", "plan_instalment",
                                                                "legal_recovery", "credit_applied")) - round(mine.get("payment_reversed", 0.0) * 100)
        moved = applied + round(mine.get("credit_note", 0.0) * 100) + round(mine.get("write_off", 0.0) * 100)
        assert issued - moved == open_cents[(inv["currency"] == code).to_numpy()].sum()


@pytest.mark.parametrize("rates, field, says", [
    ({"USD": {"2000-01-01": 1.1}}, "currencies.rates.GBP", "no rates for GBP"),
    ({"USD": {"2026-01-01": 1.1}, "GBP": {"2000-01-01": 1.2}}, "currencies.rates.USD", "on or before 2025-11-26"),
])
def test_an_fx_table_missing_a_currency_or_a_date_is_refused(rates, field, says):
    with pytest.raises(UserError, match=field.replace(".", r"\.") + ".*" + says):
        load_scenario("baseline", {**SMALL, **ACCOUNTS, "currencies.rates": rates})


def test_cli_exit_code_2(capsys, tmp_path):
    code = main(["run", "baseline", "--set", "currencies.enabled=true", "--set", "currencies.accounts={mid_market: {USD: 1.0}}",
                 "--out", str(tmp_path / "r")])
    assert code == 2
    err = capsys.readouterr().err
    assert "currencies.rates.USD" in err and "Traceback" not in err and not (tmp_path / "r").exists()


def test_limits_minimums_and_ranking_compare_amounts_in_the_reporting_currency():
    """Every account of every segment bills in dollars worth 3 euros each (a constant rate): in dollars
    each balance is a third of its euro value, so comparing dollars with the euro thresholds would dun,
    call, hold and charge fewer accounts. Translated at the day's rate the decisions are those of the
    single-currency run: the same notices, calls, holds and fee-bearing items, on the same days."""
    levers = {"dunning.min_amount": 400.0, "strategy.min_past_due_amount": 1500.0, "strategy.prioritisation": "largest_balance",
              "team.collectors": 2, "credit_holds.enabled": True, "credit_holds.max_days_past_due": None,
              "fees.enabled": True, "fees.levels": [{"level": 2, "fixed": 40.0, "min_amount": 2000.0}]}
    single = simulate(load_scenario("baseline", {**SMALL, **levers}))
    dollars = {s: {"USD": 1.0} for s in ("key_accounts", "mid_market", "small_business")}
    usd = simulate(load_scenario("baseline", {**SMALL, **levers, "currencies.enabled": True, "currencies.accounts": dollars,
                                              "currencies.rates": {"USD": {"2000-01-01": 3.0}}}), check_every_day=True)
    for kind in ("dunning", "call_attempt", "credit_hold", "fee_added"):
        mine = lambda r: r.events.loc[r.events["kind"] == kind, ["date", "invoice_id", "customer_id"]].reset_index(drop=True)  # noqa: E731
        assert len(mine(single)) > 0, kind
        assert mine(usd).equals(mine(single)), kind
    # the fixed 40 of the Directive is 40 euros, charged as 13.33 dollars
    fixed = usd.events.loc[usd.events["kind"] == "fee_added", "amount"]
    assert (fixed.round(2) == 13.33).mean() > 0.5


def test_calibration_refuses_an_invoice_table_in_several_currencies():
    import pandas as pd

    from o2c_sim.calibration.scenario_fit import calibrate

    table = pd.DataFrame({"invoice_id": ["A", "B"], "customer_id": ["x", "y"], "amount": [100.0, 200.0],
                          "invoice_date": pd.to_datetime(["2026-01-01"] * 2), "due_date": pd.to_datetime(["2026-01-31"] * 2),
                          "paid_date": pd.to_datetime(["2026-02-03"] * 2), "currency": ["EUR", "USD"]})
    with pytest.raises(UserError, match=r"2 currencies \(EUR, USD\) and calibration would add them up"):
        calibrate(table)


def test_a_run_in_several_currencies_writes_them_into_its_activity_log_and_calibration_refuses_to_mix_them(tmp_path):
    """The activity log keeps each amount's currency through a file round trip and into the invoices it
    derives; calibrating from it names the currencies instead of fitting one amount distribution to all."""
    from o2c_sim.calibration.scenario_fit import calibrate_activities
    from o2c_sim.data.activities import invoices_from_activities, load_activities

    result = run({"USD": {"2000-01-01": 1.1}, "GBP": {"2000-01-01": 0.85}})
    log = result.activities
    issued = log[log["kind"] == "issued"].set_index("item_id")["currency"]
    assert issued.to_dict() == result.invoices.set_index("invoice_id")["currency"].to_dict()
    log.to_parquet(tmp_path / "activities.parquet")
    again = load_activities(tmp_path / "activities.parquet")
    assert again["currency"].tolist() == log["currency"].tolist()
    derived = invoices_from_activities(again).set_index("invoice_id")
    assert derived["currency"].to_dict() == issued.to_dict()
    with pytest.raises(UserError, match=r"3 currencies \(EUR, GBP, USD\) and calibration would add them up"):
        calibrate_activities(again, base=load_scenario("baseline"))
    one = again[again["currency"] == "EUR"]  # one currency at a time is fine
    assert len(one) and calibrate_activities(one.drop(columns="currency"), base=load_scenario("baseline")).scenario

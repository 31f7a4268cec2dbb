"""Accounts billing in several currencies (docs/model.md §2.24): the currency layer is neutral at a rate of
one, the reporting-currency book rolls forward with the revaluation of IAS 21, each currency's money is
conserved to the cent, and an FX table missing a currency or a date is refused with exit code 2."""

import numpy as np
import pytest

from o2c_sim.cli import main
from o2c_sim.errors import UserError
from o2c_sim.model import simulate
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
    assert {k: v for k, v in par.kpis.items() if k != "fx_revaluation"} == pytest.approx(single.kpis, nan_ok=True)
    assert par.kpis["fx_revaluation"] == 0


def test_invoices_are_issued_in_the_account_currency_at_the_issue_day_rate():
    """At a constant 2.0 a USD invoice carries half the value in dollars (rounded to the cent), so the
    reporting-currency sales equal the single-currency run's within a cent per invoice."""
    single = simulate(load_scenario("baseline", SMALL))
    doubled = run({"USD": {"2000-01-01": 2.0}, "GBP": {"2000-01-01": 1.0}})
    usd = doubled.invoices["currency"] == "USD"
    original = single.invoices["amount"][usd & ~doubled.invoices["invoice_id"].str.contains("-R")]
    assert np.allclose(doubled.invoices["amount"][original.index] * 2.0, original, atol=0.011)
    assert doubled.kpis["sales"] == pytest.approx(single.kpis["sales"], abs=0.01 * single.kpis["invoices"])


def test_the_book_rolls_forward_with_the_revaluation_and_a_falling_currency_loses():
    """AR(d) = AR(d−1) + sales − cash − credits − write-offs + revaluation, each day, to rounding; a
    dollar that only falls gives a revaluation loss on the open dollar items."""
    falling = run({"USD": {"2000-01-01": 1.0, "2026-02-01": 0.9, "2026-03-02": 0.8}, "GBP": {"2000-01-01": 1.0}},
                  **NO_SUSPENSE)
    d = falling.daily
    roll = d["ar_total"].shift(1) + d["sales"] - d["cash"] - d["credits"] - d["write_offs"] + d["fx_revaluation"] - d["ar_total"]
    assert roll.iloc[1:].abs().max() < 0.05  # a cent of rounding per aging bucket
    assert falling.kpis["fx_revaluation"] < 0
    moves = d.loc[d["fx_revaluation"] != 0, "date"].dt.strftime("%Y-%m-%d").tolist()
    assert moves == ["2026-02-01", "2026-03-02"]


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

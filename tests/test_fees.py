"""Dunning fees and late-payment interest: the charge formula, fees as receivables of their own, and
that fees raise collections only when payers respond to them (paired, common random numbers)."""

import numpy as np
import pytest

from o2c_sim.cli import main
from o2c_sim.errors import UserError
from o2c_sim.sim.fees import late_payment_interest
from o2c_sim.sim.model import simulate
from o2c_sim.scenario import load_scenario

SMALL = {"portfolio.accounts": 250, "horizon_days": 120, "warmup_days": 60, "seed": 11}
SEGMENTS = ("key_accounts", "mid_market", "small_business")


def fee_multiplier(m: float) -> dict:
    return {f"portfolio.segments.{s}.behaviour.hazard.effects.fee.multiplier": m for s in SEGMENTS}


def run(**overrides):
    return simulate(load_scenario("baseline", {**SMALL, **overrides}), check_every_day=True)


@pytest.mark.parametrize("overdue, rate, days, published", [
    (1000.0, 0.04 + 0.08, 30, 9.86),  # Daniels Silverman, statutory-interest guide: £1,000, 4 % + 8 %, 30 days
    (1000.0, 0.005 + 0.08, 365, 85.00),  # statutory-interest.pages.dev: £1,000 at 8.5 % = £85 a year
])
def test_interest_matches_published_worked_examples(overdue, rate, days, published):
    assert round(float(late_payment_interest(overdue, rate, days)), 2) == published


def test_charges_follow_the_late_payment_directive():
    """Level 2 charges 40 once per invoice plus (reference + 8 points) a year on the open amount since
    the due date; levels 3 and 4 charge the interest accrued since the last charge."""
    r = run(**{"fees.enabled": True, "fees.reference_rate": 0.02})
    ev, inv = r.events, r.invoices.set_index("invoice_id")
    notices = ev[ev["kind"] == "dunning"]
    fees = ev[ev["kind"] == "fee_added"]
    assert len(fees) > 20 and set(fees["detail"]) <= {2, 3, 4}
    checked = 0
    for invoice, group in fees.groupby("invoice_id"):
        sent = notices[notices["invoice_id"] == invoice].set_index("detail")  # detail = level − 1
        since = inv.loc[invoice, "due_date"]
        fixed_due = 40.0
        for _, fee in group.iterrows():
            level = int(fee["detail"])
            notice = sent.loc[level - 1]
            days = (fee["date"] - since).days
            expected = (fixed_due if level == 2 else 0.0) + notice["amount"] * 0.10 * days / 365
            assert fee["amount"] == pytest.approx(round(expected + 1e-9, 2), abs=0.006)
            fixed_due = 0.0 if level == 2 else fixed_due
            since = fee["date"]
            checked += 1
    assert checked == len(fees)
    # every fee's money is somewhere, to the cent
    table = r.extra["fees"]
    cents = lambda c: np.round(table[c].to_numpy() * 100).astype(np.int64)  # noqa: E731
    assert (cents("amount") == cents("paid") + cents("waived") + cents("written_off") + cents("open")).all()
    assert r.activities["kind"].astype(str).eq("fee_added").sum() == len(fees)


def test_minimum_amount_per_level_stops_small_fees():
    r = run(**{"fees.enabled": True, "fees.levels": [{"level": 2, "fixed": 40, "min_amount": 1e9},
                                                      {"level": 3, "fixed": 5, "min_percent": 100.0}]})
    fees = r.events[r.events["kind"] == "fee_added"]
    assert (fees["detail"] == 3).all() and len(fees) > 0  # level 3 only where all the account's open money is dunned


def test_fees_raise_collections_only_when_payers_respond():
    off = run()
    inert = run(**{"fees.enabled": True})  # effects.fee.multiplier = 1 (the default)
    felt = run(**{"fees.enabled": True, **fee_multiplier(3.0)})
    # payers who ignore fees pay every invoice on the same day: fees only add receivables
    assert inert.invoices.equals(off.invoices)
    assert inert.kpis["cash_collected"] == off.kpis["cash_collected"] and inert.kpis["fees_charged"] > 0
    # payers who respond pay sooner: more invoice cash and less over 90 days
    assert felt.kpis["cash_collected"] > off.kpis["cash_collected"]
    assert felt.kpis["dso"] < off.kpis["dso"]


@pytest.mark.parametrize("overrides, field", [
    ({"fees.levels": [{"level": 9, "fixed": 40}]}, "fees.levels.0.level"),
    ({"fees.reference_rate": -0.01}, "fees.reference_rate"),
    ({"fees.levels": [{"level": 2, "fixed": -40}]}, "fees.levels.0.fixed"),
    ({"fees.levels": [{"level": 2}, {"level": 2}]}, "fees.levels"),
])
def test_bad_fee_blocks_are_user_errors(overrides, field):
    with pytest.raises(UserError, match=field.replace(".", r"\.")):
        load_scenario("baseline", overrides)


def test_cli_exit_code_2(capsys, tmp_path):
    assert main(["run", "baseline", "--set", "fees.levels=[{level: 7, fixed: 40}]", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "fees.levels.0.level" in err and "does not exist" in err and "Traceback" not in err

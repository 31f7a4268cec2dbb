"""Payment-run days: run-day calendars, every payment of a run-day payer on a run day, and bad input."""

import datetime as dt

import numpy as np
import pytest

from o2c_sim.sim.business_calendar import BusinessCalendar
from o2c_sim.errors import UserError
from o2c_sim.sim.model import simulate
from o2c_sim.sim.payment_runs import run_days
from o2c_sim.scenario import PaymentRunRule, load_scenario

SMALL = {"portfolio.accounts": 250, "horizon_days": 120, "warmup_days": 60, "seed": 5}
PAYER_KINDS = ("payment", "partial_payment", "unapplied_received")  # the payer's own remittances


def dates(rule, cal, n=6):
    return [str(d) for d in (cal.origin + np.flatnonzero(run_days(rule, cal)))[:n]]


def test_run_day_calendars():
    cal = BusinessCalendar(dt.date(2026, 1, 5), 120, holidays=[dt.date(2026, 2, 16), dt.date(2026, 1, 30)])
    assert dates(PaymentRunRule(weekday="Mon"), cal, 8)[5:] == ["2026-02-09", "2026-02-17", "2026-02-23"]  # holiday → Tuesday
    # the 15th or the next business day; the 31st (month end) or the month's last business day before it
    assert dates(PaymentRunRule(schedule="days_of_month"), cal) == [
        "2026-01-15", "2026-01-29", "2026-02-17", "2026-02-27", "2026-03-16", "2026-03-31"]
    assert dates(PaymentRunRule(schedule="month_end"), cal, 3) == ["2026-01-29", "2026-02-27", "2026-03-31"]


@pytest.mark.parametrize("rule, ok", [
    ({"schedule": "weekday", "weekday": "Wed"}, lambda d: d.dt.day_of_week == 2),
    ({"schedule": "month_end"}, lambda d: d.dt.is_month_end | (d + np.timedelta64(3, "D")).dt.month.ne(d.dt.month) & (d.dt.day_of_week == 4)),
])
def test_every_payment_of_a_run_day_payer_falls_on_a_run_day(rule, ok):
    r = simulate(load_scenario("baseline", {**SMALL, "payment_runs.enabled": True, "payment_runs.rules": [rule]}),
                 check_every_day=True)
    pays = r.events[r.events["kind"].isin(PAYER_KINDS)]
    assert len(pays) > 100
    assert ok(pays["date"]).all()


def test_a_share_of_one_segment_follows_the_rule_and_payments_only_wait():
    off = simulate(load_scenario("baseline", SMALL))
    on = simulate(load_scenario("baseline", {**SMALL, "payment_runs.enabled": True, "payment_runs.rules": [
        {"segments": ["small_business"], "share": 0.5, "weekday": "Fri"}]}))
    pays = on.events[on.events["kind"].isin(PAYER_KINDS)]
    seg = pays["invoice_id"].map(on.invoices.set_index("invoice_id")["segment"])
    friday = pays["date"].dt.day_of_week == 4
    others = pays[seg != "small_business"]
    assert friday[seg != "small_business"].mean() < 0.4  # other segments pay on any weekday
    assert friday[seg == "small_business"].mean() > 0.5  # half of small business waits for Friday
    assert len(others) > 0
    # waiting for the run day can only delay the cash of the same items
    assert on.kpis["dso"] >= off.kpis["dso"]


@pytest.mark.parametrize("overrides, field", [
    ({"payment_runs.rules": [{"weekday": "Friday"}]}, "payment_runs.rules.0.weekday"),
    ({"payment_runs.rules": [{"schedule": "fortnightly"}]}, "payment_runs.rules.0.schedule"),
    ({"payment_runs.rules": [{"schedule": "days_of_month", "days_of_month": [0]}]}, "payment_runs.rules.0.days_of_month.0"),
    ({"payment_runs.rules": [{"segments": ["smb"]}]}, "payment_runs.rules.0.segments"),
    ({"payment_runs.rules": [{"share": 1.5}]}, "payment_runs.rules.0.share"),
])
def test_bad_payment_run_blocks_are_user_errors(overrides, field):
    with pytest.raises(UserError, match=f"field '{field}'"):
        load_scenario("baseline", overrides)


def test_run_day_evidence_finds_a_friday_run_and_none_in_the_ibm_sample(ibm_csv):
    import pandas as pd

    from o2c_sim.sim.payment_runs import run_day_evidence

    fridays = pd.date_range("2026-01-02", periods=60, freq="W-FRI").repeat(5)
    found = run_day_evidence(fridays)
    assert found["weekday"]["p"] < 1e-6 and found["weekday"]["top"] == "Fri"
    ibm = pd.read_csv(ibm_csv, usecols=["SettledDate"])
    seen = run_day_evidence(pd.to_datetime(ibm["SettledDate"], format="%m/%d/%Y"))
    assert seen["weekday"]["df"] == 6  # IBM settlement dates fall on weekends too
    assert seen["weekday"]["p"] > 0.05  # no weekday pattern
    assert seen["day_of_month"]["top_ratio"] < 1.5  # no day carries a run (figures in docs/model.md §2.17)


def test_untouched_items_pay_on_the_next_run_day_after_their_own_day():
    """Common random numbers: with no collection action at all, every item pays on the first run day
    on or after the day it pays without payment runs."""
    quiet = {**SMALL, "team.collectors": 0, "dunning.enabled": False, "disputes.enabled": False,
             **{f"portfolio.segments.{s}.behaviour.{k}": 0.0 for s in ("key_accounts", "mid_market", "small_business")
                for k in ("partial_payment_rate", "unapplied_rate", "insolvency_rate_annual")}}
    off = simulate(load_scenario("baseline", quiet))
    on = simulate(load_scenario("baseline", {**quiet, "payment_runs.enabled": True,
                                             "payment_runs.rules": [{"schedule": "days_of_month", "days_of_month": [10, 25]}]}))
    both = off.invoices.merge(on.invoices, on="invoice_id", suffixes=("_off", "_on")).dropna(subset=["paid_date_off"])
    assert len(both) > 500 and (both["paid_amount_off"] == both["amount_off"]).all()
    rule = PaymentRunRule(schedule="days_of_month", days_of_month=[10, 25])
    sc = load_scenario("baseline", quiet)
    cal = BusinessCalendar(sc.start_date - dt.timedelta(days=sc.warmup_days), sc.warmup_days + sc.horizon_days)
    runs = (cal.origin + np.flatnonzero(run_days(rule, cal))).astype("datetime64[ns]")
    nxt = np.searchsorted(runs, both["paid_date_off"].to_numpy())
    paid_on = both["paid_date_on"].to_numpy()
    due_in_run = nxt < len(runs)
    expected = runs[np.minimum(nxt, len(runs) - 1)]
    late = np.isnat(paid_on)  # still waiting for a run day after the horizon
    assert (~late).sum() > 500
    assert (paid_on[~late] == expected[~late]).all()
    assert (expected[late] > np.datetime64(cal.origin + sc.warmup_days + sc.horizon_days - 1)).all() and due_in_run[~late].all()


def test_customers_on_runs_finds_friday_payers_and_none_in_the_ibm_sample(ibm_csv):
    import pandas as pd

    from o2c_sim.data.importer import load_ledger
    from o2c_sim.sim.payment_runs import customers_on_runs

    rng = np.random.default_rng(0)
    days = pd.bdate_range("2026-01-01", periods=250)
    rows = []
    for c in range(40):
        friday_payer = c < 10
        paid = rng.choice(days[days.day_of_week == 4] if friday_payer else days, 20)
        rows += [{"customer_id": f"C{c}", "paid_date": d} for d in paid]
    found = customers_on_runs(pd.DataFrame(rows))
    assert set(found.loc[found["on_runs"], "customer_id"]) == {f"C{c}" for c in range(10)}
    assert (found.loc[found["on_runs"], "weekday"] == "Fri").all()
    ibm = customers_on_runs(load_ledger(ibm_csv, "ibm_ar"))
    assert len(ibm) > 50 and not ibm["on_runs"].any()

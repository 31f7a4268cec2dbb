"""Money is conserved to the cent, on every invoice and in total, over many random scenarios."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from o2c_sim.sim.model import simulate
from o2c_sim.strategies import BUILT_IN
from conftest import small_scenario

random_overrides = st.fixed_dictionaries({
    "portfolio.accounts": st.integers(20, 150),
    "horizon_days": st.integers(30, 90),
    "warmup_days": st.integers(0, 40),
    "seed": st.integers(0, 2**32 - 1),
    "team.collectors": st.integers(0, 4),
    "team.dispute_analysts": st.integers(0, 2),
    "team.cash_app_clerks": st.integers(0, 2),
    "strategy.prioritisation": st.sampled_from(sorted(BUILT_IN)),
    "portfolio.segments.mid_market.behaviour.dispute_rate": st.floats(0, 0.5),
    "portfolio.segments.mid_market.behaviour.partial_payment_rate": st.floats(0, 0.5),
    "portfolio.segments.mid_market.behaviour.unapplied_rate": st.floats(0, 0.5),
    "portfolio.segments.small_business.behaviour.silent_share": st.floats(0, 0.5),
    "portfolio.segments.small_business.behaviour.insolvency_rate_annual": st.floats(0, 0.9),
    "payment_plans.break_rate": st.floats(0, 1),
    "dunning.write_off_days": st.integers(20, 200),
    "dunning.pre_legal_days": st.one_of(st.none(), st.integers(5, 60)),
    "disputes.outcomes": st.sampled_from([
        {"credit_rebill": 1.0, "partial_credit": 0.0, "rejected": 0.0},
        {"credit_rebill": 0.0, "partial_credit": 1.0, "rejected": 0.0},
        {"credit_rebill": 0.3, "partial_credit": 0.3, "rejected": 0.4},
    ]),
    # fees, payment runs and credit holds (docs/model.md §2.16–2.18)
    "fees.enabled": st.booleans(),
    "fees.levels": st.sampled_from([
        [{"level": 2, "fixed": 40.0, "interest": True}, {"level": 4, "percent": 1.5, "interest": True}],
        [{"level": 1, "fixed": 0.07, "min_amount": 500.0}, {"level": 3, "fixed": 12.34, "min_percent": 50.0}],
    ]),
    "fees.reference_rate": st.floats(0, 0.2),
    "fees.paid_with_invoice": st.floats(0, 1),
    "fees.waive_on_contact": st.floats(0, 1),
    "fees.write_off_days": st.integers(0, 60),
    "portfolio.segments.mid_market.behaviour.hazard.effects.fee.multiplier": st.floats(0.5, 5),
    "payment_runs.enabled": st.booleans(),
    "payment_runs.rules": st.sampled_from([[{"schedule": "weekday", "weekday": "Tue", "share": 0.7}],
                                           [{"schedule": "days_of_month", "days_of_month": [10, 25]}]]),
    "credit_holds.enabled": st.booleans(),
    "credit_holds.max_days_past_due": st.one_of(st.none(), st.integers(0, 90)),
    "seasonality.enabled": st.booleans(),
    "seasonality.growth_annual": st.floats(-0.5, 2),
    "seasonality.month_end_share": st.one_of(st.none(), st.floats(0, 1)),
    # credit balances and refunds (docs/model.md §2.23)
    "refunds.enabled": st.booleans(),
    "refunds.duplicate_payment_rate": st.floats(0, 0.3),
    "refunds.apply_to_open_items": st.booleans(),
    "refunds.clerks": st.integers(0, 2),
    "refunds.approval_days": st.floats(0, 10),
    # query management: credit notes and corrected invoices from queries (docs/model.md §2.22)
    "queries.enabled": st.booleans(),
    "queries.channels": st.just([{"name": "mailbox", "per_1000_accounts_per_day": 150.0, "handling_minutes": 5.0,
                                  "sla_minutes": 600.0}]),
    # accounts billing in several currencies (docs/model.md §2.24); the ledger checks cash per currency every evening
    "currencies.enabled": st.booleans(),
    "currencies.accounts": st.just({"mid_market": {"EUR": 0.4, "USD": 0.6}, "small_business": {"GBP": 0.5, "EUR": 0.5}}),
    "currencies.rates": st.fixed_dictionaries({
        "USD": st.fixed_dictionaries({"2000-01-01": st.floats(0.01, 100)}),
        "GBP": st.fixed_dictionaries({"2000-01-01": st.floats(0.01, 100), "2026-02-15": st.floats(0.01, 100)})}),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_overrides)
def test_money_is_conserved_every_day(overrides):
    result = simulate(small_scenario(overrides=overrides), check_every_day=True)
    inv = result.invoices
    cents = lambda col: np.round(inv[col].to_numpy() * 100).astype(np.int64)  # noqa: E731
    open_cents = cents("amount") - cents("paid_amount") - cents("credited_amount") - cents("written_off_amount")
    assert (open_cents >= 0).all()
    ev = result.events
    several = "currency" in inv  # then every money column is in the row's own currency
    if not several:  # the daily book's closing AR (in the reporting currency) equals the invoices' open amounts
        assert round(result.daily["ar_total"].iloc[-1] * 100) == open_cents.sum()
    # the event log accounts for every cent, per currency: issued = paid + credited + written off + open
    for code in (sorted(set(inv["currency"])) if several else [None]):
        mine = ev if code is None else ev[ev["currency"] == code]
        kind = mine.groupby("kind", observed=True)["amount"].sum().round(2)
        issued = kind.get("issue", 0.0)
        applied = sum(kind.get(k, 0.0) for k in ("payment", "partial_payment", "cash_applied", "plan_instalment", "legal_recovery",
                                                 "credit_applied")) - kind.get("payment_reversed", 0.0)
        own = open_cents if code is None else open_cents[(inv["currency"] == code).to_numpy()]
        assert round((issued - applied - kind.get("credit_note", 0.0) - kind.get("write_off", 0.0)) * 100) == own.sum()
    if several:  # in the reporting currency: closing AR = what was billed − what left the book, each at its
        # day's rate, + the exchange differences (realised on settlement + revaluation of what is open)
        rep = ev.groupby("kind", observed=True)["reporting_amount"].sum()
        left = sum(rep.get(k, 0.0) for k in ("payment", "partial_payment", "cash_applied", "plan_instalment", "legal_recovery",
                                             "credit_applied", "credit_note", "write_off")) - rep.get("payment_reversed", 0.0)
        fx = result.daily["fx_realised"].sum() + result.daily["fx_revaluation"].sum()
        assert abs(rep.get("issue", 0.0) - left + fx - result.daily["ar_total"].iloc[-1]) < 0.03 + 1e-9 * rep.get("issue", 0.0)
    by_kind = ev.groupby("kind", observed=True)["amount"].sum().round(2)
    # every cent received is applied, in suspense, in a credit balance or refunded (per currency: Ledger.check)
    if not several:
        received = sum(by_kind.get(k, 0.0) for k in ("payment", "partial_payment", "unapplied_received", "plan_instalment",
                                                     "legal_recovery", "overpayment", "fee_paid"))
        fees_paid = round(by_kind.get("fee_paid", 0.0) * 100)
        balances = round(result.kpis.get("credit_balances_open", 0.0) * 100)
        assert round(received * 100) == cents("paid_amount").sum() + fees_paid + round(result.daily["unapplied"].iloc[-1] * 100) \
            + balances + round(by_kind.get("refund", 0.0) * 100)
    # closed invoices have a settlement date, open ones do not
    assert (inv["paid_date"].notna() == (open_cents == 0)).all()
    # fees are receivables of their own: charged = collected + waived + written off + open, to the cent
    if "fees" in result.extra:
        fees = result.extra["fees"]
        fee_cents = lambda col: int(np.round(fees[col].to_numpy() * 100).sum())  # noqa: E731
        settled = {k: round(by_kind.get(k, 0.0) * 100) for k in ("fee_added", "fee_paid", "fee_waived", "fee_written_off")}
        assert settled["fee_added"] == fee_cents("amount")
        assert settled["fee_added"] - settled["fee_paid"] - settled["fee_waived"] - settled["fee_written_off"] == fee_cents("open")
        assert settled["fee_paid"] == fee_cents("paid") and (fees["open"] >= 0).all()

"""Honest forecasting on a ledger that behaves like a real one: payment runs, short-pays, credit notes,
giant invoices and dated disputes; selection, intervals and look-ahead checked at every origin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from o2c_sim.forecast.gap import gap_analysis
from o2c_sim.forecast.honest import SELECTED, honest_selection, versus
from o2c_sim.forecast.invoice_level import SurvivalCurves, on_run_days, paid_share, payment_runs, shrinkage
from o2c_sim.forecast.models import SES, MovingAverage, Naive, giant_receipts, run
from o2c_sim.forecast.metrics import summary
from o2c_sim.forecast.pipeline import forecast_with_backtest
from o2c_sim.forecast.series import KNOWN_AT_ISSUE, History, billing_forecast, known_at, receipts


def realistic_ledger(weeks: int = 80, customers: int = 60, seed: int = 3) -> pd.DataFrame:
    """A seeded history with what real ledgers have and the IBM sample lacks.

    Each customer bills a monthly contract on the 1st plus one-off invoices, has its own terms (14–60
    days) and habit (days late), and pays on its weekly payment-run day, the first on or after due date +
    habit + noise. A fifth of the customers pay short (92–97 %); 4 % of invoices get a credit note
    (a negative row ~10 days after the invoice, applied when the invoice is paid, which is paid net of it);
    5 % are disputed (dated), which delays payment by 20–60 days; four giant invoices are 40× the usual size.
    """
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2021-01-04")
    end = start + pd.Timedelta(weeks=weeks)
    cust = pd.DataFrame({"customer_id": [f"C{c:03d}" for c in range(customers)],
                         "terms": rng.choice([14, 30, 30, 45, 60], customers),
                         "habit": rng.normal(4, 7, customers).round(),
                         "run_day": rng.integers(0, 5, customers),
                         "share": np.where(rng.random(customers) < 0.2, rng.uniform(0.92, 0.97, customers), 1.0),
                         "size": rng.lognormal(7, 0.6, customers)})
    rows = []
    months = pd.date_range(start, end, freq="MS")
    for c in cust.itertuples():
        for m in months:
            rows.append((c.customer_id, m, c.size * rng.lognormal(0, 0.1)))
        n_one_off = rng.poisson(weeks * 0.4)
        for d in start + pd.to_timedelta(rng.integers(0, weeks * 7, n_one_off), unit="D"):
            rows.append((c.customer_id, d, c.size * rng.lognormal(-0.7, 0.5)))
    inv = pd.DataFrame(rows, columns=["customer_id", "invoice_date", "amount"])
    inv = inv[inv["invoice_date"] < end].sort_values("invoice_date", ignore_index=True)
    inv["amount"] = inv["amount"].round(2)
    giants = rng.choice(len(inv), 4, replace=False)
    inv.loc[giants, "amount"] = (inv["amount"].median() * 40 * rng.uniform(0.8, 1.2, 4)).round(2)
    inv = inv.merge(cust, on="customer_id")
    n = len(inv)
    inv["invoice_id"] = [f"I{i:06d}" for i in range(n)]
    inv["due_date"] = inv["invoice_date"] + pd.to_timedelta(inv["terms"], unit="D")
    disputed = rng.random(n) < 0.05
    ready = inv["due_date"] + pd.to_timedelta(inv["habit"] + rng.normal(0, 3, n).round() + disputed * rng.integers(20, 60, n), unit="D")
    ready = ready.where(ready > inv["invoice_date"], inv["invoice_date"] + pd.Timedelta(days=1))
    inv["paid_date"] = ready + pd.to_timedelta((inv["run_day"] - ready.dt.day_of_week) % 7, unit="D")
    credit = rng.random(n) < 0.04
    credit_amount = (inv["amount"] * rng.uniform(0.1, 0.3, n)).round(2).where(credit, 0.0)
    inv["paid_amount"] = ((inv["amount"] - credit_amount) * inv["share"]).round(2)
    inv["credited_amount"] = credit_amount
    inv["written_off_amount"] = (inv["amount"] - inv["paid_amount"] - credit_amount).round(2)
    inv["disputed"] = disputed
    inv["dispute_raised_date"] = (inv["invoice_date"] + pd.Timedelta(days=5)).where(disputed)
    inv["dispute_resolved_date"] = (inv["paid_date"] - pd.Timedelta(days=1)).where(disputed)
    notes = inv[credit].assign(
        invoice_id=lambda d: "CN" + d["invoice_id"], invoice_date=lambda d: d["invoice_date"] + pd.Timedelta(days=10),
        amount=-credit_amount[credit], paid_amount=0.0, credited_amount=0.0, written_off_amount=0.0, disputed=False,
        dispute_raised_date=pd.NaT, dispute_resolved_date=pd.NaT)
    notes["due_date"] = notes["invoice_date"]
    notes["paid_date"] = notes["paid_date"].where(notes["paid_date"] > notes["invoice_date"], notes["invoice_date"])
    out = pd.concat([inv, notes], ignore_index=True).drop(columns=["terms", "habit", "run_day", "share", "size"])
    out["segment"], out["channel"] = "", "electronic"
    return out.sort_values("invoice_date", ignore_index=True)


@pytest.fixture(scope="module")
def ledger():
    return realistic_ledger()


@pytest.fixture(scope="module")
def fast_results():
    """The forecasts of the :data:`FAST_SEEDS` histories (the pooled criteria test and the score's CIs)."""
    return forecasts(FAST_SEEDS)


@pytest.fixture(scope="module")
def result(fast_results):
    return fast_results[0]


def honest_row(result, model, band="1-4"):
    s = result.summary
    return s[(s["model"] == model) & (s["band"] == band)].iloc[0]


#: seeds of the robustness check, fixed before any of them was looked at and never changed (the method was
#: developed on seeds 0–7): the criteria hold on the back-tests of all of them pooled, not on a lucky one
FAST_SEEDS = (101, 102, 103)
SLOW_SEEDS = tuple(range(101, 111))
CRITERIA_MODELS = ["naive", "ses", "ets", "invoice_km"]


def forecasts(seeds) -> list:
    """The forecast of each seed's :func:`realistic_ledger` history as of its end (``seed`` attribute set)."""
    out = []
    for seed in seeds:
        led = realistic_ledger(seed=seed)
        r = forecast_with_backtest(led, led["invoice_date"].max() - pd.Timedelta(days=1), 13, "W", CRITERIA_MODELS)
        r.seed = seed
        out.append(r)
    return out


def pooled_backtest(results) -> pd.DataFrame:
    """The back-tests of several histories' forecasts stacked, with a ``seed`` column."""
    return pd.concat([r.backtest.assign(seed=r.seed) for r in results], ignore_index=True)


def assert_beats_smoothing_honestly(bt: pd.DataFrame) -> None:
    """The issue's criteria on a pooled back-test at horizons 1–4: the honest selection's WAPE at least 10 %
    below SES's and ETS's, its 80 % intervals covering 72–88 %, its bias within ±5 %."""
    s = summary(bt.assign(origin=bt["seed"].astype(str) + ":" + bt["origin"].astype(str)))  # origins per history
    s = s[s["band"] == "1-4"].set_index("model")
    sel, ses, ets = s.loc[SELECTED], s.loc["ses"], s.loc["ets"]
    per_seed = {seed: round(summary(g).query("band == '1-4'").set_index("model").loc[SELECTED, "wape"], 3)
                for seed, g in bt.groupby("seed")}
    print(f"pooled honest WAPE 1-4 {sel.wape:.3f} (SES {ses.wape:.3f}, ETS {ets.wape:.3f}), bias {sel.bias:+.3f}, "
          f"cov80 {sel.cov80:.3f}, cov95 {sel.cov95:.3f}, rows {sel.n}; per seed {per_seed}")
    assert sel.wape <= 0.9 * ses.wape and sel.wape <= 0.9 * ets.wape
    assert 0.72 <= sel.cov80 <= 0.88
    assert abs(sel.bias) <= 0.05


def test_chosen_forecast_beats_smoothing_honestly_with_calibrated_intervals(fast_results):
    """Pooled over :data:`FAST_SEEDS` (three histories, about 85 scored origins)."""
    assert_beats_smoothing_honestly(pooled_backtest(fast_results))


@pytest.mark.slow
def test_chosen_forecast_beats_smoothing_honestly_on_ten_histories():
    """Pooled over :data:`SLOW_SEEDS` (ten histories, about 280 scored origins)."""
    assert_beats_smoothing_honestly(pooled_backtest(forecasts(SLOW_SEEDS)))


def test_honest_score_has_a_bootstrap_interval_and_a_difference_to_the_best_simple_baseline(result):
    sel = honest_row(result, SELECTED)
    assert sel.origins >= 20
    assert sel.wape_lo <= sel.wape <= sel.wape_hi
    diff = result.honest["versus_best_simple"]["1-4"]
    assert diff["difference"] < 0 and diff["lo95"] <= diff["difference"] <= diff["hi95"]


def test_giant_items_stay_out_of_the_series_level(ledger):
    giant = ledger.loc[ledger["amount"].idxmax()]
    as_of = giant["paid_date"] + pd.Timedelta(days=13)  # the giant was paid in the last two weeks
    h = History(ledger, as_of)
    assert h.known.loc[h.giant, "amount"].max() > 20 * h.known["amount"].median()  # a planted giant is found
    week = h.receipts.index[h.receipts.index <= giant["paid_date"]][-1]
    assert h.receipts[week] - h.regular_receipts[week] >= giant["paid_amount"] - 0.01
    f_all, _ = run([SES()], h, 4)
    f_plain, _ = run([SES()], History(ledger.drop(index=giant.name), as_of), 4)
    # SES with the giant in its level would move by α × the giant; kept out, the forecast is unchanged
    assert f_all["mean"].iloc[0] == pytest.approx(f_plain["mean"].iloc[0], rel=0.02)
    assert giant["paid_amount"] > 0.5 * f_plain["mean"].iloc[0]


def test_paid_share_is_shrunk_towards_the_pooled_share():
    d = pd.to_datetime
    known = pd.DataFrame({"customer_id": ["a"] * 10 + ["b"], "amount": 100.0,
                          "paid_amount": [90.0] * 10 + [100.0], "paid_date": d(["2021-02-01"] * 11)})
    share = paid_share(known, shrink=3.0)
    pooled = 1000 / 1100
    assert share[0] == pytest.approx((900 + 3 * 100 * pooled) / (1000 + 300))
    assert share[-1] == pytest.approx((100 + 3 * 100 * pooled) / (100 + 300))
    assert share[0] < share[-1] < 1.0


def test_short_payers_are_forecast_short(ledger):
    h = History(ledger, pd.Timestamp("2021-10-31"))
    items = SurvivalCurves().items(h, 13)
    share = pd.Series(paid_share(h.known), index=h.known["customer_id"]).groupby(level=0).first()
    assert share.min() < 0.97 and share.max() == pytest.approx(1.0, abs=0.02)


def test_no_undated_column_can_move_a_forecast(ledger):
    """Perturb every column that is neither fixed at issue nor dated, for the invoices open at t: no
    forecast made at t may move (the ledger's final ``disputed`` flag, paid and credited amounts …)."""
    as_of = pd.Timestamp("2021-11-28")
    open_at_t = (ledger["invoice_date"] <= as_of) & ~(ledger["paid_date"] <= as_of)
    rng = np.random.default_rng(3)
    changed = ledger.assign(broken_promise=False)
    base = ledger.assign(broken_promise=False)
    undated = [c for c in changed.columns if c not in KNOWN_AT_ISSUE and not c.endswith("_date")]
    assert {"disputed", "paid_amount", "credited_amount", "broken_promise"} <= set(undated)
    for col in undated:
        s = changed[col]
        if s.dtype == bool:
            changed.loc[open_at_t, col] = ~s[open_at_t]
        elif pd.api.types.is_numeric_dtype(s):
            changed.loc[open_at_t, col] = s[open_at_t] + rng.uniform(1, 500, open_at_t.sum())
        else:
            changed.loc[open_at_t, col] = "perturbed"
    models = [Naive(), MovingAverage(), SES(), SurvivalCurves()]
    f1, _ = run(models, History(base, as_of), 13)
    f2, _ = run(models, History(changed, as_of), 13)
    pd.testing.assert_frame_equal(f1, f2)
    i1, i2 = SurvivalCurves().items(History(base, as_of), 13), SurvivalCurves().items(History(changed, as_of), 13)
    pd.testing.assert_frame_equal(i1, i2)


def test_disputes_count_only_from_the_date_raised(ledger):
    inv = ledger[ledger["disputed"]].iloc[0]
    before = known_at(ledger, inv["dispute_raised_date"] - pd.Timedelta(days=1))
    after = known_at(ledger, inv["dispute_raised_date"])
    assert not before.loc[before["invoice_id"] == inv["invoice_id"], "disputed"].item()
    assert after.loc[after["invoice_id"] == inv["invoice_id"], "disputed"].item()


def test_selection_at_each_origin_uses_only_errors_known_then():
    """A model that is perfect only on late origins must not be chosen before its record shows it."""
    origins = pd.date_range("2021-01-03", periods=20, freq="7D")
    rows = []
    for k, o in enumerate(origins):
        for h in (1, 2):
            start = o + pd.Timedelta(days=1 + 7 * (h - 1))
            for model, err in (("a", 10.0), ("b", 0.0 if k >= 10 else 12.0)):
                rows.append({"origin": o, "horizon": h, "model": model, "period_start": start, "forecast": 100 + err,
                             "actual": 100.0, "lo80": 0, "hi80": 0, "lo95": 0, "hi95": 0, "scale": 1.0, "level": 100.0})
    bt = pd.DataFrame(rows)
    sel = honest_selection(bt, "W", fallback="a")
    chosen = sel[sel["model"] == SELECTED].drop_duplicates("origin").set_index("origin")["chosen"]
    assert (chosen.iloc[:12] == "a").all()  # b's good record starts at origin 10, known only later
    assert chosen.iloc[-1] == "b"
    d = versus(sel, SELECTED, "a")
    assert d["difference"] < 0


def test_open_credit_notes_reduce_the_customers_expected_receipts(ledger):
    as_of = pd.Timestamp("2021-11-28")
    h = History(ledger, as_of)
    base = SurvivalCurves().items(h, 13)
    cust = base.loc[base["customer_id"] != "(new billing)", "customer_id"].iloc[0]
    note = pd.DataFrame({"invoice_id": ["CN-test"], "customer_id": [cust], "invoice_date": [as_of], "due_date": [as_of],
                         "amount": [-100.0], "paid_date": [pd.NaT], "paid_amount": [0.0]})
    with_note = SurvivalCurves().items(History(pd.concat([ledger, note], ignore_index=True), as_of), 13)
    total = lambda items: items.loc[items["customer_id"] == cust, "expected"].sum()
    open_total = h.known.loc[(h.known["customer_id"] == cust) & h.known["paid_date"].isna() & (h.known["amount"] > 0), "amount"].sum()
    assert total(with_note) < total(base)
    # the credit is taken against the customer's open invoices: its share of them leaves the horizon's receipts
    assert total(base) - total(with_note) == pytest.approx(100.0 * total(base) / (open_total * 1.0), rel=0.1)


def test_billing_forecast_follows_a_constant_weekly_billing_and_its_billing_days():
    days = pd.date_range("2022-01-03", "2022-12-25")
    known = pd.DataFrame({"invoice_date": days[days.day == 1].repeat(1), "amount": 700.0})
    known = pd.concat([known, pd.DataFrame({"invoice_date": days[days.day == 15], "amount": 700.0})])
    daily, sd = billing_forecast(known, pd.Timestamp("2022-12-25"), 60)
    future = pd.date_range("2022-12-26", periods=60)
    weekly_level = 1400 * 12 / 52  # two 700 bills a month
    assert daily.sum() / 60 * 7 == pytest.approx(weekly_level, rel=0.25)
    on_days = daily[(future.day == 1) | (future.day == 15)].mean()
    assert on_days > 5 * daily[(future.day != 1) & (future.day != 15)].mean()


def test_a_customer_that_paid_late_last_month_is_expected_later():
    """The same history except that one customer paid last month's invoices 25 days late: its open
    invoices are expected later, and more so with recency weighting than without."""
    rng = np.random.default_rng(5)
    rows = []
    for c in range(12):
        for k in range(40):
            inv = pd.Timestamp("2022-01-03") + pd.Timedelta(days=7 * k + int(rng.integers(0, 5)))
            rows.append((f"C{c}", inv, inv + pd.Timedelta(days=30 + int(rng.integers(-2, 3)))))
    led = pd.DataFrame(rows, columns=["customer_id", "invoice_date", "paid_date"])
    led["invoice_id"] = [f"I{i}" for i in range(len(led))]
    led["due_date"], led["amount"] = led["invoice_date"] + pd.Timedelta(days=30), 100.0
    as_of = led["invoice_date"].max()
    late = led.copy()
    last_month = (late["customer_id"] == "C0") & late["due_date"].between(as_of - pd.Timedelta(days=60), as_of - pd.Timedelta(days=30))
    late.loc[last_month, "paid_date"] = late.loc[last_month, "due_date"] + pd.Timedelta(days=25)

    def mean_day(ledger, model):
        items = model.items(History(ledger, as_of), 13)
        c0 = items[items["customer_id"] == "C0"]
        return np.average((c0["period_start"] - as_of).dt.days, weights=c0["expected"])

    # a fixed shrinkage isolates the recency weighting: the estimated one is tested on its own below
    moved = mean_day(late, SurvivalCurves(shrink=3.0)) - mean_day(led, SurvivalCurves(shrink=3.0))
    unweighted = (mean_day(late, SurvivalCurves(shrink=3.0, half_life=1e9))
                  - mean_day(led, SurvivalCurves(shrink=3.0, half_life=1e9)))
    assert moved > 2 and moved > unweighted


def test_an_open_giant_item_is_forecast_on_its_own(ledger):
    giant = ledger.loc[ledger["amount"].idxmax()]
    h = History(ledger, giant["due_date"] - pd.Timedelta(days=7))  # open, due next week
    open_giants = h.known.loc[h.giant & h.known["paid_date"].isna(), "amount"]
    assert giant["amount"] in open_giants.to_numpy()
    mean, var = giant_receipts(h, 13)
    assert 0.5 * open_giants.sum() <= mean.sum() <= open_giants.sum() + 0.01
    f, _ = run([SES()], h, 13)
    level = SES().predict(h.regular_receipts.to_numpy(), 13, h)
    np.testing.assert_allclose(f["mean"], level["mean"] + mean)
    assert ((f["hi80"] - f["mean"]) >= (level["hi80"] - level["mean"]) - 1e-6).all()  # its uncertainty adds


def test_daily_forecast_with_origins_where_no_model_fits_yet():
    """Daily periods: the first warm-up origins have too little history for any model; they are skipped."""
    led = realistic_ledger(weeks=14, customers=15, seed=2)
    r = forecast_with_backtest(led, led["invoice_date"].max() - pd.Timedelta(days=1), 7, "D", ["naive", "invoice_km"])
    sel = honest_row(r, SELECTED)
    assert sel.origins >= 20 and np.isfinite(sel.wape) and 0.6 <= sel.cov80 <= 0.95
    assert set(r.forecast["model"]) == {"naive", "invoice_km", "combination"}


@pytest.mark.parametrize("invoice_paid, note_paid", [(100.0, -20.0), (80.0, 0.0)])
def test_both_credit_note_conventions_give_net_cash_and_a_full_share(invoice_paid, note_paid):
    """An invoice of 100 and its credit note of −20, settled: paid 100 with the note taking 20 back (the
    invoice table's convention) or paid 80 net with the note applied for 0 — 80 cash either way, and the
    customer pays all of its net billing."""
    d = pd.to_datetime
    led = pd.DataFrame({"invoice_id": ["I1", "CN1"], "customer_id": "a", "invoice_date": d(["2021-03-01", "2021-03-05"]),
                        "due_date": d(["2021-03-31", "2021-03-05"]), "amount": [100.0, -20.0],
                        "paid_date": d(["2021-03-31", "2021-03-31"]), "paid_amount": [invoice_paid, note_paid]})
    assert receipts(led, "W", d("2021-04-04")).sum() == pytest.approx(80.0)
    assert paid_share(led, shrink=0.0)[0] == pytest.approx(1.0)


def test_estimated_shrinkage_matches_the_normal_normal_moments():
    """Groups with true means N(0, τ² = 16) and noise σ² = 4, 20 rows each: k = σ²/τ² ≈ 0.25 (Efron &
    Morris 1975); groups that do not differ get the cap."""
    rng = np.random.default_rng(11)
    g = np.repeat(np.arange(200), 20)
    v = rng.normal(0, 4, 200)[g] + rng.normal(0, 2, len(g))
    assert shrinkage(v, np.ones(len(g)), g) == pytest.approx(0.25, rel=0.25)
    assert shrinkage(rng.normal(0, 2, len(g)), np.ones(len(g)), g, k_max=50.0) > 10


def test_payment_run_customers_are_paid_on_their_run_day():
    """A customer paying only on Thursdays (ρ → 1) has its chances moved to Thursdays, mass conserved; one
    paying on every weekday keeps its curve."""
    days = pd.date_range("2022-01-03", periods=70)
    known = pd.DataFrame({"customer_id": ["thu"] * 10 + ["any"] * 70, "amount": 1.0,
                          "paid_date": list(days[days.day_of_week == 3][:10]) + list(days)})
    run_day, rho = payment_runs(known)
    assert run_day[0] == 3 and rho[0] > 0.5 and rho[-1] == pytest.approx(0.0, abs=0.05)
    p = np.full((2, 14), 1 / 20)
    out = on_run_days(p, np.array([3, 3]), np.array([1.0, 0.0]), pd.Timestamp("2022-03-06"))  # a Sunday
    np.testing.assert_allclose(out.sum(axis=1)[1], p.sum(axis=1)[1])
    thursdays = (pd.Timestamp("2022-03-07") + pd.to_timedelta(np.arange(14), unit="D")).day_of_week == 3
    assert out[0, ~thursdays].sum() == 0 and out[0].sum() == pytest.approx(p[0].sum())
    np.testing.assert_allclose(out[1], p[1])


def test_a_customer_found_paying_late_by_the_gap_analysis_is_expected_later_next_time():
    """Last period's gap analysis finds one customer's invoices *paid late* (forecast in the window, still
    unpaid at its end); the next forecast, as of the window's end, expects that customer's other open
    invoices later than the same model without the feedback — the others stay where they were."""
    rng = np.random.default_rng(8)
    rows = []
    for c in range(12):
        for k in range(60):
            inv = pd.Timestamp("2022-01-03") + pd.Timedelta(days=7 * k + int(rng.integers(0, 5)))
            rows.append((f"C{c}", inv, inv + pd.Timedelta(days=30 + int(rng.integers(-3, 4)))))
    led = pd.DataFrame(rows, columns=["customer_id", "invoice_date", "paid_date"])
    led["invoice_id"] = [f"I{i}" for i in range(len(led))]
    led["due_date"], led["amount"] = led["invoice_date"] + pd.Timedelta(days=30), 100.0
    as_of = pd.Timestamp("2023-01-22")  # a Sunday
    previous = as_of - pd.Timedelta(days=28)
    stuck = (led["customer_id"] == "C0") & led["due_date"].between(previous - pd.Timedelta(days=3), as_of)
    led.loc[stuck, "paid_date"] = led.loc[stuck, "due_date"] + pd.Timedelta(days=60)

    items = SurvivalCurves().items(History(led, previous), 13)
    gap = gap_analysis(led, items, previous, previous + pd.Timedelta(days=1), as_of)
    c0 = gap[gap["customer_id"] == "C0"]
    assert (c0.loc[c0["invoice_id"].isin(led.loc[stuck, "invoice_id"]), "cause"] == "paid late").all()
    assert c0["gap"].sum() < -0.5 * c0["forecast"].sum()

    def mean_day(model, customer):
        h = History(led, as_of)
        it = model.items(h, 13)
        it = it[(it["customer_id"] == customer) & it["invoice_id"].isin(h.known.loc[h.known["due_date"] > as_of, "invoice_id"])]
        return np.average((it["period_start"] - as_of).dt.days, weights=it["expected"])

    moved = mean_day(SurvivalCurves(), "C0") - mean_day(SurvivalCurves(late_feedback=False), "C0")
    others = mean_day(SurvivalCurves(), "C5") - mean_day(SurvivalCurves(late_feedback=False), "C5")
    print(f"C0 moved {moved:+.2f} days, C5 {others:+.2f}")
    assert moved > 1 and abs(others) < 0.2 * moved

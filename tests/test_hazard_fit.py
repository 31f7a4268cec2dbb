"""Hazard fit: the person-period table by hand, and known coefficients recovered from logs drawn exactly
from the contract's formula H = h0(band) · z_a · ∏ m_k^x_k (independently of the simulator)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from o2c_sim.calibration import hazard_fit as hf

MON = pd.Timestamp("2025-01-06")  # a Monday


def _log(rows):
    return pd.DataFrame(rows, columns=["item_id", "customer_id", "date", "kind", "amount", "level", "promised_date", "due_date"])


def test_person_period_by_hand():
    # issued Mon 6 Jan, due Fri 10 Jan; notice level 1 on Mon 13th; contact Tue 14th; paid Thu 16th.
    # At risk: 6,7,8,9,10,13,14,15,16 (9 business days, the weekend is not a risk day); the notice is
    # recent from the 14th (window 10), the contact from the 15th (window 7).
    d = lambda n: MON + pd.Timedelta(days=n)  # noqa: E731
    log = _log([
        ("A", "C", d(0), "issued", 100.0, None, None, d(4)),
        ("A", "C", d(7), "notice", None, 1, None, None),
        ("", "C", d(8), "call_attempt", None, None, None, None),
        ("", "C", d(8), "contact", None, None, None, None),
        ("", "C", d(8), "promise", None, None, d(10), None),
        ("A", "C", d(10), "payment", 100.0, None, None, None),
        # B: issued the same day, disputed 7th–9th (blocked 3 days: the decision comes after the 9th's
    # payments), never paid: censored at the last date
        ("B", "C", d(0), "issued", 50.0, None, None, d(4)),
        ("B", "C", d(1), "dispute_opened", None, None, None, None),
        ("B", "C", d(3), "dispute_closed", None, None, None, None),
        # D: issued Mon 13th, due the 27th: not past due when the promise was made, so it does not cover D
        ("D", "C", d(7), "issued", 10.0, None, None, d(21)),
    ])
    opt = hf.FitOptions(bands=(-30, 0, 1, 8), windows={"notice": 10, "contact": 7, "promise": 3, "fee": 10})
    t = hf.person_period(log, options=opt)
    assert t.attrs["items"] == 3 and t.attrs["payments"] == 1
    assert t.attrs["item_days"] == 9 + (9 - 3) + 4
    assert t["at_risk"].sum() == 19 and t["events"].sum() == 1
    # the promised day (16th) counts for A and B, past due when promised on the 14th, not for D
    assert t.loc[t["promise"] == 1, "at_risk"].sum() == 2
    # the contact of the 14th acts on every open item of the account from the 15th: A, B, D on 15th, 16th
    assert t.loc[t["contact"] == 1, "at_risk"].sum() == 6
    a_days = t[t["disputed"] == 0]
    # the payment day (16th, 6 days past due): band 1..7, notice and contact recent, promise day (16th) recent
    paid = t[t["events"] == 1].iloc[0]
    assert (paid["band"], paid["notice_1"], paid["contact"], paid["promise"], paid["attempt"]) == (2, 1, 1, 1, 1)
    # B was disputed on receipt (before its due date): its days at risk from the dispute on carry
    # disputed = 1 (the 10th and 13th–16th; the 6th came before it was raised)
    assert t.loc[t["disputed"] == 1, "at_risk"].sum() == 5
    assert a_days["at_risk"].sum() == 9 + 4 + 1
    # the balance: A (100) and B (50) past due from the 13th on → 150 in band 0 (< 1000)
    assert set(t["balance_band"]) == {0}


def test_a_call_that_blocks_an_item_leaves_that_day_at_risk():
    # A issued Mon 6 Jan, due Fri 10th; a call on Mon 20th ends in a dispute raised that day, closed Wed
    # 22nd (decided after that day's payments); written off Mon 27th. The day's payments come first, so
    # the 20th and the 27th were days A could have paid and did not: at risk 6–10, 13–17, 20, 23–24, 27.
    d = lambda n: MON + pd.Timedelta(days=n)  # noqa: E731
    log = _log([
        ("A", "C", d(0), "issued", 100.0, None, None, d(4)),
        ("", "C", d(14), "contact", None, None, None, None),
        ("A", "C", d(14), "dispute_opened", None, None, None, None),
        ("A", "C", d(16), "dispute_closed", None, None, None, None),
        ("A", "C", d(21), "write_off", 100.0, None, None, None),
    ])
    t = hf.person_period(log, options=hf.FitOptions(bands=(-30, 0, 1, 8), targeting_controls=False))
    assert t["at_risk"].sum() == 5 + 5 + 1 + 2 + 1 and t["events"].sum() == 0
    assert t["disputed"].sum() == 0  # raised well after receipt: not the disputed-on-receipt multiplier


def test_credit_hold_days_from_a_mapped_export(tmp_path):
    """A spreadsheet with an order block on the account, its names mapped to the new kinds: the hold acts
    from the day it is set to the day before it is released, on every open item of the account."""
    from o2c_sim.data.activities import ActivityMapping, load_activities

    pd.DataFrame({
        "Doc": ["9001", "9002", "", "", "9001", "9002"], "Customer": ["C7"] * 6,
        "Day": ["2025-01-06", "2025-01-06", "2025-01-20", "2025-01-27", "2025-01-29", "2025-01-31"],
        "What": ["Invoice", "Invoice", "Credit block set", "Credit block released", "Paid", "Paid"],
        "Amount": ["100", "50", "", "", "100", "50"], "Due": ["2025-01-10", "2025-02-05", "", "", "", ""],
    }).to_csv(tmp_path / "log.csv", index=False)
    mapping = ActivityMapping(
        columns={"item_id": "Doc", "customer_id": "Customer", "date": "Day", "activity": "What", "amount": "Amount",
                 "due_date": "Due"},
        activities={"Invoice": "issued", "Paid": "payment", "Credit block set": "credit_hold",
                    "Credit block released": "hold_released"})
    acts = load_activities(tmp_path / "log.csv", mapping)
    assert list(acts["kind"].astype(str)[2:4]) == ["credit_hold", "hold_released"] and (acts["item_id"][2:4] == "").all()
    t = hf.person_period(acts, options=hf.FitOptions(bands=(-30, 0, 1, 8), targeting_controls=False))
    # on hold Mon 20th – Fri 24th: five business days for each of the two open items
    assert t.loc[t["credit_hold"] == 1, "at_risk"].sum() == 10
    assert "credit_hold" in t.attrs["actions"]


# ------------------------------------------------------------------------ a world drawn from the formula

TRUE = {"h0": [0.01, 0.04, 0.25, 0.06, 0.05, 0.04, 0.03], "bands": (-30, -7, 0, 1, 8, 15, 31),
        "notice": [1.3, 1.6, 2.0], "contact": 2.5, "promise": 6.0, "disputed": 0.5, "theta": 0.5}
STEPS = (-3, 10, 25)


def draw_world(seed: int, accounts: int = 500, days: int = 260, collectors_calls: int = 25) -> pd.DataFrame:
    """An activity log drawn exactly from the contract's hazard, with collectors who call the accounts with
    the largest past-due balance first (so calls go to slow payers: targeting confounds a naive fit)."""
    rng = np.random.default_rng(seed)
    cal = MON + pd.to_timedelta(np.arange(days + 10), unit="D")
    busday = np.is_busday(cal.to_numpy("datetime64[D]"))
    z = rng.gamma(1 / TRUE["theta"], TRUE["theta"], accounts)
    # invoices: every account bills every ~15 days on business days, Net 30
    issue_acc, issue_day = [], []
    for a in range(accounts):
        t = int(rng.integers(0, 15))
        while t < days - 60:
            issue_acc.append(a)
            issue_day.append(t + (0 if busday[t] else (2 if cal[t].day_of_week == 5 else 1)))
            t += int(rng.integers(10, 21))
    acc, iss = np.array(issue_acc), np.array(issue_day)
    n = len(acc)
    due = iss + 30
    amount = np.round(rng.lognormal(7.0, 0.8, n), 2)
    resistance = rng.exponential(1.0, n)
    disputed = rng.random(n) < 0.08
    d_open, d_close = iss + 2, iss + 2 + rng.integers(5, 15, n)
    cum = np.zeros(n)
    level = np.zeros(n, int)
    last_notice = np.full((n, 3), -10**6)
    last_contact = np.full(accounts, -10**6)
    promised = np.full(accounts, -10**6)
    promise_made = np.full(accounts, -10**6)
    open_ = np.ones(n, bool)
    rows = [(f"I{i}", f"C{acc[i]}", cal[iss[i]], "issued", amount[i], None, None, cal[due[i]]) for i in range(n)]
    rows += [(f"I{i}", f"C{acc[i]}", cal[d_open[i]], "dispute_opened", None, None, None, None) for i in np.flatnonzero(disputed)]
    rows += [(f"I{i}", f"C{acc[i]}", cal[d_close[i]], "dispute_closed", None, None, None, None) for i in np.flatnonzero(disputed)]
    h0, bands = np.array(TRUE["h0"]), np.array(TRUE["bands"])
    for t in range(days):
        if not busday[t]:
            continue
        live = open_ & (iss <= t)
        blocked = disputed & (d_open <= t) & (t <= d_close)  # decided after the day's payments
        risk = live & ~blocked
        dpd = t - due
        # collectors: largest past-due balance first, limited calls a day, not re-called within 5 days
        pd_bal = np.bincount(acc[live & (dpd > 0)], weights=amount[live & (dpd > 0)], minlength=accounts)
        cand = np.flatnonzero((pd_bal > 0) & (t - last_contact > 7))
        called = cand[np.argsort(-pd_bal[cand])][:collectors_calls]
        rpc = called[rng.random(len(called)) < 0.45]
        for a in called:
            rows.append(("", f"C{a}", cal[t], "call_attempt", None, None, None, None))
        for a in rpc:
            rows.append(("", f"C{a}", cal[t], "contact", None, None, None, None))
        last_contact[rpc] = t
        ptp = rpc[rng.random(len(rpc)) < 0.5]
        when = t + rng.integers(1, 6, len(ptp))
        for a, w in zip(ptp, when):
            rows.append(("", f"C{a}", cal[t], "promise", None, None, cal[w], None))
        promised[ptp], promise_made[ptp] = when, t
        # the hazard of today (actions of today act from tomorrow; the notices below are sent after it)
        band = np.maximum(np.searchsorted(bands, dpd, side="right") - 1, 0)
        H = h0[band] * z[acc]
        for k in range(3):
            H = H * np.where(t - last_notice[:, k] <= 10, TRUE["notice"][k], 1.0)
        H *= np.where((t - last_contact[acc] <= 7) & (last_contact[acc] < t), TRUE["contact"], 1.0)
        H *= np.where((promised[acc] <= t) & (t < promised[acc] + 3) & (due < promise_made[acc]), TRUE["promise"], 1.0)
        H *= np.where(disputed & (t >= d_close), TRUE["disputed"], 1.0)
        cum = np.where(risk, cum + H, cum)
        pays = risk & (cum >= resistance)
        for i in np.flatnonzero(pays):
            rows.append((f"I{i}", f"C{acc[i]}", cal[t], "payment", amount[i], None, None, None))
        open_ &= ~pays
        # dunning run: one level a day when the item reaches the level's days past due
        send = open_ & (iss <= t) & ~blocked & (level < 3)
        send &= dpd >= np.array(STEPS + (10**6,))[np.minimum(level, 3)]
        for i in np.flatnonzero(send):
            rows.append((f"I{i}", f"C{acc[i]}", cal[t], "notice", None, level[i] + 1, None, None))
        last_notice[send, level[send]] = t
        level[send] += 1
        # write-off 120 days past due
        wo = open_ & (dpd >= 120)
        for i in np.flatnonzero(wo):
            rows.append((f"I{i}", f"C{acc[i]}", cal[t], "write_off", amount[i], None, None, None))
        open_ &= ~wo
    return _log(rows)


OPTIONS = hf.FitOptions(bands=TRUE["bands"], windows={"notice": 10, "contact": 7, "promise": 3, "fee": 10})


@pytest.fixture(scope="module")
def world():
    return draw_world(seed=7)


@pytest.fixture(scope="module")
def fitted(world):
    return hf.fit_hazard(hf.person_period(world, options=OPTIONS), OPTIONS)


def test_known_effects_are_recovered(fitted):
    truth = {"notice_1": TRUE["notice"][0], "notice_2": TRUE["notice"][1], "notice_3": TRUE["notice"][2],
             "contact": TRUE["contact"], "promise": TRUE["promise"], "disputed": TRUE["disputed"], "attempt": 1.0}
    for name, true in truth.items():
        e = fitted.effect(name)
        z = (np.log(e["multiplier"]) - np.log(true)) / e["se_log"]
        assert abs(z) < 3.0, (name, e, true)  # inside a 99.7 % interval
        assert e["multiplier"] == pytest.approx(true, rel=0.25), name
    # the baseline of every band with enough events
    b = fitted.baseline.set_index("band")
    for j, h in enumerate(TRUE["h0"]):
        if b.loc[j, "events"] >= 200:
            assert b.loc[j, "ci_lo"] / 1.15 < h < b.loc[j, "ci_hi"] * 1.15, (j, b.loc[j].to_dict(), h)
    lo, hi = fitted.frailty_ci
    assert lo < TRUE["theta"] < hi and fitted.frailty_variance == pytest.approx(TRUE["theta"], rel=0.3)


def test_naive_fit_confuses_targeting_with_effect(world, fitted):
    """Without the frailty and the targeting controls, the contact effect is understated: the accounts
    called first are the slow ones. With them, the truth is recovered (previous test)."""
    naive_opt = hf.FitOptions(bands=TRUE["bands"], windows=OPTIONS.windows, frailty=False, targeting_controls=False)
    naive = hf.fit_hazard(hf.person_period(world, options=naive_opt), naive_opt)
    assert naive.effect("contact")["ci95"][1] < TRUE["contact"]
    assert fitted.effect("contact")["ci95"][0] < TRUE["contact"] < fitted.effect("contact")["ci95"][1] * 1.1
    assert naive.frailty_variance == 0.0 and naive.effect("attempt") is None

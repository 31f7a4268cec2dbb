"""The debt-position roll-forward: every line of a hand-built ledger, the identity to the cent, a run
directory's closing AR against the simulator's own daily book, and bad input."""

import pandas as pd
import pytest

from o2c_sim.cli import main
from o2c_sim.forecast.debt_position import Target, movements_from_ledger, movements_from_run, roll_forward
from o2c_sim.experiments.replications import run_replications
from o2c_sim.data.rundir import write_run
from conftest import small_scenario

D = pd.Timestamp


def hand_ledger() -> pd.DataFrame:
    rows = [  # invoice, date, due, amount, paid date, paid, credited, written off
        ("A", "2026-01-10", "2026-02-09", 100.00, "2026-01-20", 100.00, 0, 0),      # billed and paid before the period
        ("B", "2026-01-15", "2026-02-14", 250.50, "2026-02-10", 200.00, 50.50, 0),  # opening, paid + credited in the period
        ("C", "2026-01-20", "2026-01-31", 80.25, "2026-03-01", 0, 0, 80.25),        # opening, written off in the period
        ("D", "2026-02-05", "2026-03-07", 300.00, None, 0, 0, 0),                    # billed in the period, open
        ("E", "2026-01-02", "2026-01-12", 40.00, None, 0, 0, 0),                     # opening, still open (old)
        ("F", "2026-03-05", "2026-04-04", 999.99, "2026-03-20", 999.99, 0, 0),      # after the period
    ]
    df = pd.DataFrame(rows, columns=["invoice_id", "invoice_date", "due_date", "amount", "paid_date", "paid_amount",
                                     "credited_amount", "written_off_amount"])
    df["customer_id"] = "C1"
    for c in ("invoice_date", "due_date", "paid_date"):
        df[c] = pd.to_datetime(df[c])
    return df


def test_every_line_of_a_hand_built_ledger():
    pos = roll_forward(movements_from_ledger(hand_ledger()), "2026-02-01", "2026-03-04", Target.parse("dso<=30"))
    lines = pos["lines_cents"]
    assert lines["opening_ar"] == 25050 + 8025 + 4000  # B, C, E open on 1 February
    assert lines["billing"] == 30000
    assert lines["collected"] == 20000
    assert lines["credited"] == 5050
    assert lines["written_off"] == 8025
    assert lines["to_agency"] == 0 and lines["closing_agency"] == 0
    assert lines["closing_ar"] == 30000 + 4000  # D and E
    # D is current on 4 March (due 7 March); E is 51 days past due
    assert pos["aging_cents"] == {"current": 30000, "1_30": 0, "31_60": 4000, "61_90": 0, "over_90": 0}
    assert pos["metrics"]["dso"] == pytest.approx(340.0 / 300.0 * 32)
    assert pos["target"]["met"] is False and pos["target"]["gap"] == pytest.approx(340 / 300 * 32 - 30)


def test_run_directory_matches_the_simulators_daily_book(tmp_path):
    sc = small_scenario(overrides={"portfolio.accounts": 150, "horizon_days": 90, "warmup_days": 60, "replications": 1,
                                   "dunning.pre_legal_days": 20, "seed": 3, "fees.enabled": True})
    reps = run_replications(sc)
    r = reps.results[0]
    moves = movements_from_run(r.invoices, r.events)
    daily = r.daily.set_index("date")
    start, end = daily.index[70], daily.index[140]
    pos = roll_forward(moves, start, end)
    lines = pos["lines_cents"]
    # the simulator's evening book counts items with the agency as open AR
    ar = lambda day: round(daily.loc[day, "ar_total"] * 100)  # noqa: E731
    assert lines["opening_ar"] + lines["opening_agency"] == ar(daily.index[69])
    assert lines["closing_ar"] + lines["closing_agency"] == ar(end)
    assert lines["to_agency"] > 0, "the scenario hands files to the agency"
    window = daily.loc[start:end]
    assert lines["billing"] == round(window["sales"].sum() * 100)
    assert lines["written_off"] + lines["agency_written_off"] == round(window["write_offs"].sum() * 100)
    # fee receivables roll forward too: to the last day they equal the fees still open
    whole = roll_forward(moves, daily.index[0], daily.index[-1])["lines_cents"]
    assert whole["fee_charged"] > 0 and whole["opening_fees"] == 0
    assert whole["closing_fees"] == round(r.extra["fees"]["open"].sum() * 100)
    assert whole["fee_collected"] == round(r.extra["fees"]["paid"].sum() * 100)
    # the CLI on the run directory writes the same roll-forward
    run_dir = write_run(tmp_path / "run", reps)
    out = tmp_path / "pos"
    assert main(["position", str(run_dir), "--period", f"{start.date()}..{end.date()}", "--target", "pct_over_90<5",
                 "--out", str(out)]) == 0
    written = pd.read_csv(out / "position.csv")
    assert round(written["amount"].iloc[11] * 100) == lines["closing_agency"]
    assert round(written["amount"].iloc[-1] * 100) == lines["closing_fees"]
    assert round(written["amount"].iloc[6] * 100) == lines["closing_ar"]


@pytest.mark.parametrize("argv, words", [
    (["--period", "2026-03-01"], "START..END"),
    (["--period", "2026-03-01..2026-02-01"], "before the start"),
    (["--period", "2026-02-01..2026-03-01", "--target", "dso=45"], "METRIC OP VALUE"),
    (["--period", "2026-02-01..2026-03-01", "--target", "speed<4"], "METRIC OP VALUE"),
    (["--period", "2026-02-01..2027-03-01"], "complete only through"),
])
def test_bad_input_is_a_user_error(tmp_path, capsys, argv, words):
    ledger = tmp_path / "ledger.csv"
    hand_ledger().to_csv(ledger, index=False)
    assert main(["position", str(ledger), *argv, "--out", str(tmp_path / "out")]) == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_run_in_several_currencies_rolls_forward_one_currency_at_a_time(tmp_path, capsys):
    """Amounts of different currencies are never added: without --currency the command refuses and names
    them (exit 2, nothing written); with it, each currency's position closes on that currency's open
    invoices to the cent."""
    sc = small_scenario(overrides={"portfolio.accounts": 120, "horizon_days": 60, "warmup_days": 30, "replications": 1,
                                   "seed": 4, "currencies.enabled": True,
                                   "currencies.accounts": {"mid_market": {"EUR": 0.5, "USD": 0.5}},
                                   "currencies.rates": {"USD": {"2000-01-01": 0.9, "2026-02-01": 0.8}}})
    reps = run_replications(sc)
    run_dir = write_run(tmp_path / "run", reps)
    inv = reps.results[0].invoices
    last = reps.results[0].daily["date"].iloc[-1].date()
    period = ["--period", f"{reps.results[0].daily['date'].iloc[0].date()}..{last}"]
    assert main(["position", str(run_dir), *period, "--out", str(tmp_path / "mixed")]) == 2
    err = capsys.readouterr().err
    assert "2 currencies (EUR, USD)" in err and "--currency" in err and not (tmp_path / "mixed").exists()
    for code in ("EUR", "USD"):
        out = tmp_path / code
        assert main(["position", str(run_dir), *period, "--currency", code, "--out", str(out)]) == 0
        mine = inv[inv["currency"] == code]
        left = mine["amount"] - mine["paid_amount"] - mine["credited_amount"] - mine["written_off_amount"]
        closing = pd.read_csv(out / "position.csv")["amount"]
        assert round((closing.iloc[6] + closing.iloc[11]) * 100) == round(left.sum() * 100)


def test_a_ledger_file_in_several_currencies_is_refused_by_commands_that_add_amounts(tmp_path, capsys):
    ledger = hand_ledger().assign(currency=["EUR", "USD", "EUR", "EUR", "USD", "EUR"])
    path = tmp_path / "ledger.csv"
    ledger.to_csv(path, index=False)
    assert main(["position", str(path), "--period", "2026-02-01..2026-03-04", "--out", str(tmp_path / "p")]) == 2
    assert "2 currencies (EUR, USD)" in capsys.readouterr().err
    assert main(["position", str(path), "--period", "2026-02-01..2026-03-04", "--currency", "EUR", "--out", str(tmp_path / "e")]) == 0
    assert pd.read_csv(tmp_path / "e" / "position.csv")["amount"].iloc[1] == 300.0  # D, the only EUR billing in the period
    assert main(["calibrate", str(path), "--out", str(tmp_path / "c.yaml")]) == 2
    assert "2 currencies (EUR, USD)" in capsys.readouterr().err and not (tmp_path / "c.yaml").exists()

"""`o2c-sim run`: the run directory, determinism, and clear errors for bad input."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from o2c_sim.cli import main

SMALL = ["--set", "portfolio.accounts=120", "--set", "horizon_days=92", "--set", "warmup_days=62", "-r", "2", "-q"]


def run(args, capsys):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_run_writes_the_run_directory(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = run(["run", "baseline", *SMALL, "--out", str(out)], capsys)
    assert code == 0
    assert {p.name for p in out.iterdir()} >= {"scenario.yaml", "invoices.parquet", "events.parquet", "daily.parquet", "kpis.json"}
    kpis = json.loads((out / "kpis.json").read_text())
    required = ["dso", "dso_countback", "bpdso", "add", "cei", "pct_current", "pct_over_90", "bad_debt_ratio",
                "ptp_kept_rate", "dispute_cycle_days", "dispute_sla_pct", "coverage_pct", "collector_utilisation",
                "cash_collected", "invoices"]
    assert set(required) <= set(kpis["mean"]) and set(required) <= set(kpis["ci95"])
    assert len(kpis["replications"]) == 2
    lo, hi = kpis["ci95"]["dso"]
    assert lo <= kpis["mean"]["dso"] <= hi
    invoices = pd.read_parquet(out / "invoices.parquet")
    for col in ("invoice_id", "customer_id", "invoice_date", "due_date", "amount", "paid_date", "paid_amount",
                "credited_amount", "written_off_amount", "disputed", "segment", "channel"):
        assert col in invoices.columns
    assert "DSO" in stdout and str(out) in stdout
    # the resolved scenario reloads to the same scenario
    from o2c_sim.scenario import load_scenario
    again = load_scenario(out / "scenario.yaml")
    assert again.portfolio.accounts == 120


def test_same_seed_same_results_different_seed_different(tmp_path, capsys):
    dirs = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        dirs[name] = tmp_path / name
        assert run(["run", "baseline", *SMALL, "--seed", str(seed), "--out", str(dirs[name])], capsys)[0] == 0
    read = lambda d: (pd.read_parquet(d / "invoices.parquet"), (d / "kpis.json").read_text())  # noqa: E731
    (ia, ka), (ib, kb), (ic, kc) = read(dirs["a"]), read(dirs["b"]), read(dirs["c"])
    pd.testing.assert_frame_equal(ia, ib)
    assert ka == kb
    assert ka != kc
    assert not ia["amount"].equals(ic["amount"])


def test_existing_run_is_never_overwritten(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "kpis.json").write_text("precious")
    code, _, err = run(["run", "baseline", *SMALL, "--out", str(out)], capsys)
    assert code == 2 and "already exists" in err
    assert (out / "kpis.json").read_text() == "precious"


def test_failed_run_leaves_no_directory(tmp_path, monkeypatch, capsys):
    import o2c_sim.data.rundir as rundir

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(rundir, "write_json", boom)
    monkeypatch.setenv("O2C_SIM_LOG_DIR", str(tmp_path / "logs"))
    out = tmp_path / "run"
    assert main(["run", "baseline", *SMALL, "--out", str(out)]) == 1  # the safety net: one paragraph, exit 1
    err = capsys.readouterr().err
    assert "RuntimeError: disk full" in err and "Traceback" not in err and str(tmp_path / "logs") in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["logs"]
    assert "Traceback" in next((tmp_path / "logs").iterdir()).read_text()


def _bad_yaml(tmp_path, text):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    return str(p)


BASE = "extends: {base}\nname: x\n"


@pytest.mark.parametrize("case, expect", [
    ("malformed_yaml", "malformed YAML"),
    ("unknown_key", "team.colectors"),
    ("negative_collectors", "team.collectors"),
    ("shares_not_one", "segment shares must sum to 1"),
    ("unknown_strategy", "unknown strategy 'fastest'"),
    ("bad_override_path", "override 'portfolio.segments.nope.share'"),
    ("bad_override_value", "team.collectors"),
    ("override_without_equals", "key=value"),
    ("missing_file", "file not found"),
    ("unwritable_out", "not writable"),
    ("top_level_list", "expected a mapping"),
    ("descending_dunning", "strictly increasing"),
    ("zero_replications", "--replications"),
    ("unknown_flag", "unrecognized arguments"),
    ("probability_out_of_range", "silent_share"),
])
def test_bad_input_gets_one_paragraph_and_exit_2(case, expect, tmp_path, capsys):
    base = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
    head = BASE.format(base=base)
    scenario, extra = "baseline", []
    if case == "malformed_yaml":
        scenario = _bad_yaml(tmp_path, head + "team: {collectors: 3\n")
    elif case == "unknown_key":
        scenario = _bad_yaml(tmp_path, head + "team:\n  colectors: 3\n")
    elif case == "negative_collectors":
        scenario = _bad_yaml(tmp_path, head + "team:\n  collectors: -1\n")
    elif case == "shares_not_one":
        extra = ["--set", "portfolio.segments.key_accounts.share=0.5"]
    elif case == "unknown_strategy":
        extra = ["--set", "strategy.prioritisation=fastest"]
    elif case == "bad_override_path":
        extra = ["--set", "portfolio.segments.nope.share=0.1"]
    elif case == "bad_override_value":
        extra = ["--set", "team.collectors=many"]
    elif case == "override_without_equals":
        extra = ["--set", "team.collectors"]
    elif case == "missing_file":
        scenario = str(tmp_path / "nope.yaml")
    elif case == "unwritable_out":
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
        if os.geteuid() == 0:  # root ignores permissions: use a path under a regular file instead
            (tmp_path / "file").write_text("x")
            extra = ["--out", str(tmp_path / "file" / "run")]
            expect = "cannot create"
        else:
            extra = ["--out", str(locked / "run")]
    elif case == "top_level_list":
        scenario = _bad_yaml(tmp_path, "- 1\n- 2\n")
    elif case == "descending_dunning":
        extra = ["--set", "dunning.steps.1.days_past_due=100"]
    elif case == "zero_replications":
        extra = ["--replications", "0"]
    elif case == "unknown_flag":
        extra = ["--colectors", "3"]
    elif case == "probability_out_of_range":
        extra = ["--set", "portfolio.segments.mid_market.behaviour.silent_share=1.5"]
    args = ["run", scenario, *SMALL, *extra]
    if "--out" not in extra:
        args += ["--out", str(tmp_path / "out")]
    code, _, err = run(args, capsys)
    assert code == 2, err
    assert expect in err
    assert "Traceback" not in err
    assert err.count("\n") == 1  # one paragraph
    assert not (tmp_path / "out").exists()


def test_console_script_exit_code_without_traceback(tmp_path):
    exe = Path(sys.executable).with_name("o2c-sim")
    proc = subprocess.run([str(exe), "run", str(tmp_path / "missing.yaml")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "file not found" in proc.stderr and "Traceback" not in proc.stderr


def test_an_unwritable_scenario_destination_is_a_user_error(tmp_path, capsys):
    """calibrate writes its scenario through rundir.atomic_file: an unwritable folder is a clear error."""
    from o2c_sim.data.rundir import atomic_write_text
    from o2c_sim.errors import UserError

    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where a folder should be")
    target = blocker / "calibrated.yaml"
    with pytest.raises(UserError) as info:
        atomic_write_text(target, "name: x\n")
    assert str(target) in str(info.value) and "cannot write here" in str(info.value)
    assert blocker.read_text() == "a file where a folder should be"

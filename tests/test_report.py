"""``o2c-sim report``: dated, self-contained HTML reports; failures keep the last good report; bad
parameters fail fast; Excel exports never turn text into formulas; the HTML works in a real browser."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import openpyxl
import pandas as pd
import pytest

from conftest import require_chromium
from o2c_sim.cli import main
from o2c_sim.data.excel import write_tables
from o2c_sim.present.report import count_figures, read_notebook

SMALL = "{portfolio.accounts: 300, horizon_days: 120, warmup_days: 60}"
DAY = "2026-01-05"


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a hash of its content."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def scenario_report(tmp_path_factory):
    """One small run_scenario report with --xlsx (shared by the tests that inspect it)."""
    out = tmp_path_factory.mktemp("reports")
    code = main(["report", "run_scenario", "-p", "overrides", SMALL, "-p", "replications", "2", "--out", str(out),
                 "--date", DAY, "--xlsx"])
    assert code == 0
    return out / "run_scenario" / DAY


def test_report_writes_dated_folder(scenario_report):
    folder = scenario_report
    assert folder.name == DAY and folder.parent.name == "run_scenario"
    for name in ("run_scenario.html", "run_scenario.ipynb", "run_scenario.xlsx", "parameters.yaml"):
        assert (folder / name).is_file(), name
    assert (folder.parent / "latest").resolve() == folder.resolve()
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")], "no temporary folder left behind"


def test_report_html_is_self_contained_with_code_hidden(scenario_report):
    html = (scenario_report / "run_scenario.html").read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=[\"']https?://", html), "no script may be loaded from the network"
    assert not re.search(r"<link[^>]+href=[\"']https?://", html)
    assert html.count("Plotly.newPlot") >= 1 and "window.Plotly" in html  # plotly.js is inline
    assert "notebook_params.check" not in html and "run_replications(" not in html  # code is hidden
    assert "Receivables by aging bucket" in html


def test_report_xlsx_has_the_tables(scenario_report):
    wb = openpyxl.load_workbook(scenario_report / "run_scenario.xlsx")
    assert wb.sheetnames == ["KPIs", "Monthly KPIs", "Weekly cash"]
    header = [c.value for c in wb["KPIs"][1]]
    assert header == ["kpi", "label", "unit", "mean", "ci95_lo", "ci95_hi", "meaning"]
    assert wb["KPIs"]["A2"].value == "dso" and wb["KPIs"]["B2"].value == "DSO" and isinstance(wb["KPIs"]["D2"].value, float)


@pytest.mark.browser
def test_report_renders_in_chromium(scenario_report):
    chromium = require_chromium()  # $O2C_SIM_CHROMIUM, else /usr/bin/chromium
    from playwright.sync_api import sync_playwright

    expected = count_figures(read_notebook(scenario_report / "run_scenario.ipynb"))
    assert expected == 5
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]
    errors, remote = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=args)
        try:
            context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.on("request", lambda r: remote.append(r.url) if r.url.startswith(("http:", "https:")) else None)
            page.goto((scenario_report / "run_scenario.html").resolve().as_uri())
            page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {expected}",
                                   timeout=30_000)
            plots = page.locator(".js-plotly-plot")
            assert plots.count() == expected
            for i in range(expected):  # every figure drew its axes and data
                assert plots.nth(i).locator(".main-svg").count() >= 1
                assert plots.nth(i).locator("g.trace").count() >= 1
            page.locator(".js-plotly-plot").first.hover()  # interactive: hovering must not raise
        finally:
            browser.close()
    assert errors == [], errors
    assert remote == [], f"the report tried to load from the network: {remote}"


# ------------------------------------------------------------------------------------ failure path


def _toy_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("fail = False\nlabel = 'ok'", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("if fail:\n    raise RuntimeError('boom: the ledger was empty')\nprint(label)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


def test_failed_notebook_keeps_last_good_report(tmp_path, capsys):
    nb = _toy_notebook(tmp_path / "toy.ipynb")
    out = tmp_path / "reports"
    assert main(["report", str(nb), "--out", str(out), "--date", DAY]) == 0
    good = out / "toy" / DAY
    before = _tree(good)
    assert "ok" in (good / "toy.html").read_text(encoding="utf-8")
    capsys.readouterr()

    code = main(["report", str(nb), "-p", "fail", "true", "--out", str(out), "--date", DAY])
    err = capsys.readouterr().err
    assert code == 1
    assert "RuntimeError" in err and "boom: the ledger was empty" in err and "Traceback" not in err
    failed = list((out / "toy").glob(f"{DAY}-*.FAILED.ipynb"))
    assert len(failed) == 1 and str(failed[0]) in err
    assert "RuntimeError" in failed[0].read_text(encoding="utf-8")  # the error is kept in the notebook
    assert _tree(good) == before, "the last good report must be untouched"
    assert (out / "toy" / "latest").resolve() == good.resolve()
    assert sorted(p.name for p in (out / "toy").iterdir() if p.is_dir() and not p.is_symlink()) == [DAY], \
        "no new or partial folder"
    assert not [p for p in (out / "toy").iterdir() if p.name.startswith(".")]

    # a second good run the same day goes to a new folder; the first is kept
    assert main(["report", str(nb), "-p", "label", "second", "--out", str(out), "--date", DAY]) == 0
    assert _tree(good) == before
    second = out / "toy" / f"{DAY}_2"
    assert "second" in (second / "toy.html").read_text(encoding="utf-8")
    assert (out / "toy" / "latest").resolve() == second.resolve()


# ----------------------------------------------------------------------------------- bad parameters


@pytest.mark.parametrize("args, message", [
    (["-p", "scenario", "no_such_scenario.yaml"], "no_such_scenario.yaml: file not found"),
    (["-p", "overrides", "{team.colectors: 8}"], "field 'team.colectors': unknown key"),
    (["-p", "overrides", "{team.collectors: -1}"], "field 'team.collectors'"),
    (["-p", "replications", "many"], "parameter 'replications': expected a whole number"),
    (["-p", "replications", "0"], "parameter 'replications': must be at least 1"),
    (["-p", "replication", "5"], "unknown parameter(s) 'replication'"),
    (["-p", "xlsx", "out.csv"], "parameter 'xlsx'"),
])
def test_bad_parameters_fail_before_running(tmp_path, capsys, args, message):
    out = tmp_path / "reports"
    started = dt.datetime.now()
    code = main(["report", "run_scenario", *args, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
    assert (dt.datetime.now() - started).total_seconds() < 20, "validation must happen before a kernel starts"
    assert not (out / "run_scenario").exists() or not any((out / "run_scenario").iterdir())


def test_bad_parameters_exit_code_from_the_shell(tmp_path):
    exe = Path(sys.executable).with_name("o2c-sim")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from o2c_sim.cli import main; sys.exit(main())"]
    proc = subprocess.run([*cmd, "report", "staffing_sweep", "-p", "target", "dsoo<=45", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "parameter 'target'" in proc.stderr and "unknown KPI 'dsoo'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_notebook(tmp_path, capsys):
    assert main(["report", "no_such_notebook", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "notebook not found" in err and "run_scenario" in err


def test_parameters_file_and_list(tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text("replications: many\n", encoding="utf-8")
    assert main(["report", "run_scenario", "-f", str(params), "--out", str(tmp_path)]) == 2
    assert "parameter 'replications'" in capsys.readouterr().err
    assert main(["report", "cash_forecast_report", "-f", str(tmp_path / "monday.yaml"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "monday.yaml: file not found" in err and "examples/monday.yaml" in err and "scenarios/" not in err
    assert main(["report", "--list"]) == 0
    listing = capsys.readouterr().out
    assert "run_scenario" in listing and "-p replications" in listing


# --------------------------------------------------------------------------------------------- Excel


def test_xlsx_never_writes_formulas(tmp_path):
    evil = ["=1+1", "+SUM(A1:A2)", "-2+3", "@SUM(1)", "=HYPERLINK(\"http://x\",\"y\")", "plain", "-", "=", "@"]
    frame = pd.DataFrame({"text": evil, "number": range(len(evil)), "negative": [-1.5] * len(evil)})
    index = pd.DataFrame({"value": [1.0]}, index=pd.Index(["=cmd|' /C calc'!A0"], name="=kpi"))
    path = write_tables(tmp_path / "out.xlsx", {"KPI comparison": frame, "=sheet": index})
    wb = openpyxl.load_workbook(path)
    ws = wb["KPI comparison"]
    for row, text in enumerate(evil, start=2):
        cell = ws.cell(row=row, column=1)
        assert cell.data_type == "s" and cell.value == text, (cell.value, cell.data_type)
        assert ws.cell(row=row, column=3).data_type == "n" and ws.cell(row=row, column=3).value == -1.5
    ws2 = wb[wb.sheetnames[1]]
    assert ws2["A1"].data_type == "s" and ws2["A1"].value == "=kpi"
    assert ws2["A2"].data_type == "s" and ws2["A2"].value == "=cmd|' /C calc'!A0"
    # no cell of the workbook is a formula
    assert all(c.data_type != "f" for ws in wb.worksheets for row in ws.iter_rows() for c in row)


def test_xlsx_sheet_names_and_atomic_write(tmp_path):
    tables = {"a/b:c*?[x]": pd.DataFrame({"x": [1]}), "A/B:C*?[X]": pd.DataFrame({"y": [2]}),
              "a very long sheet name that Excel would refuse": pd.DataFrame({"z": [3]})}
    path = write_tables(tmp_path / "t.xlsx", tables)
    names = openpyxl.load_workbook(path).sheetnames
    assert len(names) == 3 and all(len(n) <= 31 for n in names) and len(set(n.lower() for n in names)) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["t.xlsx"]  # no temporary file left behind


def test_forecast_notebooks_take_a_payments_table(tmp_path, capsys):
    """``-p payments FILE``: a missing file is named before a kernel starts; a bad row is named with its
    column when the notebook loads it; a good table comes back dated, per payment."""
    from o2c_sim.errors import UserError
    from o2c_sim.present import notebook_params

    for notebook in ("cash_forecast_report", "forecast_gap_analysis"):
        assert main(["report", notebook, "-p", "payments", str(tmp_path / "none.csv"), "--out", str(tmp_path)]) == 2
        assert "parameter 'payments': file not found" in capsys.readouterr().err
    ledger = pd.DataFrame({"invoice_id": ["A", "B"]})
    (tmp_path / "pay.csv").write_text("invoice_id,payment_date,amount\nB,2024-03-02,50\nA,2024-03-01,100\n"
                                      "A,2024-03-09,20\n", encoding="utf-8")
    got = notebook_params.load_payments(str(tmp_path / "pay.csv"), ledger)
    assert got["invoice_id"].tolist() == ["A", "B", "A"] and got["amount"].tolist() == [100.0, 50.0, 20.0]
    assert notebook_params.load_payments("", ledger) is None
    (tmp_path / "bad.csv").write_text("invoice_id,payment_date,amount\nZ,2024-03-02,50\n", encoding="utf-8")
    with pytest.raises(UserError, match="invoice_id"):
        notebook_params.load_payments(str(tmp_path / "bad.csv"), ledger)

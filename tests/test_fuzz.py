"""A standing fuzz suite: bad inputs of every kind get exit code 2, one paragraph naming the offending
field, row or flag, no traceback, and nothing in a pre-existing output folder changes.

Each case is a command line run in-process (``o2c_sim.cli.main``) against a fixed workspace: a tiny
valid scenario, a small valid ledger, and ``existing/`` — an output folder with a file in it that
every case must leave byte-for-byte unchanged. Plus a Hypothesis test that feeds random values into
every scenario field and asserts either a valid run or a clean exit 2.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from o2c_sim.cli import main
from o2c_sim.scenario import load_scenario

TINY = """\
extends: {base}
name: tiny
horizon_days: 30
warmup_days: 0
replications: 1
portfolio:
  accounts: 20
"""

LEDGER_HEADER = "invoice_id,customer_id,invoice_date,due_date,amount,paid_date,paid_amount,disputed,channel"
LEDGER_ROWS = [f"{i:05d},C{i % 3},2024-01-{1 + i:02d},2024-02-{1 + i:02d},{100 + i}.50,2024-02-{3 + i:02d},{100 + i}.50,no,paper"
               for i in range(8)]


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    base = Path(load_scenario.__globals__["__file__"]).resolve().parents[2] / "scenarios" / "baseline.yaml"
    (root / "tiny.yaml").write_text(TINY.format(base=base))
    (root / "ledger.csv").write_text("\n".join([LEDGER_HEADER, *LEDGER_ROWS]) + "\n")
    existing = root / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("earlier results")
    (existing / "metrics.json").write_text(json.dumps({"as_of": "2024-01-15", "freq": "W", "selected": "naive"}))
    (root / "notes.csv").write_text("my own notes\n")
    return root


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


# ------------------------------------------------------------------------------------- the cases
# (id, argv with {ws} for the workspace, text the message must contain)

SCENARIO_VALUES = [
    ("seed=-1", "seed"), ("seed=.nan", "seed"), ("seed=abc", "seed"), ("seed=1e30", "seed"),
    ("horizon_days=0", "horizon_days"), ("horizon_days=29", "horizon_days"), ("horizon_days=99999", "horizon_days"),
    ("horizon_days=.nan", "horizon_days"), ("horizon_days=abc", "horizon_days"), ("warmup_days=-1", "warmup_days"),
    ("warmup_days=5000", "warmup_days"), ("replications=0", "replications"), ("replications=1000000", "replications"),
    ("start_date=1500-01-01", "start_date"), ("start_date=2300-01-01", "start_date"),
    ("start_date=notadate", "start_date"), ("start_date=2024-02-30", "start_date"),
    ("portfolio.accounts=0", "portfolio.accounts"), ("portfolio.accounts=-5", "portfolio.accounts"),
    ("portfolio.accounts=10000000", "portfolio.accounts"), ("portfolio.accounts=.inf", "portfolio.accounts"),
    ("portfolio.segments.0.share=1.5", "share"), ("portfolio.segments.0.share=-0.1", "share"),
    ("portfolio.segments.0.share=.nan", "share"), ("portfolio.segments.0.terms_days=31", "terms_days"),
    ("portfolio.segments.0.invoices_per_month=0", "invoices_per_month"),
    ("portfolio.segments.0.invoices_per_month=1e6", "invoices_per_month"),
    ("portfolio.segments.0.invoices_per_month=.inf", "invoices_per_month"),
    ("portfolio.segments.0.amounts.median=0", "median"), ("portfolio.segments.0.amounts.median=-1", "median"),
    ("portfolio.segments.0.amounts.median=1e15", "median"), ("portfolio.segments.0.amounts.median=.nan", "median"),
    ("portfolio.segments.0.amounts.sigma=-1", "sigma"), ("portfolio.segments.0.amounts.sigma=100", "sigma"),
    ("portfolio.segments.0.behaviour.dispute_rate=2", "dispute_rate"),
    ("portfolio.segments.0.behaviour.rpc_rate=-0.1", "rpc_rate"),
    ("portfolio.segments.0.behaviour.hazard.frailty_variance=.nan", "frailty_variance"),
    ("portfolio.segments.0.behaviour.hazard.effects.contact.multiplier=0", "multiplier"),
    ("portfolio.segments.0.behaviour.hazard.daily.0=-1", "daily"),
    ("portfolio.segments.0.behaviour.hazard.daily.8=-.inf", "daily"),
    ("portfolio.segments.0.behaviour.hazard.bands.1=-99999", "bands"),
    ("portfolio.segments.0.dunning_steps=[{days_past_due: 10}, {days_past_due: 5}]", "dunning_steps"),
    ("portfolio.segments.0.dunning_steps=[{days_past_due: 99999}]", "dunning_steps"),
    ("dunning.steps=[{days_past_due: 10}, {days_past_due: 5}]", "dunning.steps"),
    ("dunning.steps.0.channel=fax", "channel"), ("portfolio.segments.0.behaviour.hazard.effects.notice.0.multiplier=1e9", "multiplier"),
    ("dunning.write_off_days=0", "write_off_days"), ("strategy.promise_grace_days=-1", "promise_grace_days"),
    ("portfolio.segments.0.behaviour.hazard.effects.promise.window_days=-3", "window_days"),
    ("calendar.weekmask=Funday", "weekmask"), ("calendar.weekmask=''", "weekmask"),
    ("calendar.weekmask=Mon Mon", "weekmask"), ("calendar.holidays=[notadate]", "holidays"),
    ("calendar.holidays=[1200-01-01]", "holidays"),
    ("team.collectors=-1", "team.collectors"), ("team.collectors=1e9", "team.collectors"),
    ("team.collectors=2.5", "team.collectors"), ("team.collectors=abc", "team.collectors"),
    ("team.hours_per_day=25", "hours_per_day"), ("team.hours_per_day=0", "hours_per_day"),
    ("team.shrinkage=1", "shrinkage"), ("team.dispute_analysts=99999", "dispute_analysts"),
    ("team.cost_per_fte=.inf", "cost_per_fte"), ("strategy.prioritisation=random", "prioritisation"),
    ("strategy.outcomes.promise_to_pay=0.9", "outcomes"), ("disputes.reasons.pricing=0.9", "reasons"),
    ("disputes.reasons.weather=0.1", "reasons"), ("payment_plans.instalments=1", "instalments"),
    ("payment_plans.instalments=100", "instalments"), ("finance.cost_of_capital=2", "cost_of_capital"),
    ("inbound.sla_minutes=0", "sla_minutes"), ("work.conversation=-4", "conversation"),
    ("name=''", "name"), ("currency=[1, 2]", "currency"),
]

OVERRIDE_SYNTAX = [
    ("team.colectors=+2", "'team.colectors': unknown key"), ("team.colectors=5", "colectors"),
    ("nosuch.section=1", "nosuch"), ("portfolio.segments.nosuch.share=0.5", "no item named 'nosuch'"),
    ("portfolio.segments.9.share=0.5", "index 9 is out of range"),
    ("dunning.steps.99.days_past_due=1", "index 99 is out of range"), ("team.collectors", "key=value"),
    ("=5", "key=value"), ("team..collectors=5", "empty part"), ("team.collectors.x=1", "cannot be looked up"),
    ("description=+2", "needs a number"), ("team=5", "team"),
    ("team.collectors=&a [*a, *a]", "team.collectors"),
]

BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8))

SCENARIO_FILES = [
    ("duplicate key", "name: a\nname: b\nportfolio: {segments: [{name: s, share: 1}]}\n", "duplicate key 'name'"),
    ("alias bomb", BOMB, "aliases"),
    ("malformed", "name: [unclosed\n", "malformed YAML"),
    ("top-level list", "- a\n- b\n", "mapping"),
    ("unknown key", "extends: {base}\nname: x\nteam: {colectors: 5}\n", "team.colectors"),
    ("missing portfolio", "name: x\n", "portfolio"),
    ("extends missing", "extends: nowhere.yaml\nname: x\n", "nowhere.yaml"),
    ("extends not text", "extends: [1]\nname: x\n", "extends"),
    ("empty", "", "mapping"),
    ("tab indentation", "name: x\nteam:\n\tcollectors: 5\n", "line 3"),
    ("nested too deeply", "a: " + "[" * 5000 + "]" * 5000 + "\n", "YAML"),
    ("recursive alias", "a: &a [*a]\n", "YAML"),
    ("seed is nan", "extends: {base}\nname: x\nseed: .nan\n", "seed"),
    ("segment cadence reversed", "extends: {base}\nname: x\nportfolio:\n  accounts: 20\n  segments:\n"
     "    - {name: s, share: 1, dunning_steps: [{days_past_due: 9}, {days_past_due: 3}]}\n", "dunning_steps"),
    ("shares do not sum", "extends: {base}\nname: x\nportfolio:\n  segments:\n    - {name: a, share: 0.5}\n"
     "    - {name: b, share: 0.2}\n", "sum to 1"),
    ("duplicate segment names", "extends: {base}\nname: x\nportfolio:\n  segments:\n    - {name: a, share: 0.5}\n"
     "    - {name: a, share: 0.5}\n", "unique"),
]

GOOD = LEDGER_ROWS[0].split(",")


def row(**change: str) -> str:
    cols = LEDGER_HEADER.split(",")
    values = dict(zip(cols, GOOD))
    values.update(change)
    return ",".join(values[c] for c in cols)


LEDGERS = [  # (id, file text, message) — read by validate; rows below the good ones are file row 10
    ("bad date", row(invoice_id="X1", invoice_date="2024-13-45"), "row 10, column 'invoice_date'"),
    ("bad amount", row(invoice_id="X1", amount="12.50 EUR"), "row 10, column 'amount'"),
    ("amount nan", row(invoice_id="X1", amount="nan"), "row 10, column 'amount'"),
    ("amount inf", row(invoice_id="X1", amount="inf"), "row 10, column 'amount'"),
    ("duplicate id", row(), "duplicate invoice id"),
    ("due before invoice", row(invoice_id="X1", due_date="2023-01-01"), "row 10, column 'due_date'"),
    ("paid more than amount", row(invoice_id="X1", paid_amount="9999"), "row 10, column 'paid_amount'"),
    ("negative paid on invoice", row(invoice_id="X1", paid_amount="-5"), "negative paid_amount on an invoice"),
    ("positive paid on credit note", row(invoice_id="X1", amount="-50", paid_amount="20"), "positive paid_amount"),
    ("unknown disputed", row(invoice_id="X1", disputed="maybe"), "row 10, column 'disputed'"),
    ("empty customer", row(invoice_id="X1", customer_id=""), "row 10, column 'customer_id'"),
    ("empty id", row(invoice_id=""), "row 10, column 'invoice_id'"),
    ("ragged", row(invoice_id="X1") + ",extra,values", "row 10"),
    ("formula id", row(invoice_id="=HYPERLINK(1)", amount="x"), "row 10, column 'amount'"),
    ("paid date garbage", row(invoice_id="X1", paid_date="yesterday"), "row 10, column 'paid_date'"),
    ("paid amount text", row(invoice_id="X1", paid_amount="paid"), "row 10, column 'paid_amount'"),
    ("amount 1e400", row(invoice_id="X1", amount="1e400"), "row 10, column 'amount'"),
]

WHOLE_FILES = [  # (id, bytes, message)
    ("missing columns", b"a,b,c\n1,2,3\n", "missing column"),
    ("empty file", b"", "empty"),
    ("header only", (LEDGER_HEADER + "\n").encode(), "no data rows"),
    ("latin-1", (LEDGER_HEADER + "\n" + row(customer_id="M\u00fcller")).encode("latin-1"), "encoding"),
    ("duplicate header", (LEDGER_HEADER + ",amount\n" + row() + ",1\n").encode(), "more than once"),
    ("two currencies", (LEDGER_HEADER + ",currency\n" + "\n".join(
        r + (",EUR" if i % 2 else ",USD") for i, r in enumerate(LEDGER_ROWS)) + "\n").encode(), "currencies"),
    ("ambiguous dates", (LEDGER_HEADER + "\n" + "\n".join(
        f"{i},C1,0{1 + i}/02/2024,0{1 + i}/03/2024,10,0{1 + i}/04/2024,10,no,paper" for i in range(5)) + "\n").encode(),
     "ambiguous"),
    ("semicolons no mapping", b"a;b;c\n1;2;3\n", "missing column"),
    ("binary junk", bytes(range(256)) * 4, "ledger"),
]

MAPPINGS = [  # (id, mapping YAML, message)
    ("unknown key", "colums: {invoice_id: x}\n", "field 'colums': unknown key"),
    ("bad sep", "sep: ab\n", "sep"),
    ("unknown encoding", "encoding: klingon\n", "encoding"),
    ("format without %", "date_format: dd/mm/yyyy\n", "date_format"),
    ("both formats", "date_format: '%d/%m/%Y'\ndate_formats: ['%Y-%m-%d']\n", "not both"),
    ("bare yes", "values: {disputed: {Yes: true}}\n", "quote it"),
    ("mapped column missing", "columns: {invoice_id: Belegnummer}\n", "'Belegnummer' (for invoice_id)"),
    ("unknown canonical", "columns: {invoice_number: x}\n", "unknown canonical column"),
    ("rates file missing", "currency: {column: channel, ledger: EUR, rates_file: nowhere.csv}\n", "FX table not found"),
    ("rate zero", "currency: {column: channel, ledger: EUR, rates: {USD: 0}}\n", "rates.USD"),
    ("decimal bad", "decimal: ';'\n", "decimal"),
    ("duplicate key", "sep: ','\nsep: ';'\n", "duplicate key 'sep'"),
    ("format does not fit", "date_format: '%d/%m/%Y'\n", "unparseable date"),
    ("not a mapping", "- a\n", "expected a mapping"),
    ("values not text", "values: {channel: {paper: 5}}\n", "values.channel"),
]

BOMB_FLOW = "{a: &a [x, x, x, x, x, x, x, x, x, x], " + ", ".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]" for i in range(8)) + "}"

CLI = [  # (id, argv, message)
    ("run -r 0", ["run", "{ws}/tiny.yaml", "-r", "0"], "--replications"),
    ("run -r huge", ["run", "{ws}/tiny.yaml", "-r", "1000000", "--out", "{ws}/new"], "replications"),
    ("run unknown scenario", ["run", "nosuch_scenario"], "nosuch_scenario"),
    ("run existing out", ["run", "{ws}/tiny.yaml", "--out", "{ws}/existing"], "already exists"),
    ("run ledger without as-of", ["run", "{ws}/tiny.yaml", "--ledger", "{ws}/ledger.csv"], "--as-of"),
    ("run bad as-of", ["run", "{ws}/tiny.yaml", "--ledger", "{ws}/ledger.csv", "--as-of", "someday"], "--as-of"),
    ("run as-of before ledger", ["run", "{ws}/tiny.yaml", "--ledger", "{ws}/ledger.csv", "--as-of", "2000-01-01"],
     "--as-of"),
    ("run quarantine onto notes", ["run", "{ws}/tiny.yaml", "--ledger", "{ws}/ledger.csv", "--as-of", "2024-01-05",
                                   "--quarantine", "{ws}/notes.csv"], "not an earlier quarantine file"),
    ("run bad flag", ["run", "{ws}/tiny.yaml", "--colour"], "unrecognized arguments"),
    ("run -r text", ["run", "{ws}/tiny.yaml", "-r", "many"], "invalid int"),
    ("forecast horizon 0", ["forecast", "{ws}/ledger.csv", "--as-of", "2024-01-07", "--horizon", "0",
                            "--out", "{ws}/fc"], "horizon"),
    ("forecast freq", ["forecast", "{ws}/ledger.csv", "--as-of", "2024-01-07", "--freq", "Q", "--out", "{ws}/fc"],
     "frequency"),
    ("forecast model", ["forecast", "{ws}/ledger.csv", "--as-of", "2024-01-07", "--models", "prophet",
                        "--out", "{ws}/fc"], "prophet"),
    ("forecast existing out", ["forecast", "{ws}/ledger.csv", "--as-of", "2024-01-07", "--out", "{ws}/existing"],
     "never overwritten"),
    ("forecast out is a file", ["forecast", "{ws}/ledger.csv", "--as-of", "2024-01-07", "--out", "{ws}/notes.csv"],
     "never overwritten"),
    ("forecast replications", ["forecast", "{ws}/ledger.csv", "--as-of", "2024-01-07", "--replications", "1",
                               "--out", "{ws}/fc"], "--replications"),
    ("forecast what-if typo", ["forecast", "{ws}/ledger.csv", "--as-of", "2024-01-07", "--what-if",
                               "team.colectors=+2", "--out", "{ws}/fc"], "'team.colectors': unknown key"),
    ("forecast quarantine onto input", ["forecast", "{ws}/ledger.csv", "--as-of", "2024-01-07", "--quarantine",
                                        "{ws}/ledger.csv", "--out", "{ws}/fc"], "overwrite the input"),
    ("forecast quarantine onto notes", ["forecast", "{ws}/ledger.csv", "--as-of", "2024-01-07", "--quarantine",
                                        "{ws}/notes.csv", "--out", "{ws}/fc"], "not an earlier quarantine file"),
    ("forecast missing ledger", ["forecast", "{ws}/nope.csv", "--as-of", "2024-01-07", "--out", "{ws}/fc"],
     "file not found"),
    ("gap reversed", ["gap", "{ws}/ledger.csv", "--forecast", "{ws}/existing", "--period", "2024-03-01..2024-02-01"],
     "not a forecast directory"),
    ("gap bad period", ["gap", "{ws}/ledger.csv", "--forecast", "{ws}/existing", "--period", "soon"],
     "not a forecast directory"),
    ("gap not a forecast", ["gap", "{ws}/ledger.csv", "--forecast", "{ws}", "--period", "2024-01-01..2024-01-31"],
     "not a forecast directory"),
    ("calibrate out not yaml", ["calibrate", "{ws}/ledger.csv", "--out", "{ws}/fit.txt"], ".yaml"),
    ("calibrate out exists", ["calibrate", "{ws}/ledger.csv", "--out", "{ws}/tiny.yaml"], "already exists"),
    ("calibrate clusters 0", ["calibrate", "{ws}/ledger.csv", "--out", "{ws}/fit.yaml", "--clusters", "0"],
     "--clusters"),
    ("calibrate report existing", ["calibrate", "{ws}/ledger.csv", "--out", "{ws}/fit.yaml", "--report",
                                   "{ws}/existing"], "already exists"),
    ("calibrate too little", ["calibrate", "{ws}/ledger.csv", "--out", "{ws}/fit.yaml"], "at least 30"),
    ("calibrate quarantine dir", ["calibrate", "{ws}/ledger.csv", "--out", "{ws}/fit.yaml", "--quarantine",
                                  "{ws}/existing"], "is a directory"),
    ("validate quarantine onto notes", ["validate", "{ws}/ledger.csv", "--quarantine", "{ws}/notes.csv"],
     "not an earlier quarantine file"),
    ("validate missing", ["validate", "{ws}/nope.csv"], "file not found"),
    ("validate directory", ["validate", "{ws}/existing"], "is a directory"),
    ("validate missing mapping", ["validate", "{ws}/ledger.csv", "--mapping", "{ws}/nope.yaml"], "file not found"),
    ("sweep -r huge", ["sweep", "{ws}/tiny.yaml", "--grid", "team.collectors=1,2", "-r", "1000000", "--out", "{ws}/sw"],
     "--replications must be at most 1,000"),
    ("recommend -r huge", ["recommend", "{ws}/tiny.yaml", "-t", "dso<=45", "--range", "team.collectors=1..3", "-r",
                           "5000"], "--replications must be at most 1,000"),
    ("forecast -r huge", ["forecast", "{ws}/ledger.csv", "--as-of", "2024-01-07", "--replications", "99999",
                          "--out", "{ws}/fc"], "--replications must be at most"),
    ("calibrate accounts huge", ["calibrate", "{ws}/ledger.csv", "--out", "{ws}/fit.yaml", "--accounts", "10000000"],
     "--accounts must be at most"),
    ("sweep no grid", ["sweep", "{ws}/tiny.yaml", "--out", "{ws}/sw"], "--grid"),
    ("sweep bad kpi", ["sweep", "{ws}/tiny.yaml", "--grid", "team.collectors=1,2", "--kpi", "happiness",
                       "--out", "{ws}/sw"], "happiness"),
    ("sweep workers 0", ["sweep", "{ws}/tiny.yaml", "--grid", "team.collectors=1,2", "--workers", "0",
                         "--out", "{ws}/sw"], "--workers"),
    ("sweep bad cell", ["sweep", "{ws}/tiny.yaml", "--grid", "team.collectors=1,-2", "--out", "{ws}/sw"],
     "team.collectors"),
    ("sweep grid twice", ["sweep", "{ws}/tiny.yaml", "--grid", "team.collectors=1,2", "--grid",
                          "team.collectors=3", "--out", "{ws}/sw"], "twice"),
    ("sweep grid typo", ["sweep", "{ws}/tiny.yaml", "--grid", "team.colectors=1,2", "--out", "{ws}/sw"],
     "colectors"),
    ("recommend confidence", ["recommend", "{ws}/tiny.yaml", "-t", "dso<=45", "--range", "team.collectors=1..3",
                              "--confidence", "1.5"], "--confidence"),
    ("recommend unknown kpi", ["recommend", "{ws}/tiny.yaml", "-t", "happiness<=3", "--range",
                               "team.collectors=1..3"], "happiness"),
    ("recommend bad operator", ["recommend", "{ws}/tiny.yaml", "-t", "dso==45", "--range", "team.collectors=1..3"],
     "=="),
    ("recommend reversed range", ["recommend", "{ws}/tiny.yaml", "-t", "dso<=45", "--range", "team.collectors=5..1"],
     "team.collectors"),
    ("recommend range typo", ["recommend", "{ws}/tiny.yaml", "-t", "dso<=45", "--range", "team.colectors=1..3"],
     "colectors"),
    ("report unknown notebook", ["report", "no_such_notebook"], "no_such_notebook"),
    ("dashboard port 0", ["dashboard", "--port", "0"], "--port"),
    ("dashboard port huge", ["dashboard", "--port", "70000"], "--port"),
    ("report replications 0", ["report", "run_scenario", "-p", "replications", "0", "--out", "{ws}/existing"],
     "replications"),
    ("report override typo", ["report", "run_scenario", "-p", "overrides", "{team.colectors: 2}", "--out",
                              "{ws}/existing"], "colectors"),
    ("report unknown parameter", ["report", "run_scenario", "-p", "bogus", "1", "--out", "{ws}/existing"], "bogus"),
    ("report missing scenario", ["report", "run_scenario", "-p", "scenario", "nosuch", "--out", "{ws}/existing"],
     "nosuch"),
    ("report negative seed", ["report", "run_scenario", "-p", "seed", "-5", "--out", "{ws}/existing"], "seed"),
    ("report alias bomb", ["report", "run_scenario", "-p", "overrides", BOMB_FLOW, "--out", "{ws}/existing"],
     "aliases"),
    ("report timeout 0", ["report", "run_scenario", "--timeout", "0", "--out", "{ws}/existing"], "--timeout"),
    ("dashboard short token", ["dashboard", "--no-browser", "--port", "18891", "--token", "abc"], "--token"),
    ("dashboard token with space", ["dashboard", "--no-browser", "--port", "18891", "--token", "a" * 10 + " " + "b" * 10],
     "--token"),
    ("dashboard allow-dir missing", ["dashboard", "--no-browser", "--port", "18891", "--allow-dir", "{ws}/nope"],
     "--allow-dir"),
    ("unknown command", ["simulate"], "invalid choice"),
    ("no command", [], "required"),
]

CASES = (
    [pytest.param(["run", "{ws}/tiny.yaml", "--set", kv, "--out", "{ws}/new"], msg, id=f"set {kv}")
     for kv, msg in SCENARIO_VALUES + OVERRIDE_SYNTAX]
    + [pytest.param(["forecast", "{ws}/ledger.csv", "--as-of", "2024-01-07", "--what-if", kv, "--out", "{ws}/fc"],
                    msg, id=f"what-if {kv}") for kv, msg in OVERRIDE_SYNTAX[:6]]
    + [pytest.param(argv, msg, id=name) for name, argv, msg in CLI]
)


def check_clean_exit(argv: list[str], message: str, ws: Path, capsys) -> str:
    before = snapshot(ws / "existing"), (ws / "notes.csv").read_bytes(), (ws / "ledger.csv").read_bytes()
    code = main([a.replace("{ws}", str(ws)) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, (code, err)
    assert "Traceback" not in err and err.startswith("o2c-sim: error:") and err.count("\no2c-sim") == 0
    assert message in err, err
    assert (snapshot(ws / "existing"), (ws / "notes.csv").read_bytes(), (ws / "ledger.csv").read_bytes()) == before
    for made in ("new", "fc", "sw", "fit.yaml", "fit.txt"):
        assert not (ws / made).exists(), made
    return err


@pytest.mark.parametrize("argv, message", CASES)
def test_bad_command_line(ws, capsys, argv, message):
    check_clean_exit(argv, message, ws, capsys)


@pytest.mark.parametrize("name, text, message", SCENARIO_FILES, ids=[c[0] for c in SCENARIO_FILES])
def test_bad_scenario_file(ws, tmp_path, capsys, name, text, message):
    base = ws / "tiny.yaml"
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace("{base}", str(base)))
    err = check_clean_exit(["run", str(path), "--out", "{ws}/new"], message, ws, capsys)
    assert str(path) in err or "extends" in text or "nowhere" in message


def test_non_utf8_scenario(ws, tmp_path, capsys):
    path = tmp_path / "latin.yaml"
    path.write_bytes("name: M\u00fcller\n".encode("latin-1"))
    check_clean_exit(["run", str(path)], "is not UTF-8 text", ws, capsys)


@pytest.mark.parametrize("name, line, message", LEDGERS, ids=[c[0] for c in LEDGERS])
def test_bad_ledger_row(ws, tmp_path, capsys, name, line, message):
    path = tmp_path / "ledger.csv"
    path.write_text("\n".join([LEDGER_HEADER, *LEDGER_ROWS, line]) + "\n")
    err = check_clean_exit(["validate", str(path)], message, ws, capsys)
    assert str(path) in err


@pytest.mark.parametrize("name, data, message", WHOLE_FILES, ids=[c[0] for c in WHOLE_FILES])
def test_bad_ledger_file(ws, tmp_path, capsys, name, data, message):
    path = tmp_path / "ledger.csv"
    path.write_bytes(data)
    err = check_clean_exit(["validate", str(path)], message, ws, capsys)
    assert str(path) in err


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet"])
def test_corrupt_binary_ledger(ws, tmp_path, capsys, suffix):
    path = tmp_path / f"ledger{suffix}"
    path.write_bytes(b"PK\x03\x04 not really a workbook" * 10)
    check_clean_exit(["validate", str(path)], str(path), ws, capsys)


@pytest.mark.parametrize("name, text, message", MAPPINGS, ids=[c[0] for c in MAPPINGS])
def test_bad_mapping(ws, tmp_path, capsys, name, text, message):
    mapping = tmp_path / "m.yaml"
    mapping.write_text(text)
    check_clean_exit(["validate", "{ws}/ledger.csv", "--mapping", str(mapping)], message, ws, capsys)


def test_reversed_gap_period(ws, tmp_path, capsys):
    folder = tmp_path / "fc"
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps({"as_of": "2024-01-07", "freq": "W", "selected": "naive"}))
    pd.DataFrame({"period_start": pd.to_datetime(["2024-01-08"]), "model": ["naive"], "mean": [1.0]}).to_parquet(
        folder / "forecast.parquet")
    pd.DataFrame({"invoice_id": ["1"], "period_start": pd.to_datetime(["2024-01-08"]), "expected": [1.0]}).to_parquet(
        folder / "forecast_items.parquet")
    before = snapshot(folder)
    check_clean_exit(["gap", "{ws}/ledger.csv", "--forecast", str(folder), "--period", "2024-03-01..2024-02-01"],
                     "is reversed", ws, capsys)
    assert snapshot(folder) == before


def test_the_suite_is_large_enough():
    n = (len(CASES) + len(SCENARIO_FILES) + 1 + len(LEDGERS) + len(WHOLE_FILES) + 2 + len(MAPPINGS) + 1)
    assert n >= 150, n


# ----------------------------------------------------------------------------- random scenario fields


def _leaves(data, prefix=""):
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _leaves(v, f"{prefix}{k}.")
    elif isinstance(data, list) and data and all(isinstance(x, dict) for x in data):
        for i, x in enumerate(data):
            yield from _leaves(x, f"{prefix}{i}.")
    else:
        yield prefix[:-1]


FIELDS = sorted(set(_leaves(load_scenario("baseline").model_dump(mode="json"))) - {"name", "description"})
VALUES = st.one_of(
    st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
    st.text(max_size=12), st.sampled_from(["+1", "-1", "+1e9", "2024-01-01", "9999-12-31", "[]", "{}", "Mon"]),
    st.floats(0, 1), st.integers(0, 100),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), value=VALUES)
def test_random_scenario_values_run_or_exit_2(ws, capsys, tmp_path_factory, field, value):
    out = tmp_path_factory.mktemp("h") / "run"
    text = value if isinstance(value, str) else json.dumps(value, allow_nan=True).replace("NaN", ".nan").replace(
        "-Infinity", "-.inf").replace("Infinity", ".inf")
    code = main(["run", str(ws / "tiny.yaml"), "--set", f"{field}={text}", "-q", "--out", str(out)])
    err = capsys.readouterr().err
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        assert not out.exists()
        assert field.split(".")[-1] in err or "override" in err, err
    else:
        assert (out / "kpis.json").exists()


# ------------------------------------------------------------------------------------ formula injection

EVIL = ["=HYPERLINK(\"http://x\",\"y\")", "@SUM(1)", "+1+1", "-2+3", "\tcmd", "=cmd|' /C calc'!A0"]


def test_every_csv_and_xlsx_writer_neutralises_formulas(tmp_path, capsys):
    """Quarantine CSV, gap CSVs and report workbooks: no text cell Excel would evaluate."""
    import openpyxl

    from o2c_sim.data.excel import formula_safe, looks_like_formula, write_tables

    assert formula_safe("\r=1") == "'\r=1" and formula_safe("-5.00") == "-5.00" and formula_safe(3) == 3

    ids = [f"I{i}" for i in range(len(EVIL))]
    ledger = pd.DataFrame({"invoice_id": ids + ["LAST"], "customer_id": EVIL + ["C"],
                           "invoice_date": ["2024-01-02"] * len(EVIL) + ["2024-01-20"],
                           "due_date": ["2024-01-31"] * (len(EVIL) + 1), "amount": [100.0] * (len(EVIL) + 1),
                           "paid_date": ["2024-01-10"] * len(EVIL) + [""], "paid_amount": [100.0] * len(EVIL) + [0.0]})
    src = tmp_path / "ledger.csv"
    ledger.to_csv(src, index=False)
    # 1. quarantine: the same rows with a bad amount
    bad = ledger.assign(amount=["=1+1"] * (len(ledger) - 1) + ["5"])
    bad_src = tmp_path / "bad.csv"
    bad.to_csv(bad_src, index=False)
    assert main(["validate", str(bad_src), "--quarantine", str(tmp_path / "q.csv")]) == 0
    # 2. gap: a stored forecast for those invoices
    fc = tmp_path / "fc"
    fc.mkdir()
    (fc / "metrics.json").write_text(json.dumps({"as_of": "2024-01-07", "freq": "W", "selected": "naive"}))
    week = pd.Timestamp("2024-01-08")
    pd.DataFrame({"period_start": [week], "model": ["naive"], "mean": [500.0]}).to_parquet(fc / "forecast.parquet")
    pd.DataFrame({"invoice_id": ids, "period_start": [week] * len(ids), "expected": [80.0] * len(ids)}).to_parquet(
        fc / "forecast_items.parquet")
    assert main(["gap", str(src), "--forecast", str(fc), "--period", "2024-01-08..2024-01-14"]) == 0, capsys.readouterr().err
    csvs = [tmp_path / "q.csv", *sorted((fc / "gap_2024-01-08_2024-01-14").glob("*.csv"))]
    assert len(csvs) == 3
    for path in csvs:
        cells = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
        values = [*cells.columns, *cells.to_numpy().ravel()]
        assert not [v for v in values if looks_like_formula(v)], path
        assert any(str(v).startswith("'=HYPERLINK") for v in values), path  # the text kept, shown as text
    # 3. report workbooks
    book = write_tables(tmp_path / "t.xlsx", {"gap": pd.read_csv(csvs[1], dtype=str), "evil": pd.DataFrame({"x": EVIL})})
    wb = openpyxl.load_workbook(book)
    assert all(c.data_type != "f" for ws in wb.worksheets for r in ws.iter_rows() for c in r)


# ------------------------------------------------------------------------------------ dashboard


def test_dashboard_token_off_loopback_and_allowed_folders(ws, monkeypatch):
    from o2c_sim.cli.dashboard import access_token, voila_command
    from o2c_sim.present.dashboard import load_history
    from o2c_sim.errors import UserError
    from o2c_sim.data.importer import ALLOWED_DIRS_ENV

    assert access_token("127.0.0.1", None) is None
    token = access_token("0.0.0.0", None)
    assert len(token) >= 16 and token != access_token("0.0.0.0", None)
    assert f"--Voila.token={token}" in voila_command(ws, 9999, open_browser=False, ip="0.0.0.0", token=token)
    assert not any("token" in a for a in voila_command(ws, 9999, open_browser=False))
    monkeypatch.setenv(ALLOWED_DIRS_ENV, str(ws))
    assert len(load_history("file", str(ws / "ledger.csv"))) == 8
    with pytest.raises(UserError, match="missing column"):  # a shipped mapping is always readable
        load_history("file", str(ws / "ledger.csv"), "ibm_ar")
    secret = ws.parent / "secret.csv"
    secret.write_text("password,hunter2\n")
    for path in (secret, ws / ".." / "secret.csv", "/etc/passwd"):
        with pytest.raises(UserError, match="outside the folders") as err:
            load_history("file", str(path))
        assert "hunter2" not in str(err.value) and ":0:0:" not in str(err.value)
    with pytest.raises(UserError, match="mapping path"):
        load_history("file", str(ws / "ledger.csv"), str(secret))


# ------------------------------------------------------------------------------------ small holes


def test_monthly_trend_of_a_short_scenario_says_what_cannot_be_shown(ws):
    from o2c_sim.experiments.replications import run_replications
    from o2c_sim.present.figures.simulation import kpi_trend

    sc = load_scenario(ws / "tiny.yaml", ["horizon_days=30", "warmup_days=0"])
    monthly = run_replications(sc, 1, progress=False).stacked("monthly")
    fig = kpi_trend(monthly, ["dso", "bpdso", "cei"])  # a report on any valid scenario renders
    assert fig.data == () or all(len(t.x) for t in fig.data)
    if fig.data == ():
        assert "No complete month" in fig.layout.annotations[0].text


def test_recommend_on_an_undefined_kpi_says_so():
    import numpy as np

    from o2c_sim.experiments.staffing import Recommendation, parse_target

    table = pd.DataFrame({"headcount": [1, 2], "kpi_mean": [np.nan, np.nan], "bound": [np.nan, np.nan],
                          "share_meeting": [np.nan, np.nan], "meets": [False, False], "n": [2, 2]})
    text = Recommendation(parse_target("ptp_kept_rate>=80"), 0.9, "mean_bound", "team.collectors", None, table,
                          None).text()
    assert "undefined" in text and "Widen" not in text


def test_a_closed_pipe_ends_quietly(ws, monkeypatch, capsys):
    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

    monkeypatch.setattr("sys.stdout", ClosedPipe())
    assert main(["validate", str(ws / "ledger.csv")]) == 141  # as a shell reports SIGPIPE; no message
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("name", ["../../etc/evil", "/abs/path", "x" * 5000, "..", "a/b\\c:d*e", "\u00e9t\u00e9 2026"])
def test_run_directory_never_leaves_its_parent(tmp_path, name):
    from o2c_sim.data.rundir import default_run_dir

    path = default_run_dir(name, tmp_path)
    assert path.parent == tmp_path and len(path.name) <= 120 and "/" not in path.name and not path.name.startswith(".")

"""``o2c-sim report NOTEBOOK [-p NAME VALUE]... [-f params.yaml] [--out DIR] [--xlsx]``: run a notebook
with papermill and render a self-contained HTML report into a dated folder.

Writes OUT/NOTEBOOK/YYYY-MM-DD/ (HTML with the code hidden and interactive plotly figures that work
offline, the executed notebook, parameters.yaml and, with --xlsx, the report's tables as a workbook)
and points OUT/NOTEBOOK/latest at it. Bad parameters fail before anything runs (exit 2). If the
notebook fails, the failed notebook is kept next to the dated folders, the last good report is left
untouched, and the exit code is 1.

Examples:
  o2c-sim report run_scenario -p scenario baseline -p replications 10 -p overrides "{team.collectors: 8}"
  o2c-sim report staffing_sweep -p collectors 4..10 -p target 45 --xlsx
  o2c-sim report cash_forecast_report -f monday.yaml --out /srv/reports
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from o2c_sim.errors import UserError
from o2c_sim.scenario import safe_load_text


def register(sub) -> None:
    p = sub.add_parser("report", help="run a notebook and render a dated, self-contained HTML report",
                       description=__doc__.replace("``", ""), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("notebook", metavar="NOTEBOOK", nargs="?",
                   help="a notebook in notebooks/ by name (e.g. run_scenario) or a path to a .ipynb file")
    p.add_argument("-p", "--parameter", dest="parameters", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="set a notebook parameter; VALUE is read as YAML (8, [4, 6], {team.collectors: 8}) (repeatable)")
    p.add_argument("-f", "--parameters-file", dest="parameters_file", type=Path, metavar="PARAMS.yaml",
                   help="YAML mapping of parameters (-p values take precedence)")
    p.add_argument("--out", "-o", type=Path, default=Path("reports"), help="reports root folder (default: reports)")
    p.add_argument("--xlsx", action="store_true", help="also write the report's tables to NOTEBOOK.xlsx")
    p.add_argument("--date", help="date of the report folder, YYYY-MM-DD (default: today)")
    p.add_argument("--kernel", help="Jupyter kernel name (default: the notebook's)")
    p.add_argument("--timeout", type=int, help="seconds a cell may run before the report fails")
    p.add_argument("--list", action="store_true", help="list the notebooks and their parameters, then exit")
    p.set_defaults(func=main)


def _parse_value(text: str):
    try:
        return safe_load_text(text) if text.strip() else ""  # duplicate keys, alias bombs refused
    except yaml.YAMLError:
        return text


def collect_parameters(args) -> dict:
    params: dict = {}
    if args.parameters_file is not None:
        from o2c_sim.scenario import read_yaml

        if not args.parameters_file.exists():
            raise UserError("file not found; expected a YAML file of the notebook's parameters, e.g. examples/monday.yaml "
                            "('o2c-sim report --list' names them)", source=str(args.parameters_file))
        data = read_yaml(args.parameters_file)
        if data is None:
            data = {}
        if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
            raise UserError("expected a YAML mapping of parameter names to values", source=str(args.parameters_file))
        params.update(data)
    for name, value in args.parameters:
        # scenario and path-like parameters stay text even when they look like numbers or booleans
        params[name] = value if name in ("scenario", "history", "mapping") else _parse_value(value)
    return params


def list_notebooks() -> str:
    from o2c_sim.present.notebook_params import PARAMETERS
    from o2c_sim.present.report import NOTEBOOKS_DIR, notebook_defaults

    lines = []
    for path in sorted(NOTEBOOKS_DIR.glob("*.ipynb")):
        lines.append(path.stem)
        for name, default in notebook_defaults(path).items():
            spec = PARAMETERS.get(name)
            lines.append(f"  -p {name:<14} default {default!r}" + (f" — {spec.help}" if spec else ""))
    return "\n".join(lines) or f"no notebooks in {NOTEBOOKS_DIR}"


def main(args) -> int:
    from o2c_sim.present.report import run_report

    if args.list:
        print(list_notebooks())
        return 0
    if not args.notebook:
        raise UserError("give a NOTEBOOK to run (see 'o2c-sim report --list')")
    date = None
    if args.date:
        import datetime as dt

        try:
            date = dt.date.fromisoformat(args.date)
        except ValueError:
            raise UserError(f"--date: expected YYYY-MM-DD, got {args.date!r}") from None
    if args.timeout is not None and args.timeout < 1:
        raise UserError(f"--timeout must be at least 1 second, got {args.timeout}")
    report = run_report(args.notebook, collect_parameters(args), out=args.out, xlsx=args.xlsx, date=date,
                        kernel_name=args.kernel, timeout=args.timeout)
    print(f"Report {report.notebook!r}: {report.figures} figure{'s' * (report.figures != 1)}")
    print(f"HTML:     {report.html}")
    print(f"Notebook: {report.executed}")
    if report.xlsx is not None:
        print(f"Excel:    {report.xlsx}")
    return 0

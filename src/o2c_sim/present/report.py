"""Reports: run a notebook of ``notebooks/`` with papermill and render it to a self-contained HTML
file (DESIGN §9), as ``o2c-sim report`` does from a terminal, cron or Airflow.

Layout of the output (``out`` defaults to ``reports``)::

    reports/<notebook>/<YYYY-MM-DD>/<notebook>.html      the report: code hidden, plotly figures interactive
                                   /<notebook>.ipynb     the executed notebook (outputs kept)
                                   /<notebook>.xlsx      the report's tables, with --xlsx
                                   /parameters.yaml      the parameters it ran with
    reports/<notebook>/latest -> <YYYY-MM-DD>            the last good report
    reports/<notebook>/<YYYY-MM-DD>-<HHMMSS>.FAILED.ipynb   a failed run's notebook, with the error

A report is executed in a hidden temporary folder beside the dated folders and renamed into place only
when the notebook ran and rendered, so a failure never touches the last good report, and an earlier
report of the same day is never overwritten (the new one goes to ``<YYYY-MM-DD>_2``, ``_3`` …).

The HTML holds plotly.js once, inline, and loads nothing from the network (no require.js, no
MathJax): it works offline and can be mailed as one file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from o2c_sim.errors import UserError
from o2c_sim.data.rundir import atomic_write_text, publish_dir
from o2c_sim.present.notebook_params import NOTEBOOKS, absolute_paths, defaults_from_source, validate
from o2c_sim.settings import NOTEBOOKS_DIR

PLOTLY_MIMETYPE = "application/vnd.plotly.v1+json"

_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}
<script type="text/javascript">{{ resources.plotly_js }}</script>
<style type="text/css">
  body.jp-Notebook { max-width: 1200px; margin: 0 auto; }
  .o2c-report-footer { color: #666; font-size: 12px; margin: 2em 0 1em 0; }
</style>
{%- endblock html_head_css -%}
{% block body_footer %}
<p class="o2c-report-footer">{{ resources.report_footer }}</p>
</main>
</body>
{% endblock body_footer %}
"""


class ReportFailed(UserError):
    """The notebook raised an error (exit code 1); the failed notebook was kept."""

    exit_code = 1


@dataclass
class Report:
    """Where a report was written."""

    notebook: str
    directory: Path
    html: Path
    executed: Path
    xlsx: Path | None
    figures: int
    parameters: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ notebooks


#: kernel arguments: nothing but critical failures on the kernel's stderr, so a report does not print ipykernel's
#: start-up notes (e.g. "Kernel is running over TCP without encryption", which concerns remote
#: kernels; papermill's kernel listens on 127.0.0.1 only)
QUIET_KERNEL = ["--IPKernelApp.log_level=CRITICAL"]


def resolve_notebook(name: str | os.PathLike) -> Path:
    """A notebook path from a path or a name in ``notebooks/`` (``run_scenario``, ``run_scenario.ipynb``)."""
    p = Path(name)
    if p.suffix == ".ipynb" and p.exists():
        return p
    for candidate in (NOTEBOOKS_DIR / p.name, NOTEBOOKS_DIR / f"{p.name}.ipynb"):
        if candidate.suffix == ".ipynb" and candidate.exists():
            return candidate
    available = ", ".join(sorted(q.stem for q in NOTEBOOKS_DIR.glob("*.ipynb"))) or "(none)"
    raise UserError(f"notebook not found; expected a .ipynb file or one of: {available}", source=str(name))


def read_notebook(path: Path):
    import nbformat

    try:
        return nbformat.read(str(path), as_version=4)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the notebook: {exc}", source=str(path)) from None


def parameters_cell(nb) -> Any | None:
    return next((c for c in nb.cells if c.cell_type == "code" and "parameters" in c.get("metadata", {}).get("tags", [])), None)


def notebook_defaults(path: Path) -> dict[str, Any]:
    """The notebook's parameters and default values, from its cell tagged ``parameters``."""
    nb = read_notebook(path)
    cell = parameters_cell(nb)
    if cell is None:
        raise UserError("has no cell tagged 'parameters'; papermill needs one to pass parameters", source=str(path))
    return defaults_from_source(cell.source)


def check_parameters(path: Path, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``parameters`` before any kernel starts; returns them with file paths made absolute.

    Unknown names, wrong types, a missing scenario file or a bad override key raise :class:`UserError`.
    """
    defaults = notebook_defaults(path)
    known = NOTEBOOKS.get(path.stem, tuple(defaults))
    unknown = [k for k in parameters if k not in known]
    if unknown:
        raise UserError(f"unknown parameter(s) {', '.join(map(repr, unknown))} for notebook {path.stem!r}; "
                        f"it accepts {', '.join(known)}")
    parameters = absolute_paths(parameters)
    validate(path.stem, {**defaults, **parameters}, known=known)
    return parameters


# ------------------------------------------------------------------------------------------ rendering


def count_figures(nb) -> int:
    """Number of plotly figures among the notebook's outputs."""
    return sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if PLOTLY_MIMETYPE in o.get("data", {}))


def _figures_to_html(nb):
    """Each plotly JSON output → a text/html div drawn by the page's inline plotly.js (no CDN, no MathJax)."""
    import plotly.io as pio

    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if PLOTLY_MIMETYPE in data:
                spec = data[PLOTLY_MIMETYPE]
                fig = json.loads(spec) if isinstance(spec, str) else spec
                data["text/html"] = pio.to_html(fig, include_plotlyjs=False, include_mathjax=False, full_html=False,
                                                default_width="100%", default_height=520, validate=False,
                                                config={"responsive": True, "displaylogo": False})
                del data[PLOTLY_MIMETYPE]
                data.pop("text/plain", None)
    return nb


def render_html(nb, title: str, footer: str = "") -> str:
    """The executed notebook as one self-contained HTML page with the code hidden (``--no-input``)."""
    import copy

    import jinja2
    from nbconvert import HTMLExporter
    from plotly.offline import get_plotlyjs

    nb = _figures_to_html(copy.deepcopy(nb))
    nb.metadata["title"] = title
    exporter = HTMLExporter(extra_loaders=[jinja2.DictLoader({"o2c_report.html.j2": _TEMPLATE})],
                            template_file="o2c_report.html.j2", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb, resources={"plotly_js": get_plotlyjs(), "report_footer": footer})
    return body


def render_file(executed: str | os.PathLike, html: str | os.PathLike | None = None) -> Path:
    """Render an executed notebook (e.g. one written by Airflow's ``PapermillOperator``) to a
    self-contained HTML report beside it (or at ``html``); written atomically. Returns the HTML path."""
    executed = Path(executed)
    html = Path(html) if html is not None else executed.with_suffix(".html")
    body = render_html(read_notebook(executed), title=executed.stem.replace("_", " "),
                       footer=f"{executed.name} · rendered {dt.datetime.now():%Y-%m-%d %H:%M}")
    return atomic_write_text(html, body)


# ------------------------------------------------------------------------------------------- running


def _dated_target(root: Path, date: str) -> Path:
    target, i = root / date, 2
    while target.exists():
        target, i = root / f"{date}_{i}", i + 1
    return target


def _point_latest(root: Path, target: Path) -> None:
    link = root / "latest"
    if link.exists() and not link.is_symlink():
        return  # something the user put there; leave it
    tmp = root / f".latest.{os.getpid()}"
    try:
        tmp.unlink(missing_ok=True)
        os.symlink(target.name, tmp)
        os.replace(tmp, link)
    except OSError:
        tmp.unlink(missing_ok=True)


def _failure_message(exc, kept: Path, last_good: Path | None) -> str:
    ename, evalue = getattr(exc, "ename", type(exc).__name__), getattr(exc, "evalue", str(exc))
    where = f" in cell {exc.exec_count}" if getattr(exc, "exec_count", None) else ""
    good = f"; the last good report is untouched ({last_good})" if last_good else ""
    return f"the notebook failed{where}: {ename}: {evalue}. The failed notebook is kept at {kept}{good}"


def run_report(notebook: str | os.PathLike, parameters: Mapping[str, Any] | None = None, *,
               out: str | os.PathLike = "reports", xlsx: bool = False, date: dt.date | str | None = None,
               kernel_name: str | None = None, timeout: int | None = None) -> Report:
    """Execute ``notebook`` with ``parameters`` and write the dated report folder (module docstring).

    Raises :class:`UserError` (exit 2) for bad parameters — before anything runs — and
    :class:`ReportFailed` (exit 1) when the notebook raises; the failed notebook is kept beside the
    dated folders and nothing already written is touched.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    path = resolve_notebook(notebook)
    stem = path.stem
    params = check_parameters(path, dict(parameters or {}))
    if xlsx:
        params["xlsx"] = f"{stem}.xlsx"
    day = (dt.date.fromisoformat(date) if isinstance(date, str) else date) or dt.date.today()
    root = Path(out) / stem
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{day.isoformat()}.", suffix=".partial", dir=root))
    except OSError as exc:
        raise UserError(f"cannot create the report folder: {exc.strerror or exc}", source=str(root)) from None
    last_good = (root / "latest").resolve() if (root / "latest").exists() else None
    executed = tmp / f"{stem}.ipynb"
    started = dt.datetime.now()
    try:
        try:
            pm.execute_notebook(str(path), str(executed), parameters=_literal(params), cwd=str(tmp),
                                kernel_name=kernel_name, progress_bar=False, log_output=False,
                                request_save_on_cell_execute=False, execution_timeout=timeout,
                                extra_arguments=QUIET_KERNEL)
        except PapermillExecutionError as exc:
            kept = root / f"{day.isoformat()}-{started:%H%M%S}.FAILED.ipynb"
            if executed.exists():
                os.replace(executed, kept)
            else:
                shutil.copyfile(path, kept)
            if exc.ename == "UserError":
                raise UserError(f"{exc.evalue} (failed notebook kept at {kept})") from None
            raise ReportFailed(_failure_message(exc, kept, last_good)) from None
        nb = read_notebook(executed)
        footer = (f"{stem} · run {started:%Y-%m-%d %H:%M} · parameters: "
                  + (", ".join(f"{k}={v!r}" for k, v in params.items()) or "defaults"))
        html = tmp / f"{stem}.html"
        html.write_text(render_html(nb, title=f"{stem.replace('_', ' ')} — {day.isoformat()}", footer=footer),
                        encoding="utf-8")
        (tmp / "parameters.yaml").write_text(yaml.safe_dump(_literal(params), sort_keys=False, allow_unicode=True),
                                             encoding="utf-8")
        target = _dated_target(root, day.isoformat())
        publish_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _point_latest(root, target)
    book = target / f"{stem}.xlsx"
    return Report(stem, target, target / html.name, target / executed.name, book if book.exists() else None,
                  count_figures(nb), params)


def _literal(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as plain literals papermill can write into a cell (dates as ISO text)."""
    out = {}
    for k, v in params.items():
        if isinstance(v, (dt.date, dt.datetime)):
            v = v.isoformat()
        out[k] = v
    return out

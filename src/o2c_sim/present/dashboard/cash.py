"""The cash-forecast dashboard: a history, a 13-week forecast with its back-test, and what-ifs."""

from __future__ import annotations

import hashlib
import html
import math
import multiprocessing
import os
import threading
import time
from typing import Any, Callable, Iterable

from o2c_sim.errors import UserError
from o2c_sim.present.dashboard.runner import _worker_init
from o2c_sim.present.dashboard.staffing import query_params
from o2c_sim.present.dashboard.summary import STYLE, _attr, plotly_output

#: models back-tested by default in the cash-forecast dashboard (about 20 s on the IBM sample); the
#: slow ones (ets, sarimax, unobserved_components, invoice_cox) can be added with the model picker, and
#: the simulation model is what the what-if panel runs
DEFAULT_FORECAST_MODELS = ("naive", "seasonal_naive", "moving_average", "ses", "invoice_km")
FORECAST_HORIZON = 13
WHAT_IF_REPLICATIONS = 10
SIMULATED_HISTORY_SCENARIO = "baseline"
HISTORY_LABELS = {"ibm": "IBM AR sample", "simulated": f"Simulated from the {SIMULATED_HISTORY_SCENARIO} scenario",
                  "file": "Another file…"}


def _job_main(conn, fn: Callable, args: tuple, parent_pid: int) -> None:
    """Body of a :class:`ProcessJob`: run ``fn(*args)`` and send ``(ok, value or message)`` back."""
    _worker_init(parent_pid)
    try:
        conn.send((True, fn(*args)))
    except UserError as err:
        conn.send((False, str(err)))
    except Exception as exc:  # noqa: BLE001 — reported in the page as one line
        conn.send((False, f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


class ProcessJob:
    """One long computation in its own (spawned) process, so the kernel stays responsive and a
    superseded job can be stopped at once. ``on_done(ok, value)`` is called from a waiter thread,
    unless the job was cancelled."""

    def __init__(self, fn: Callable, *args, on_done: Callable[[bool, Any], None]):
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_job_main, args=(child, fn, args, os.getpid()), daemon=True)
        self.started = time.monotonic()
        self.cancelled = False
        self.on_done = on_done
        self.process.start()
        child.close()
        threading.Thread(target=self._wait, daemon=True, name="o2c-dashboard-job").start()

    def _wait(self) -> None:
        try:
            ok, value = self._conn.recv()
        except (EOFError, OSError):
            ok, value = False, "the worker process stopped before finishing (out of memory?)"
        self.process.join(timeout=10)
        if not self.cancelled:
            self.on_done(ok, value)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def cancel(self) -> None:
        self.cancelled = True
        if self.process.is_alive():
            self.process.terminate()


def simulated_history(scenario: str = SIMULATED_HISTORY_SCENARIO):
    """An invoice history simulated from a shipped scenario (one replication; DESIGN §6 fallback)."""
    from o2c_sim.scenario import load_scenario
    from o2c_sim.sim.model import simulate

    return simulate(load_scenario(scenario), 0).invoices


def load_history(source: str, path: str = "", mapping: str = ""):
    """The invoice table of a history source: ``"ibm"`` (the sample, with the ``ibm_ar`` mapping),
    ``"file"`` (``path`` with an optional ``mapping``) or ``"simulated"``."""
    from o2c_sim.data.importer import load_ledger
    from o2c_sim.settings import ibm_ar_csv

    if source == "ibm":
        csv = ibm_ar_csv()
        if not csv.exists():
            raise UserError(f"the IBM AR sample is not at {csv}; set O2C_SIM_DATA_DIR or choose the simulated history")
        return load_ledger(csv, "ibm_ar")
    if source == "file":
        if not path.strip():
            raise UserError("enter the path of a ledger file (.csv, .xlsx or .parquet)")
        from o2c_sim.data.importer import check_allowed, mapping_path

        ledger = check_allowed(path.strip())  # only the allowed folders, on a shared host too
        mapping = mapping.strip() or None
        return load_ledger(ledger, mapping and check_allowed(mapping_path(mapping), "mapping"))
    if source == "simulated":
        return simulated_history()
    raise UserError(f"unknown history source {source!r}; expected ibm, simulated or file")


def default_as_of(ledger) -> "Any":
    """A default as-of date: 13 weeks before the end of the history, so what happened can be compared."""
    import pandas as pd

    from o2c_sim.forecast.series import history_end

    end = history_end(ledger)
    first = pd.Timestamp(ledger["invoice_date"].min())
    return max(first + pd.Timedelta(weeks=26), end - pd.Timedelta(weeks=FORECAST_HORIZON)).date()


def run_forecast(ledger, as_of, models: tuple[str, ...]):
    """The forecast job (in a worker process): back-test, combine, select, forecast 13 weeks."""
    from o2c_sim.forecast import forecast_with_backtest

    return forecast_with_backtest(ledger, str(as_of), FORECAST_HORIZON, "W", list(models))


def run_what_if(ledger, as_of, delta: int, scenario_name: str | None, replications: int, log_path: str = "",
                log_mapping: str = ""):
    """The what-if job: simulated receipts with the team as it was and with ``delta`` collectors more, paired
    replications (:func:`o2c_sim.forecast.simulation.what_if`). With an activity log (``log_path``) the
    scenario is calibrated from it; from payment history alone the what-if is not answered (docs/model.md
    §9.6). Returns (frame or None, collectors, what the data could and could not identify)."""
    from o2c_sim.forecast import History
    from o2c_sim.forecast.simulation import what_if, what_if_basis
    from o2c_sim.scenario import load_scenario

    history = History(ledger, str(as_of), "W")
    scenario = load_scenario(scenario_name) if scenario_name else None
    log = None
    if log_path.strip():
        from o2c_sim.data.activities import load_activities
        from o2c_sim.data.importer import check_allowed

        mapping = log_mapping.strip() or None  # a shipped name, or a file inside the allowed folders
        if mapping and ("/" in mapping or mapping.endswith((".yaml", ".yml"))):
            mapping = check_allowed(mapping, "mapping")
        log = load_activities(check_allowed(log_path.strip(), "activity log"), mapping,
                              known_items=set(ledger["invoice_id"].astype(str)))
    basis = what_if_basis(history, scenario, activities=log)
    note = identification_note(basis)
    if not basis.effort_identified:
        return None, 0, note
    return what_if(history, FORECAST_HORIZON, {"team.collectors": f"{delta:+d}"}, replications=replications,
                   basis=basis), basis.scenario.team.collectors, note


def identification_note(basis) -> str:
    """What the history could and could not identify, from the scenario's provenance, for the what-if panel."""
    if not basis.effort_identified:
        return ("Payment history alone cannot answer a what-if on collectors: its payment delays already contain "
                "the reminders and calls they received, and an invoice table does not say which, so the "
                "calibrated scenario has collection switched off. Give the team's activity log (Activity log "
                "above) to estimate what each action does.")
    found = [f"{label} ×{value:.2f}" for label, value, where in basis.effect_sources() if where.startswith("estimated")]
    assumed = [label for label, _, where in basis.effect_sources() if not where.startswith("estimated")]
    who = ("the team as it was" if basis.source == "activity log" else "the scenario's team")
    text = f"Base case: {who}, {basis.scenario.team.collectors} collectors ({basis.headcount}). "
    text += (f"Estimated from the {basis.source}: {', '.join(found)}. " if found else
             f"Action effects are the {basis.source}'s stated values, not estimated from this history. ")
    if assumed and found:
        text += f"Not identified (assumed, the base scenario's values): {', '.join(assumed)}."
    return text


def forecast_table_html(result, key: str) -> str:
    """Per model: 13-week total, back-test WAPE/bias/80 % coverage at horizons 1–4 (for the selected model the
    honest score of choosing at each origin from earlier errors, :mod:`o2c_sim.forecast.honest`). DOM hooks
    ``#forecast-table[data-key]``, ``#fc-total-<model>``, ``#fc-wape-<model>`` (``data-value``)."""
    s = result.summary
    s = s[s["band"] == "1-4"].set_index("model")
    totals = result.forecast.groupby("model", sort=False)["mean"].sum()
    rows = []
    for model, total in totals.items():
        scored = "selected" if model == result.selected and "selected" in s.index else model  # its honest score
        m = s.loc[scored] if scored in s.index else None
        get = lambda c: float(m[c]) if m is not None and c in m and math.isfinite(float(m[c])) else math.nan  # noqa: E731
        wape, bias, cov = get("wape"), get("bias"), get("cov80")
        mark = ' <span class="o2c-better">selected</span>' if model == result.selected else ""
        rows.append(
            f'<tr data-model="{html.escape(model)}"><th scope="row">{html.escape(model)}{mark}</th>'
            f'<td id="fc-total-{html.escape(model)}" data-value="{_attr(float(total))}">{total:,.0f}</td>'
            f'<td id="fc-wape-{html.escape(model)}" data-value="{_attr(wape)}">{"…" if math.isnan(wape) else f"{wape:.3f}"}</td>'
            f'<td>{"…" if math.isnan(bias) else f"{bias:+.3f}"}</td><td>{"…" if math.isnan(cov) else f"{cov:.2f}"}</td></tr>')
    skipped = "".join(f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in result.skipped.items())
    return (f'<table id="forecast-table" class="o2c-kpis" data-key="{key}" data-selected="{html.escape(result.selected)}">'
            "<thead><tr><th>Model</th><th>Receipts, next 13 weeks</th><th>WAPE (h 1–4)</th><th>Bias</th>"
            "<th>80% coverage</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            + (f'<div class="o2c-note">Not used: <ul>{skipped}</ul></div>' if skipped else ""))


class CashForecast:
    """The cash-forecast dashboard: history and as-of date → 13-week fan chart per model, back-test
    accuracy, and the what-if with more or fewer collectors (simulation warm-started on the open items).

    Back-test/forecast and what-if run in their own processes; a newer request stops an older one.
    Results are cached per (history, as-of, models) and (history, as-of, collectors, replications).
    """

    def __init__(self, history: str | None = None, *, as_of: str | None = None,
                 models: Iterable[str] | None = None, what_if_delta: int = 2,
                 what_if_replications: int = WHAT_IF_REPLICATIONS):
        import ipywidgets as w

        from o2c_sim.forecast.registry import MODELS
        from o2c_sim.settings import ibm_ar_csv

        self._lock = threading.RLock()
        self._ledgers: dict[str, Any] = {}
        self._forecasts: dict[tuple, Any] = {}
        self._what_ifs: dict[tuple, Any] = {}
        self._errors: dict[tuple, str] = {}
        self._jobs: dict[str, tuple[tuple, ProcessJob]] = {}
        self._syncing = False
        self._closed = False
        self._fan_signature: Any = None
        self._what_if_signature: Any = None
        self.what_if_replications = what_if_replications
        self.last_traceback: str | None = None

        have_ibm = ibm_ar_csv().exists()
        sources = [(label, value) for value, label in HISTORY_LABELS.items() if value != "ibm" or have_ibm]
        default = history if history in {v for _, v in sources} else ("ibm" if have_ibm else "simulated")
        self.source_w = w.Dropdown(options=sources, value=default, description="History")
        self.path_w = w.Text(placeholder="path/to/ledger.csv", description="File", continuous_update=False)
        self.mapping_w = w.Text(placeholder="e.g. ibm_ar (empty: canonical columns)", description="Mapping",
                                continuous_update=False)
        self.file_box = w.VBox([self.path_w, self.mapping_w])
        self.as_of_w = w.DatePicker(description="As of")
        selectable = [m for m in MODELS if m != "simulation"]
        chosen = [m for m in (models or DEFAULT_FORECAST_MODELS) if m in selectable] or list(DEFAULT_FORECAST_MODELS)
        self.models_w = w.SelectMultiple(options=selectable, value=tuple(chosen), rows=min(9, len(selectable)),
                                         description="Models")
        self.fan_model_w = w.Dropdown(options=[], description="Fan chart")
        self.delta_w = w.IntSlider(value=what_if_delta, min=-3, max=3, description="Collectors ±",
                                   continuous_update=False)
        self.log_w = w.Text(placeholder="path/to/activities.xes (optional)", description="Activity log",
                            continuous_update=False)
        self.log_mapping_w = w.Text(placeholder="e.g. sap_fscm_activities (empty: canonical)", description="Log mapping",
                                    continuous_update=False)
        for widget, cls in ((self.source_w, "o2c-history"), (self.path_w, "o2c-path"), (self.mapping_w, "o2c-mapping"),
                            (self.log_w, "o2c-activities"), (self.log_mapping_w, "o2c-activity-mapping"),
                            (self.as_of_w, "o2c-as-of"), (self.models_w, "o2c-models"),
                            (self.fan_model_w, "o2c-fan-model"), (self.delta_w, "o2c-delta")):
            widget.add_class(cls)
            widget.style.description_width = "90px"
            widget.layout.width = "400px"
        self.status_w = w.HTML()
        self.error_w = w.HTML()
        self.table_w = w.HTML()
        self.history_note_w = w.HTML()
        self.what_if_note_w = w.HTML()
        self.fan_w, self.backtest_w, self.what_if_w = w.Output(), w.Output(), w.Output()
        self.fan_w.add_class("o2c-fan")
        self.backtest_w.add_class("o2c-backtest")
        self.what_if_w.add_class("o2c-whatif")

        controls = w.VBox([self.source_w, self.file_box, self.history_note_w, self.as_of_w, self.models_w],
                          layout=w.Layout(width="430px", min_width="430px", padding="0 16px 0 0"))
        self.widget = w.VBox([
            w.HTML(STYLE + FORECAST_NOTE),
            w.HBox([controls, w.VBox([self.status_w, self.error_w, self.table_w], layout=w.Layout(flex="1 1 auto"))]),
            w.HBox([w.VBox([self.fan_model_w, self.fan_w], layout=w.Layout(width="55%")),
                    w.VBox([self.backtest_w], layout=w.Layout(width="45%"))]),
            w.HTML("<b>What-if: cash with more or fewer collectors</b> (simulation warm-started on the open items, "
                   f"{what_if_replications} paired replications)"),
            self.log_w, self.log_mapping_w, self.delta_w, self.what_if_note_w, self.what_if_w,
        ])

        self._ticker_stop = threading.Event()
        threading.Thread(target=self._tick, daemon=True, name="o2c-dashboard-ticker").start()
        self.source_w.observe(self._on_source, names="value")
        for widget in (self.path_w, self.mapping_w):
            widget.observe(self._on_source, names="value")
        for widget in (self.as_of_w, self.models_w):
            widget.observe(self._on_request, names="value")
        for widget in (self.delta_w, self.log_w, self.log_mapping_w):
            widget.observe(self._on_what_if, names="value")
        self.fan_model_w.observe(lambda _c: self.refresh(), names="value")
        self._pending_as_of = as_of
        self._on_source()

    @classmethod
    def from_page(cls) -> "CashForecast":
        """The app for a Voila page; the URL may preset ``?history=simulated&as_of=2013-09-01&models=naive,ses&delta=-1``."""
        q = query_params()
        models = [m for m in q.get("models", "").split(",") if m] or None
        delta = int(q["delta"]) if q.get("delta", "").lstrip("+-").isdigit() else 2
        reps = int(q["replications"]) if q.get("replications", "").isdigit() else WHAT_IF_REPLICATIONS
        return cls(q.get("history"), as_of=q.get("as_of"), models=models, what_if_delta=max(-3, min(3, delta)),
                   what_if_replications=max(2, reps))

    # ------------------------------------------------------------------------------ requests
    def _history_id(self) -> str:
        src = self.source_w.value
        return f"file:{self.path_w.value.strip()}|{self.mapping_w.value.strip()}" if src == "file" else src

    def _on_source(self, _change=None) -> None:
        self.file_box.layout.display = "" if self.source_w.value == "file" else "none"
        hid = self._history_id()
        if hid in self._ledgers:
            self._history_ready(hid)
            return
        if self.source_w.value == "simulated":
            self._start("history", (hid,), simulated_history, on_done=lambda: self._history_ready(hid))
            self.refresh()
            return
        if self.source_w.value == "file" and not self.path_w.value.strip():
            self.error_w.value = ""
            self.history_note_w.value = ('<div class="o2c-note" id="history-note">Enter the path of a ledger file '
                                         "(.csv, .xlsx or .parquet) and, unless it uses the invoice-table column names, "
                                         "a column mapping (e.g. ibm_ar).</div>")
            return
        try:
            self._ledgers[hid] = load_history(self.source_w.value, self.path_w.value, self.mapping_w.value)
        except UserError as err:
            self._error(f"Cannot read the history: {err}")
            return
        self._history_ready(hid)

    def _history_ready(self, hid: str) -> None:
        import pandas as pd

        if hid != self._history_id() or hid not in self._ledgers:
            return
        ledger = self._ledgers[hid]
        try:
            default = default_as_of(ledger)
        except UserError as err:
            self._error(f"Cannot use this history: {err}")
            return
        first, last = ledger["invoice_date"].min().date(), ledger["invoice_date"].max().date()
        self.history_note_w.value = (
            f'<div class="o2c-note" id="history-note">{len(ledger):,} invoices, {ledger["customer_id"].nunique():,} '
            f'customers, issued {first} to {last}. Only what was known on the as-of date is used.</div>')
        self._syncing = True
        try:
            wanted = self._pending_as_of
            self._pending_as_of = None
            self.as_of_w.value = pd.Timestamp(wanted).date() if wanted else default
        except (ValueError, TypeError):
            self.as_of_w.value = default
        finally:
            self._syncing = False
        self._on_request()

    def _keys(self) -> tuple[tuple, tuple] | None:
        if self.as_of_w.value is None or self._history_id() not in self._ledgers:
            return None
        base = (self._history_id(), str(self.as_of_w.value))
        return (base + (tuple(self.models_w.value),),
                base + (int(self.delta_w.value), self.what_if_replications, self.log_w.value.strip(),
                        self.log_mapping_w.value.strip()))

    def _on_request(self, _change=None) -> None:
        if self._syncing:
            return
        keys = self._keys()
        if keys is None:
            self.refresh()
            return
        fkey, wkey = keys
        if not self.models_w.value:
            self._error("Choose at least one model to back-test.")
            return
        ledger = self._ledgers[fkey[0]]
        if fkey not in self._forecasts and fkey not in self._errors:
            self._start("forecast", fkey, run_forecast, ledger, self.as_of_w.value, tuple(self.models_w.value))
        self._on_what_if()

    def _on_what_if(self, _change=None) -> None:
        keys = self._keys()
        if keys is None:
            return
        wkey = keys[1]
        if wkey[2] == 0:
            self.refresh()
            return
        if wkey not in self._what_ifs and wkey not in self._errors:
            scenario = SIMULATED_HISTORY_SCENARIO if wkey[0] == "simulated" else None
            self._start("what_if", wkey, run_what_if, self._ledgers[wkey[0]], self.as_of_w.value, wkey[2], scenario,
                        self.what_if_replications, wkey[4], wkey[5])
        self.refresh()

    def _start(self, kind: str, key: tuple, fn: Callable, *args, on_done: Callable[[], None] | None = None) -> None:
        with self._lock:
            current = self._jobs.get(kind)
            if current is not None and current[0] == key:
                return
            if current is not None:
                current[1].cancel()

            def done(ok: bool, value: Any) -> None:
                with self._lock:
                    if self._jobs.get(kind, (None,))[0] == key:
                        del self._jobs[kind]
                    if not ok:
                        what = {"history": "Cannot simulate the history", "forecast": "Cannot forecast",
                                "what_if": "What-if not possible"}[kind]
                        self._errors[key] = f"{what}: {value}"
                    elif kind == "history":
                        self._ledgers[key[0]] = value
                    elif kind == "forecast":
                        self._forecasts[key] = value
                    else:
                        self._what_ifs[key] = value
                if on_done is not None and ok:
                    on_done()
                self.refresh()

            self._jobs[kind] = (key, ProcessJob(fn, *args, on_done=done))

    def _error(self, message: str) -> None:
        self.error_w.value = f'<div id="forecast-error" class="o2c-error" role="alert">{html.escape(message)}</div>'

    def _tick(self) -> None:
        while not self._ticker_stop.wait(1.0):
            if self._jobs:
                self.refresh()

    # ------------------------------------------------------------------------------ the view
    def refresh(self) -> None:
        try:
            self._refresh()
        except Exception as exc:  # noqa: BLE001 — one line in the page, never a traceback
            import traceback

            self.last_traceback = traceback.format_exc()
            self._error(f"The view could not be updated: {type(exc).__name__}: {exc}")

    def _refresh(self) -> None:
        with self._lock:
            keys = self._keys()
            jobs = {k: (key, job.elapsed) for k, (key, job) in self._jobs.items()}
            hid = self._history_id()
            fkey, wkey = keys if keys else (None, None)
            result = self._forecasts.get(fkey)
            wi = self._what_ifs.get(wkey)
            errors = [self._errors[k] for k in ((hid,), fkey, wkey) if k is not None and k in self._errors]

            parts = []
            labels = {"history": "simulating the history", "forecast": "back-test and forecast", "what_if": "what-if"}
            for kind, (key, elapsed) in jobs.items():
                parts.append(f"{labels[kind]}: running {elapsed:.0f} s")
            if result is not None:
                parts.append(f"forecast as of {result.as_of.date()} ready")
            if wi is not None:
                parts.append("what-if ready")
            forecast_done = result is not None or (fkey in self._errors)
            what_if_done = wkey is None or wkey[2] == 0 or wi is not None or wkey in self._errors
            state = "error" if errors and not jobs else ("ready" if forecast_done and what_if_done and not jobs else "running")
            self.status_w.value = (f'<span id="forecast-status" class="o2c-status" data-state="{state}" '
                                   f'data-key="{html.escape(str(fkey))}">{html.escape(" · ".join(parts) or "…")}</span>')
            if errors:
                self._error("; ".join(errors))
            elif self.error_w.value and not errors and keys is not None and self.models_w.value:
                self.error_w.value = ""

            if result is not None:
                key = hashlib.sha1(repr(fkey).encode()).hexdigest()[:12]
                self.table_w.value = forecast_table_html(result, key)
                models = list(dict.fromkeys(result.forecast["model"]))
                if list(self.fan_model_w.options) != models:
                    self.fan_model_w.options = models
                    self.fan_model_w.value = result.selected if result.selected in models else models[0]
                self._draw_forecast(result, fkey)
            elif fkey is not None and not forecast_done:
                self.table_w.value = '<div class="o2c-note">Back-testing the models on the history known then…</div>'
            self._draw_what_if(wi, wkey)

    def _draw_forecast(self, result, fkey) -> None:
        from o2c_sim.present.figures.dashboard import fan_chart_with_actuals
        from o2c_sim.present.figures.forecast import backtest_accuracy

        model = self.fan_model_w.value
        signature = (fkey, model)
        if signature == self._fan_signature or model is None:
            return
        first = self._fan_signature is None or self._fan_signature[0] != fkey
        self._fan_signature = signature
        actual = actual_receipts(self._ledgers[fkey[0]], result)
        self.fan_w.outputs = (plotly_output(fan_chart_with_actuals(result.history, result.forecast, model, actual)),)
        if first:
            self.backtest_w.outputs = (plotly_output(backtest_accuracy(result.summary, result.selected)),)

    def _draw_what_if(self, wi, wkey) -> None:
        from o2c_sim.present.figures.dashboard import what_if_cash

        if wkey is None:
            return
        if wkey[2] == 0:
            self.what_if_note_w.value = '<div class="o2c-note" id="whatif-note">Choose a change in collectors.</div>'
            self.what_if_w.outputs = ()
            return
        if wi is None:
            running = "what_if" in self._jobs
            self.what_if_note_w.value = ('<div class="o2c-note" id="whatif-note">'
                                         + ("Simulating…" if running else "") + "</div>")
            if self._what_if_signature is not None:
                self._what_if_signature = None
                self.what_if_w.outputs = ()
            return
        frame, team, identified = wi
        sig = (wkey, "drawn")
        if self._what_if_signature == sig:
            return
        self._what_if_signature = sig
        if frame is None:  # payment history alone: the what-if is not answered, and the note says why
            self.what_if_note_w.value = (f'<div class="o2c-note" id="whatif-note" data-refused="1">'
                                         f'{html.escape(identified)}</div>')
            self.what_if_w.outputs = ()
            return
        total = float(frame["difference"].sum())
        delta = wkey[2]
        self.what_if_note_w.value = (
            f'<div class="o2c-note" id="whatif-note">{team} → {team + delta} collectors: '
            f'<b id="whatif-total" data-value="{_attr(total)}" data-delta="{delta}">{total:+,.0f}</b> '
            f'cash over the next {FORECAST_HORIZON} weeks (mean of paired replications). {html.escape(identified)}</div>')
        self.what_if_w.outputs = (plotly_output(what_if_cash(frame, f"{team} → {team + delta} collectors")),)

    def close(self) -> None:
        self._ticker_stop.set()
        with self._lock:
            for _key, job in self._jobs.values():
                job.cancel()
            self._jobs.clear()


def actual_receipts(ledger, result):
    """Receipts in the forecast weeks as the full history records them (None if it ends before)."""
    from o2c_sim.forecast.series import receipts

    full = receipts(ledger, result.freq)
    after = full[full.index > result.as_of]
    return after.iloc[: result.horizon] if len(after) else None


FORECAST_NOTE = f"""
<h2 style="margin: 4px 0">Cash forecast</h2>
<div class="o2c-note" id="page-note">A {FORECAST_HORIZON}-week cash-receipts forecast from a history file as
known on the as-of date: every chosen model is back-tested at rolling origins (WAPE, bias, interval coverage),
a combination is weighted by that record and the best model at horizons 1–4 is selected. Receipts actually
recorded after the as-of date, where the history has them, are drawn for comparison. The default history is the
IBM accounts-receivable sample when it is installed, otherwise a history simulated from the baseline scenario.
Runs take from seconds to a few minutes (each model is fitted at every origin); they run in a separate process,
so the page stays usable, and a newer request replaces an older one.</div>
"""

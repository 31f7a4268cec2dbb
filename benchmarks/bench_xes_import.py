"""Import speed and memory of a large XES activity log (issue: 150,000 cases must load in < 60 s, < 2 GB).

Generates a synthetic collections log of CASES invoice cases (issued, notices, calls, promises,
disputes, payments: ≈ 5–6 events a case, ≈ 200 MB at 150,000 cases) with the project's own XES writer,
then imports it with ``load_activities(path, "xes_activities")`` in a fresh Python process and prints
the wall time, the events per second and that process's peak resident memory.

    PYTHONPATH=src python benchmarks/bench_xes_import.py [--cases 150000] [--keep FILE]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

LIMIT_SECONDS, LIMIT_BYTES = 60.0, 2 * 1024**3


def synthetic_log(cases: int, seed: int = 1) -> pd.DataFrame:
    """A plausible activity table: every case issued and (mostly) paid, with notices, calls, account-level
    contacts, promises, disputes and credit notes in between, and a few write-offs."""
    rng = np.random.default_rng(seed)
    item = np.array([f"INV{i:08d}" for i in range(cases)], dtype=object)
    customer = np.array([f"C{c:06d}" for c in rng.integers(0, cases // 20 + 1, cases)], dtype=object)
    issue = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, cases), unit="D")
    due = issue + pd.Timedelta(days=30)
    amount = np.round(rng.lognormal(7.5, 1.0, cases), 2)
    rows = [pd.DataFrame({"item_id": item, "customer_id": customer, "date": issue, "kind": "issued",
                          "amount": amount, "due_date": due})]
    notices = rng.integers(0, 4, cases)  # 0–3 notices at 7, 21, 35 days past due
    for level in (1, 2, 3):
        on = notices >= level
        rows.append(pd.DataFrame({"item_id": item[on], "customer_id": customer[on], "kind": "notice",
                                  "date": due[on] + pd.Timedelta(days=14 * level - 7), "level": level}))
    called = rng.random(cases) < 0.5
    rows.append(pd.DataFrame({"item_id": item[called], "customer_id": customer[called], "kind": "call_attempt",
                              "date": due[called] + pd.Timedelta(days=10)}))
    reached = called & (rng.random(cases) < 0.6)
    promised = reached & (rng.random(cases) < 0.7)
    rows.append(pd.DataFrame({"item_id": "", "customer_id": customer[reached], "kind": "contact",
                              "date": due[reached] + pd.Timedelta(days=10),
                              "outcome": np.where(promised[reached], "promise", "refusal")}))
    rows.append(pd.DataFrame({"item_id": item[promised], "customer_id": customer[promised], "kind": "promise",
                              "date": due[promised] + pd.Timedelta(days=10), "amount": amount[promised],
                              "promised_date": due[promised] + pd.Timedelta(days=17)}))
    disputed = rng.random(cases) < 0.05
    rows.append(pd.DataFrame({"item_id": item[disputed], "customer_id": customer[disputed], "kind": "dispute_opened",
                              "date": issue[disputed] + pd.Timedelta(days=5), "reason": "pricing"}))
    rows.append(pd.DataFrame({"item_id": item[disputed], "customer_id": customer[disputed], "kind": "credit_note",
                              "date": issue[disputed] + pd.Timedelta(days=20), "amount": np.round(amount[disputed] * 0.1, 2)}))
    rows.append(pd.DataFrame({"item_id": item[disputed], "customer_id": customer[disputed], "kind": "dispute_closed",
                              "date": issue[disputed] + pd.Timedelta(days=20), "outcome": "partial_credit"}))
    written = rng.random(cases) < 0.01
    paid = ~written
    rest = np.where(disputed, amount - np.round(amount * 0.1, 2), amount)
    rows.append(pd.DataFrame({"item_id": item[paid], "customer_id": customer[paid], "kind": "payment",
                              "date": due[paid] + pd.to_timedelta(notices[paid] * 14, unit="D"), "amount": rest[paid]}))
    rows.append(pd.DataFrame({"item_id": item[written], "customer_id": customer[written], "kind": "write_off",
                              "date": due[written] + pd.Timedelta(days=180), "amount": rest[written]}))
    from o2c_sim.data.activity_table import conform

    return conform(pd.concat(rows, ignore_index=True))


def import_once(path: str) -> None:
    """In this (fresh) process: import the log, print wall seconds, CPU seconds, events and peak RSS in bytes."""
    from o2c_sim.data.activities import load_activities

    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    acts = load_activities(path, "xes_activities")
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak = usage.ru_maxrss * 1024  # Linux: KiB
    print(f"{seconds} {usage.ru_utime + usage.ru_stime - cpu0} {len(acts)} {peak}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=150_000)
    ap.add_argument("--keep", type=Path, help="write the XES here and keep it (default: a temporary file)")
    ap.add_argument("--import-only", metavar="XES", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.import_only:
        import_once(args.import_only)
        return
    from o2c_sim.data.process_export import write_xes

    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "log.xes"
        start = time.perf_counter()
        acts = synthetic_log(args.cases)
        write_xes(acts, path)
        size = path.stat().st_size
        print(f"generated {args.cases:,} cases, {len(acts):,} events, {size / 1e6:,.0f} MB of XES "
              f"in {time.perf_counter() - start:.1f} s")
        load = os.getloadavg()[0]
        out = subprocess.run([sys.executable, __file__, "--import-only", str(path)], capture_output=True, text=True,
                             check=True)
        seconds, cpu, events, peak = out.stdout.split()
        seconds, cpu, events, peak = float(seconds), float(cpu), int(events), int(peak)
    assert events == len(acts), (events, len(acts))
    print(f"import: {seconds:.1f} s wall, {cpu:.1f} s CPU ({events / seconds:,.0f} events/s, "
          f"{size / 1e6 / seconds:.1f} MB/s); peak memory {peak / 1024**3:.2f} GB; "
          f"load average before {load:.1f} on {os.cpu_count()} cores (wall time grows with other work)")
    print(f"ratios to the limits: wall time {seconds / LIMIT_SECONDS:.2f} and CPU time {cpu / LIMIT_SECONDS:.2f} "
          f"of 60 s, memory {peak / LIMIT_BYTES:.2f} of 2 GB")


if __name__ == "__main__":
    main()

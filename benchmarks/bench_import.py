"""Importer cost per row on a real-looking ERP export, and what inferring the date format adds.

Writes a 100,000-row export (BOM, ';', decimal comma, DD/MM/YYYY dates, credit notes, prepayments,
two currencies with an FX table) to a temporary folder and loads it three times in this one run:
with every format stated in the mapping, with ``date_format`` left to inference, and as the canonical
CSV pandas wrote (no mapping). Prints the times, rows per second and the ratios.

    .venv/bin/python benchmarks/bench_import.py [--rows N]      # ~30 s for 100,000 rows
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_real_ledger import MAPPING, USD_RATES, erp_export, write_export  # noqa: E402

from o2c_sim.data.importer import load_ledger  # noqa: E402


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    rows = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        df = erp_export(weeks=max(rows // 20, 10))
        (folder / "fx.csv").write_text("date,currency,rate\n" + "".join(f"{d},USD,{r}\n" for d, r in USD_RATES.items()))
        (folder / "stated.yaml").write_text(MAPPING)
        (folder / "inferred.yaml").write_text(MAPPING.replace("date_format: '%d/%m/%Y'\n", ""))
        path = write_export(df, folder / "export.csv")
        canonical = folder / "canonical.csv"
        load_ledger(path, folder / "stated.yaml").to_csv(canonical, index=False)
        load = os.getloadavg()[0]
        t_stated, table = timed(lambda: load_ledger(path, folder / "stated.yaml"))
        t_inferred, _ = timed(lambda: load_ledger(path, folder / "inferred.yaml"))
        t_canonical, _ = timed(lambda: load_ledger(canonical))
    n = len(table)
    print(f"{n:,} rows ({int((table['amount'] < 0).sum()):,} credit notes, "
          f"{table.attrs['prepayments']:,} prepayments); load average at start {load:.1f}")
    print(f"ERP export, formats stated    {t_stated:6.2f} s   {n / t_stated:>10,.0f} rows/s")
    print(f"ERP export, date inferred     {t_inferred:6.2f} s   {n / t_inferred:>10,.0f} rows/s")
    print(f"canonical CSV, no mapping     {t_canonical:6.2f} s   {n / t_canonical:>10,.0f} rows/s")
    print(f"ratio inferred / stated       {t_inferred / t_stated:6.2f}")
    print(f"ratio ERP export / canonical  {t_stated / t_canonical:6.2f}")


if __name__ == "__main__":
    main()

"""A real distributed sweep: a Dask scheduler and two worker processes started with the ``dask``
command-line tools on loopback, a sweep sent to them with ``--scheduler``, one worker killed mid-way.
The results must be complete and bit-identical to the same sweep run in-process (``--workers 1``)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from distributed import Client

import o2c_sim
from o2c_sim.cli import main

DASK = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
SRC = str(Path(o2c_sim.__file__).resolve().parents[1])
O2C_SIM = shutil.which("o2c-sim", path=str(Path(sys.executable).parent))
CLI = [O2C_SIM] if O2C_SIM else [sys.executable, "-c", "import sys; from o2c_sim.cli import main; sys.exit(main(sys.argv[1:]))"]
SWEEP = ["sweep", "baseline", "--grid", "team.collectors=2,4", "--grid", "strategy.prioritisation=oldest_first,largest_balance",
         "--set=portfolio.accounts=200", "--set=horizon_days=90", "--set=warmup_days=30", "-r", "2", "-q"]
TASKS = 4 * 2
# even with --no-dashboard the processes serve health checks over HTTP (by default on 0.0.0.0:8787)
LOOPBACK_ONLY = ["--no-dashboard", "--dashboard-address", "127.0.0.1:0"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, procs=()) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        for p in procs:
            if p.poll() is not None:
                err = p.stderr.read()[-3000:] if p.stderr else ""
                raise AssertionError(f"{what}: {p.args[:3]} exited early with code {p.returncode}\n{err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


class Cluster:
    """The scheduler and workers, each in its own session so that cleanup reaches every child. Should
    the test process itself die, the scheduler stops after two idle minutes and the workers 30 s later."""

    def __init__(self, workdir: Path):
        self.workdir, self.procs, self.logs = workdir, [], []
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])),
                    "PYTHONDONTWRITEBYTECODE": "1"}

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "wb")
        self.logs.append(log)
        proc = subprocess.Popen([DASK, *args], stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.workdir,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for log in self.logs:
            log.close()


@pytest.fixture
def cluster(tmp_path):
    if DASK is None:
        pytest.skip("the dask command-line tool is not installed")
    workdir = tmp_path / "dask"
    workdir.mkdir()
    c = Cluster(workdir)
    try:
        yield c
    finally:
        c.close()


def test_sweep_on_a_cluster_survives_a_killed_worker(tmp_path, cluster, capsys):
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = cluster.start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(port), *LOOPBACK_ONLY,
                                "--idle-timeout", "120s")
    workers = [cluster.start(f"worker{i}", "worker", address, "--nthreads", "1", "--no-nanny", *LOOPBACK_ONLY, "--death-timeout", "30",
                             "--name", f"worker{i}", "--host", "127.0.0.1",
                             "--local-directory", str(cluster.workdir / f"worker{i}")) for i in (1, 2)]
    wait_for(lambda: all("Registered to" in cluster.log(f"worker{i}") for i in (1, 2)), 60, "two workers",
             [scheduler, *workers])

    observer = Client(address, timeout="30s")  # to see which worker computes what
    out = tmp_path / "remote"
    sweep_proc = subprocess.Popen([*CLI, *SWEEP, "--scheduler", address, "--out", str(out)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cluster.env, text=True,
                                  start_new_session=True)
    try:
        parts = out / "parts"
        done = lambda: len(list(parts.glob("*.parquet"))) if parts.exists() else 0  # noqa: E731
        wait_for(lambda: done() >= 2, 60, "the first results", [sweep_proc])
        assert done() < TASKS - 2, "the sweep finished before a worker could be killed: make the tasks longer"
        names = {addr: w["name"] for addr, w in observer.scheduler_info()["workers"].items()}
        busy = {names[addr]: keys for addr, keys in observer.processing().items() if keys}
        assert "worker1" in busy, f"worker1 should be computing a task mid-way; processing: {busy}"
        os.kill(workers[0].pid, signal.SIGKILL)  # mid-way, while it computes a task
        stdout, stderr = sweep_proc.communicate(timeout=120)
    finally:
        observer.close()
        if sweep_proc.poll() is None:
            os.killpg(sweep_proc.pid, signal.SIGKILL)
            sweep_proc.wait()
    assert workers[0].wait(timeout=10) == -signal.SIGKILL
    assert sweep_proc.returncode == 0, stderr[-3000:] + cluster.log("scheduler")
    assert "Traceback" not in stderr
    assert workers[1].poll() is None and scheduler.poll() is None  # the sweep left the cluster running

    local = tmp_path / "local"
    assert main([*SWEEP, "--workers", "1", "--out", str(local)]) == 0
    capsys.readouterr()
    remote_results = pd.read_parquet(out / "results.parquet")
    assert len(remote_results) == TASKS and remote_results[["cell", "replication"]].notna().all().all()
    for name in ("results", "summary", "differences"):
        pd.testing.assert_frame_equal(pd.read_parquet(out / f"{name}.parquet"), pd.read_parquet(local / f"{name}.parquet"),
                                      check_exact=True)

"""``o2c-sim dashboard [--port P] [--no-browser]``: serve the Voila dashboards in ``dashboards/``.

The server listens on 127.0.0.1 only (use ``--ip`` deliberately to expose it), shows the dashboards
without their code (``--strip_sources=True``) and runs until interrupted with Ctrl-C. On any address
other than loopback a token is required (``--token``, or one generated and printed once, Jupyter-style:
open the printed URL). The cash-forecast dashboard reads ledger files only inside the allowed folders
(``--allow-dir``, repeatable; default: the data directory, the shipped mappings and the current
folder). The listing at ``http://127.0.0.1:PORT/`` links to each dashboard:

* ``staffing_whatif.ipynb`` — collectors, dispute analysts, strategy, dunning cadence → KPIs against
  the baseline, staffing curve;
* ``cash_forecast.ipynb`` — 13-week cash forecast per model, back-test accuracy, collector what-if.
"""

from __future__ import annotations

import argparse
import importlib.util
import signal
import subprocess
import sys
from pathlib import Path

from o2c_sim.errors import UserError

DEFAULT_PORT = 8866
LOOPBACK = "127.0.0.1"


def register(subparsers) -> None:
    p = subparsers.add_parser("dashboard", help="serve the Voila dashboards (staffing what-if, cash forecast)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="P", help=f"port to listen on (default {DEFAULT_PORT})")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    p.add_argument("--ip", default=LOOPBACK, metavar="ADDRESS",
                   help=f"address to listen on (default {LOOPBACK}: this machine only; the dashboards run "
                        "simulations on request, so expose them only on a trusted network)")
    p.add_argument("--dir", type=Path, default=None, metavar="DIR", help="folder of dashboards (default: the project's dashboards/)")
    p.add_argument("--token", metavar="TOKEN",
                   help="token a browser must present (required, and generated if not given, when --ip is not loopback)")
    p.add_argument("--allow-dir", action="append", type=Path, default=None, metavar="FOLDER",
                   help="folder the dashboards may read ledger files from (repeatable; default: the data directory, "
                        "the shipped mappings and the current folder)")
    p.set_defaults(func=run)


LOOPBACKS = {"127.0.0.1", "::1", "localhost"}
MIN_TOKEN = 16  # characters; a token anyone can guess protects nothing


def access_token(ip: str, given: str | None) -> str | None:
    """The token to require: the one given, a new random one on a non-loopback address, else none."""
    import secrets

    if given is not None:
        if len(given) < MIN_TOKEN or not given.isprintable() or any(c.isspace() for c in given):
            raise UserError(f"--token must be at least {MIN_TOKEN} printable characters without spaces")
        return given
    return None if ip in LOOPBACKS else secrets.token_urlsafe(24)


def allowed_env(dirs: list[Path] | None) -> dict[str, str]:
    """Environment for the server's kernels: the folders the ledger path box may read."""
    import os

    from o2c_sim.data.importer import ALLOWED_DIRS_ENV

    if not dirs:
        return {}
    missing = [str(d) for d in dirs if not d.is_dir()]
    if missing:
        raise UserError(f"--allow-dir {missing[0]} is not a folder")
    return {ALLOWED_DIRS_ENV: os.pathsep.join(str(d.resolve()) for d in dirs)}


def dashboards_dir() -> Path:
    from o2c_sim.settings import DASHBOARDS_DIR

    return DASHBOARDS_DIR


def voila_command(directory: Path, port: int, *, open_browser: bool, ip: str = LOOPBACK,
                  token: str | None = None) -> list[str]:
    """The Voila command line: loopback, the given port (no silent fallback to another), sources stripped,
    the token required when one is given.

    A page that is closed asks Voila to shut its kernel down at once (the ``beforeunload`` beacon). That
    request is a POST, and this Voila never sets the ``_xsrf`` cookie it would check it against, so it
    was refused (403, voila-dashboards/voila#1458) and every closed page's kernel and its worker
    processes went on computing for five minutes. The XSRF check is therefore switched off: the only
    POST the page makes is that shutdown, of a kernel whose id is a random UUID another site cannot
    know, and the server listens on loopback (with a token when it does not). Kernels of pages closed
    without saying goodbye (a crashed browser, a lost connection) are shut down after five idle
    minutes; open pages are never culled."""
    cmd = [sys.executable, "-m", "voila", str(directory), f"--port={port}", f"--Voila.ip={ip}",
           *([f"--Voila.token={token}"] if token else []),
           "--Voila.port_retries=0", "--strip_sources=True", "--show_tracebacks=False",
           "--Voila.tornado_settings=disable_check_xsrf=True",
           "--MappingKernelManager.cull_interval=60", "--MappingKernelManager.cull_idle_timeout=300",
           "--MappingKernelManager.cull_connected=False"]
    if not open_browser:
        cmd.append("--no-browser")
    return cmd


def check_args(args: argparse.Namespace) -> Path:
    if not 1 <= args.port <= 65535:
        raise UserError(f"--port must be between 1 and 65535, got {args.port}")
    directory = args.dir if args.dir is not None else dashboards_dir()
    if not directory.is_dir():
        raise UserError(f"dashboards folder not found at {directory}; expected a folder of .ipynb dashboards")
    if not any(directory.glob("*.ipynb")):
        raise UserError(f"no dashboards (.ipynb files) in {directory}")
    if importlib.util.find_spec("voila") is None:
        raise UserError("Voila is not installed in this environment; install the project with "
                        "'pip install -e .' (it depends on voila)")
    if not port_free(args.ip, args.port):
        raise UserError(f"port {args.port} on {args.ip} is already in use (another dashboard server?); "
                        "choose another with --port")
    return directory


def port_free(ip: str, port: int) -> bool:
    """Whether a TCP server could listen on ``ip:port`` now."""
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((ip, port))
        return True
    except OSError:
        return False


def run(args: argparse.Namespace) -> int:
    import os

    directory = check_args(args)
    token = access_token(args.ip, args.token)
    env = {**os.environ, **allowed_env(args.allow_dir)}
    cmd = voila_command(directory, args.port, open_browser=not args.no_browser, ip=args.ip, token=token)
    url = f"http://{args.ip}:{args.port}/" + (f"?token={token}" if token else "")
    print(f"Serving the dashboards in {directory} at {url} (Ctrl-C stops the server)", flush=True)
    if args.ip not in LOOPBACKS:
        print(f"warning: listening on {args.ip}, not only on this machine; browsers need the token in the URL above",
              file=sys.stderr, flush=True)
    proc = subprocess.Popen(cmd, env=env)
    # a service manager's SIGTERM stops Voila cleanly (it shuts its kernels down) instead of orphaning it
    previous = signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    try:
        return proc.wait()
    except KeyboardInterrupt:
        # Ctrl-C reaches Voila too (same process group); give it time to shut its kernels down
        try:
            return proc.wait(timeout=15) or 130
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait()
            return 130
    finally:
        signal.signal(signal.SIGTERM, previous)

"""The ``o2c-sim`` command line: one module per subcommand, each with ``register(subparsers)``.

Every subcommand raises :class:`~o2c_sim.errors.UserError` for bad input; :func:`main` turns it into a
one-paragraph message on stderr and exit code 2, with no traceback. It is also the one safety net for
everything else: an unexpected exception becomes one paragraph (what failed, on which inputs, where
the traceback was logged) and exit code 1; a closed pipe (``o2c-sim ... | head``) ends quietly.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import sys
import tempfile
import traceback
from pathlib import Path

from o2c_sim.errors import UserError

#: subcommand modules, in the order ``o2c-sim --help`` lists them
COMMANDS = ("run", "validate", "calibrate", "forecast", "gap", "position", "sweep", "recommend", "sensitivity", "report",
            "dashboard", "export")


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as :class:`UserError` (exit 2, one paragraph)."""

    def error(self, message: str):  # type: ignore[override]
        raise UserError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="o2c-sim", description="Collections simulation and forecasting lab for Order-to-Cash teams.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f".{name}", __name__).register(sub)
    return parser


def log_dir() -> Path:
    """Where tracebacks of unexpected failures go: ``$O2C_SIM_LOG_DIR``, else a per-user temp folder."""
    return Path(os.environ.get("O2C_SIM_LOG_DIR") or Path(tempfile.gettempdir()) / f"o2c-sim-{os.getuid() if hasattr(os, 'getuid') else 'logs'}")


def _log_crash(argv: list[str], exc: BaseException) -> Path | None:
    """Write the command line and traceback to a new file in :func:`log_dir`; None if that fails too."""
    try:
        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / f"crash-{dt.datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}.log"
        text = "o2c-sim " + " ".join(argv) + "\n\n" + "".join(traceback.format_exception(exc))
        path.write_text(text, encoding="utf-8")
        return path
    except OSError:
        return None


def _quiet_broken_pipe() -> int:
    """The reader went away (``| head``): stop writing without a message."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout replaced (tests) or already closed
        pass
    return 141  # 128 + SIGPIPE, as a shell reports a command ended by a closed pipe


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a reader that went away shows up here, inside the safety net
        return code
    except UserError as err:
        print(f"o2c-sim: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("o2c-sim: interrupted; finished work was kept", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except (SystemExit, GeneratorExit):
        raise
    except Exception as exc:  # the one safety net: a bug, not the user's input
        command = next((a for a in argv if not a.startswith("-")), "o2c-sim")
        logged = _log_crash(argv, exc)
        where = f"the details were logged to {logged}" if logged else "the details could not be logged"
        print(f"o2c-sim: internal error in '{command}' ({type(exc).__name__}: {str(exc)[:200]}) while running "
              f"'o2c-sim {' '.join(argv)[:300]}'; {where}. This is a bug "
              "in o2c-sim, not in your input: please report it with that file.", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

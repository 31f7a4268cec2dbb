"""The ``o2c-sim`` command line: one module per subcommand, each with ``register(subparsers)``.

Every subcommand raises :class:`~o2c_sim.errors.UserError` for bad input; :func:`main` turns it into a
one-paragraph message on stderr and exit code 2, with no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import UserError

#: subcommand modules, in the order ``o2c-sim --help`` lists them
COMMANDS = ("run", "validate", "calibrate", "forecast", "gap", "position", "sweep", "recommend", "report", "dashboard")


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


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"o2c-sim: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("o2c-sim: interrupted; finished work was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

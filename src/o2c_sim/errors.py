"""User-facing errors.

Every mistake a user can make (a bad scenario, a bad ledger row, a bad CLI flag) is raised as a
:class:`UserError`. The CLI prints its message as one paragraph and exits with code 2, without a
traceback; library callers (notebooks, dashboards) catch it and show the message.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input: the message names the file, row or field and what was expected."""

    exit_code = 2

    def __init__(self, message: str, *, source: str | None = None):
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)

"""Every command block of README.md runs: an example that is changed into something that does not run
fails here.

The ```bash blocks are parsed (backslash continuations joined; ``NAME=value`` and ``export`` lines
kept as the prelude of every later command, as a shell would), and each command runs in README order
in one scratch folder (which links the project's ``scenarios/`` and ``examples/``), with the data
directory of :mod:`o2c_sim.settings` and only these substitutions, so that the whole file takes about
two minutes:

* ``.venv/bin/`` → the folder of the Python running the tests (the same venv under ``make test``);
* ``run``, ``sweep``, ``recommend``: ``--replications``/``-r`` → 2, then ``--set`` of :data:`SMALL`
  (100 accounts, 120 days, no warm-up: the fourth month is the first with a trailing-quarter DSO);
* ``sensitivity``: one replication a design point, 2 trajectories or samples, :data:`SMALL`, one worker;
* ``report``: ``-p replications`` → 2, :data:`SMALL` merged into ``-p overrides`` for notebooks that
  take overrides, ``-p models [naive]`` for the cash forecast (the back-test of its four models takes
  over a minute);
* ``forecast``: ``--models naive`` where the example uses every model (the back-test of all ten takes
  1.5 minutes; the chosen subset of an example is kept) and ``--replications 2`` for the what-if;
* ``make demo`` / ``make test`` → ``make -n``: building a second ``.venv`` and running the whole suite
  from inside it is what ``.ci/run`` does; here the targets must exist;
* ``dashboard`` is not run: it serves until Ctrl-C; ``tests/test_dashboards.py`` serves the dashboards
  and drives them in Chromium.

Commands that use the sample data (``$DATA``, ``O2C_SIM_DATA_DIR``) skip outside CI without it and fail
in CI (``tests/conftest.py``). A command that needs an earlier one's output (``gap`` reads the folder
``forecast`` wrote) runs after it; selecting it alone with ``-k`` may lack its input.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_file
from o2c_sim import settings

ROOT = settings.PROJECT_ROOT
README = ROOT / "README.md"
BIN = Path(sys.executable).parent

#: run-length overrides every simulating command gets
SMALL = {"portfolio.accounts": 100, "horizon_days": 120, "warmup_days": 0}
REPLICATIONS = 2
#: what a command that is not run says instead
NOT_RUN = {"dashboard": "serves until Ctrl-C; tests/test_dashboards.py serves the dashboards and drives them in Chromium"}

#: a shell variable assignment (kept for the later commands)
ASSIGNMENT = r"^(export\s+)?[A-Za-z_][A-Za-z0-9_]*="


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """``[(language, body)]`` of the README's fenced code blocks."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M)


def readme_commands(text: str) -> list[tuple[str, str]]:
    """``[(prelude, command)]`` of every ```bash block, in order: the prelude is the assignments and
    exports seen so far."""
    prelude: list[str] = []
    out = []
    for lang, body in fenced_blocks(text):
        if lang != "bash":
            continue
        for line in body.replace("\\\n", " ").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if re.match(ASSIGNMENT, line):
                prelude.append(line)
                out.append(("\n".join(prelude[:-1]), line))  # an assignment must run too
            else:
                out.append(("\n".join(prelude), line))
    return out


def _replace_option(words: list[str], names: tuple[str, ...], value: str) -> bool:
    found = False
    for i, w in enumerate(words[:-1]):
        if w in names:
            words[i + 1] = value
            found = True
    return found


def _join(words: list[str]) -> str:
    """A command line from words, leaving ``$VAR`` to the shell (``shlex.join`` would quote it away)."""
    def one(w: str) -> str:
        if re.fullmatch(r"[\w@%+=:,./$-]+", w):
            return w
        if "$" in w and not re.search(r"[\s\"'`\\]", w):
            return f'"{w}"'
        return shlex.quote(w)
    return " ".join(one(w) for w in words)


def _set_args() -> list[str]:
    return [a for k, v in SMALL.items() for a in ("--set", f"{k}={v}")]


#: shell operators after which the rest of a line (a redirection, a pipe) is kept as written
OPERATORS = (">", ">>", "2>", "|", "&&", ";")


def shrink(command: str) -> str:
    """The command with the substitutions of the module docstring (comments dropped); a redirection
    or pipe after it is kept as written."""
    words = shlex.split(command, comments=True)
    cut = next((i for i, w in enumerate(words) if w in OPERATORS), len(words))
    tail = (" " + " ".join(words[cut:])) if cut < len(words) else ""
    return _shrink_words(words[:cut]) + tail


def _shrink_words(words: list[str]) -> str:
    words = [w.replace(".venv/bin/", f"{BIN}/", 1) if w.startswith(".venv/bin/") else w for w in words]
    if words[0] == "make":
        return _join(["make", "-n", *words[1:]])
    if not words[0].endswith("o2c-sim") or len(words) < 2:
        return _join(words)
    sub = words[1]
    if sub in ("run", "sweep", "recommend"):
        if not _replace_option(words, ("--replications", "-r"), str(REPLICATIONS)):
            words += ["--replications", str(REPLICATIONS)]
        words += _set_args()
    elif sub == "sensitivity":
        if not _replace_option(words, ("--replications", "-r"), "1"):
            words += ["--replications", "1"]
        if not _replace_option(words, ("--samples", "-n"), "2"):
            words += ["--samples", "2"]
        words += [*_set_args(), "--workers", "1"]
    elif sub == "forecast":
        if "--models" not in words:
            words += ["--models", "naive"]
        if "--what-if" in words:
            words += ["--replications", str(REPLICATIONS)]
    elif sub == "report" and "--list" not in words:
        from o2c_sim.present.report import notebook_defaults, resolve_notebook

        params = notebook_defaults(resolve_notebook(words[2]))
        pairs = {words[i + 1]: i + 2 for i, w in enumerate(words[:-2]) if w in ("-p", "--parameter")}
        if "replications" in params:
            if "replications" in pairs:
                words[pairs["replications"]] = str(REPLICATIONS)
            else:
                words += ["-p", "replications", str(REPLICATIONS)]
        if "overrides" in params:
            small = ", ".join(f"{k}: {v}" for k, v in SMALL.items())
            if "overrides" in pairs:
                given = words[pairs["overrides"]].strip().strip("{}").strip()
                words[pairs["overrides"]] = "{" + (given + ", " if given else "") + small + "}"
            else:
                words += ["-p", "overrides", "{" + small + "}"]
        if "models" in params:
            words += ["-p", "models", "[naive]"]
    return _join(words)


def _id(command: str) -> str:
    return re.sub(r"\s+", " ", command.split("#")[0]).strip()[:90]


COMMANDS = readme_commands(README.read_text())

#: the commands share one scratch folder and some read what an earlier one wrote: under pytest-xdist
#: they must run in one worker, in order (``--dist loadfile`` of pyproject.toml does that; so does
#: ``--dist loadgroup`` with this mark)
pytestmark = pytest.mark.xdist_group("readme")


def test_readme_has_the_examples_this_test_runs():
    """The parser sees every example: the README's blocks are bash (run here), cron or python (shown
    as configuration) or text — a template naming the reader's own files or cluster, which the
    sentence before it must call placeholders — and the bash blocks hold the commands of every section."""
    text = README.read_text()
    langs = {lang for lang, _ in fenced_blocks(text)}
    assert langs <= {"bash", "cron", "python", "text", ""}, langs
    for match in re.finditer(r"^```text\n", text, flags=re.M):
        assert "placeholder" in text[max(0, match.start() - 300):match.start()], text[match.start():match.start() + 120]
    subcommands = {shlex.split(c, comments=True)[1] for _, c in COMMANDS if "o2c-sim " in c}
    assert {"run", "validate", "calibrate", "forecast", "gap", "sweep", "recommend", "report", "dashboard"} <= subcommands
    assert len(COMMANDS) >= 20


def test_shrink_only_shortens():
    assert shrink(".venv/bin/o2c-sim run baseline --replications 10 --out runs/x  # note") == _join(
        [f"{BIN}/o2c-sim", "run", "baseline", "--replications", "2", "--out", "runs/x", *_set_args()])
    assert shrink("make demo   # creates .venv") == "make -n demo"
    assert shrink(".venv/bin/o2c-sim run baseline --json > k.json").endswith(" > k.json")
    assert "-p overrides '{team.collectors: 8, portfolio.accounts: 100" in shrink(
        '.venv/bin/o2c-sim report run_scenario -p replications 10 -p overrides "{team.collectors: 8}"')


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("readme")
    for name in ("scenarios", "examples"):
        (work / name).symlink_to(ROOT / name)
    return work


def run_command(prelude: str, command: str, workdir: Path) -> subprocess.CompletedProcess:
    """Run one README command (shrunk) after its prelude, as the README's reader would in a shell."""
    script = f"set -euo pipefail\n{prelude}\n{command if re.match(ASSIGNMENT, command) else shrink(command)}\n"
    env = {**os.environ, "O2C_SIM_DATA_DIR": str(settings.data_dir()), "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    cwd = ROOT if command.startswith("make") else workdir
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("prelude,command", COMMANDS, ids=[_id(c) for _, c in COMMANDS])
def test_readme_command_runs(prelude, command, workdir):
    name = shlex.split(command, comments=True)
    if len(name) > 1 and name[0].endswith("o2c-sim") and name[1] in NOT_RUN:
        pytest.skip(f"'o2c-sim {name[1]}' is not run here: it {NOT_RUN[name[1]]}")
    if "$DATA" in command or "O2C_SIM_DATA_DIR" in command:
        require_file(settings.ibm_ar_csv(), "the IBM AR sample the README's examples use")
    done = run_command(prelude, command, workdir)
    assert done.returncode == 0, (f"README command failed (exit {done.returncode}):\n  {command}\n"
                                  f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}")


def test_a_changed_example_that_does_not_run_fails(workdir):
    """The runner sees failures: a misspelt override key in an example exits 2 through the same path."""
    done = run_command("", ".venv/bin/o2c-sim run baseline --set team.colectors=8", workdir)
    assert done.returncode == 2 and "colectors" in done.stderr
    assert run_command("", "make no-such-target", workdir).returncode != 0

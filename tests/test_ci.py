""".ci/run on a bare Debian: it installs what is missing (python3-venv, make, Chromium) with apt-get
as root, says plainly what to install when it is not root, and then runs the README's test command.

The machine is imitated by a PATH holding only small stand-ins: ``id`` (root or not), ``python3``
(without ensurepip until python3-venv is "installed"), ``apt-get`` (records its arguments and
"installs" make, chromium and ensurepip by creating their stand-ins) and, once installed, ``make``
(records its arguments). A real install is what CI itself does.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from o2c_sim import settings

CI_RUN = settings.PROJECT_ROOT / ".ci" / "run"


def _script(path: Path, body: str) -> None:
    path.write_text("#!/bin/bash\n" + body + "\n")
    path.chmod(0o755)


def _machine(tmp_path: Path, uid: int) -> Path:
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for tool in ("dirname", "cat", "chmod", "touch"):
        (bin_ / tool).symlink_to(shutil.which(tool))
    _script(bin_ / "id", f"echo {uid}")
    _script(bin_ / "python3", f'[ -e "{tmp_path}/ensurepip" ] && exit 0; exit 1')
    _script(bin_ / "apt-get", f'''echo "$*" >> "{tmp_path}/apt.log"
if [ "$1" = install ]; then
  for p in "$@"; do
    case $p in
      make) printf '#!/bin/bash\\necho "$*" > "{tmp_path}/make.log"\\n' > "{bin_}/make"; chmod +x "{bin_}/make";;
      chromium) printf '#!/bin/bash\\n' > "{bin_}/chromium"; chmod +x "{bin_}/chromium";;
      python3-venv) touch "{tmp_path}/ensurepip";;
    esac
  done
fi''')
    return bin_


def _run(bin_: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {"PATH": str(bin_), "HOME": str(tmp_path), "O2C_SIM_DATA_DIR": str(tmp_path / "no-data")}
    return subprocess.run(["/bin/bash", str(CI_RUN)], env=env, capture_output=True, text=True, timeout=60)


def test_as_root_it_installs_what_is_missing_then_runs_make_test(tmp_path):
    bin_ = _machine(tmp_path, uid=0)
    done = _run(bin_, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    apt = (tmp_path / "apt.log").read_text().splitlines()
    assert apt[0].startswith("update")
    assert apt[1].split()[-3:] == ["python3-venv", "make", "chromium"]
    assert (tmp_path / "make.log").read_text().split() == ["PYTHON=python3", "test"]
    assert "installing python3-venv make chromium" in done.stdout
    assert f"sample data not found in {tmp_path / 'no-data'}" in done.stdout


def test_without_root_it_names_what_to_install(tmp_path):
    bin_ = _machine(tmp_path, uid=1000)
    done = _run(bin_, tmp_path)
    assert done.returncode == 1
    assert "missing: python3-venv make chromium" in done.stdout
    assert "sudo apt-get install -y python3-venv make chromium" in done.stdout
    assert not (tmp_path / "apt.log").exists()


def test_nothing_missing_nothing_installed(tmp_path):
    bin_ = _machine(tmp_path, uid=1000)  # not root, but nothing to install: no root needed
    (tmp_path / "ensurepip").touch()
    _script(bin_ / "make", f'echo "$*" > "{tmp_path}/make.log"')
    _script(bin_ / "chromium", "")
    done = _run(bin_, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (tmp_path / "apt.log").exists()
    assert (tmp_path / "make.log").read_text().split() == ["PYTHON=python3", "test"]

"""The wheel carries the project's top-level shipped folders inside the package.

``scenarios/``, ``notebooks/`` and ``dashboards/`` stay at the top of the source tree (where people
look for them); the build copies them to ``o2c_sim/shipped/<folder>`` so that a non-editable install
finds them (``o2c_sim.settings.shipped_dir``). Everything else is configured in ``pyproject.toml``.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED_FOLDERS = ("scenarios", "notebooks", "dashboards")  # the same list as o2c_sim.settings.SHIPPED_FOLDERS
SKIPPED = {".ipynb_checkpoints", "__pycache__"}


class BuildPyWithShippedFolders(build_py):
    """``build_py`` plus a copy of each shipped folder into ``<build>/o2c_sim/shipped/``."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the source tree's folders directly
        for folder in SHIPPED_FOLDERS:
            for source in sorted((ROOT / folder).rglob("*")):
                if source.is_file() and not SKIPPED & set(source.relative_to(ROOT).parts):
                    target = Path(self.build_lib, "o2c_sim", "shipped", source.relative_to(ROOT))
                    self.mkpath(str(target.parent))
                    self.copy_file(str(source), str(target))


setup(cmdclass={"build_py": BuildPyWithShippedFolders})

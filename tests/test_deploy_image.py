"""The image installs the project as a wheel, so the wheel must carry every data file the code reads.

A YAML bank, a prompt or a migration left out of ``package-data`` works from a checkout and
breaks only in production; this builds the wheel (no Docker needed) and compares.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "chains", "tasks")
# Used only to author new migrations (alembic revision), never at run time.
AUTHORING_ONLY = {"bot/store/migrations/script.py.mako"}


def _source_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *PACKAGES],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout.split()
    return [path for path in listed if (ROOT / path).is_file()]


def test_wheel_carries_every_file_the_packages_need(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    files = _source_files()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for path in files:
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, source / path)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    wheel = next((tmp_path / "dist").glob("mockingbird-*.whl"))
    packed = set(zipfile.ZipFile(wheel).namelist())
    missing = [path for path in files if path not in packed and path not in AUTHORING_ONLY]
    assert not missing, f"not in the wheel (add them to [tool.setuptools.package-data]): {missing}"
    assert "bot/store/migrations/versions/0001_initial_schema.py" in packed

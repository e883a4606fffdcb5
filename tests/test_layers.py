"""The import layering: the contracts in pyproject.toml ([tool.importlinter]) hold, no two rooms
import each other, and the check fails when an arrow points the wrong way."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "chains", "tasks")
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())"]


def _room(module: str) -> str:
    """A module's room: its first two name parts (``bot.engine``, ``tasks.pipeline``)."""
    return ".".join(module.split(".")[:2])


def _sources_only(folder: str, names: list[str]) -> list[str]:
    """What the copy leaves out: everything but Python sources (grimp reads only those)."""
    return [n for n in names if not n.endswith(".py") and not (Path(folder) / n).is_dir() or n == "__pycache__"]


def test_the_layering_contracts_hold() -> None:
    result = subprocess.run([*LINT, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_no_two_rooms_import_each_other() -> None:
    """No cycle between rooms (``bot.engine``, ``bot.store``, ``tasks.pipeline``, ...), however long."""
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    arrows: dict[str, set[str]] = {}
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if _room(imported) != _room(module):
                arrows.setdefault(_room(module), set()).add(_room(imported))
    # A cycle exists iff some room reaches itself: walk from each room.
    cycles = []
    for start in arrows:
        seen, stack = set(), list(arrows[start])
        while stack:
            room = stack.pop()
            if room == start:
                cycles.append(start)
                break
            if room not in seen:
                seen.add(room)
                stack.extend(arrows.get(room, ()))
    assert not cycles, {room: sorted(arrows[room]) for room in cycles}


def test_the_check_fails_on_each_arrow_the_issue_named(tmp_path: Path) -> None:
    """The arrows issue 19 found (engine -> metrics, adapter -> tasks, tasks -> engine) are each caught."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=_sources_only)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    wrong = {
        "bot/engine/lifecycle.py": "import bot.ops.metrics",
        "bot/slack/stats.py": "import tasks.pipeline.jobs",
        "tasks/data/retention.py": "import bot.engine.views",
        "chains/schemas.py": "import bot.store.models",
    }
    for path, line in wrong.items():
        with (tmp_path / path).open("a") as handle:
            handle.write(f"\n{line}  # noqa\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run([*LINT, "--no-cache"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0
    for path, line in wrong.items():
        importer = path.removesuffix(".py").replace("/", ".")
        imported = line.split()[-1].rstrip(",")
        assert f"{importer} -> {imported}" in result.stdout, (importer, imported, result.stdout[-3000:])

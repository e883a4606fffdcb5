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


PURE = [  # what the engine, the grader and the training data need from chains, with no LangChain installed
    "chains.contract", "chains.schemas", "chains.prompts", "chains.fewshot", "chains.grading", "chains.bank",
    "chains.llm.parse", "chains.llm.schema", "chains.llm.wire", "chains.llm.safety", "chains.llm.errors",
    "chains.llm.retry", "chains.llm.task", "chains.llm.question", "chains.llm.feedback", "chains.llm.follow_up",
    "chains.llm.report", "chains.providers", "chains.providers.fallback", "chains.providers.offline",
    "chains.providers.base", "chains.llm.preview",
]
BLOCK_LANGCHAIN = """
import importlib, importlib.abc, json, sys

class NoLangChain(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0].startswith("langchain"):
            raise ModuleNotFoundError(f"blocked: {name}", name=name)
        return None

sys.meta_path.insert(0, NoLangChain())
loaded, refused = [], []
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
        loaded.append(name)
    except ModuleNotFoundError as exc:
        refused.append(f"{name}: {exc}")
from chains.bank import load_bank
from chains.contract import GradeRequest
from chains.llm import feedback
from chains.providers.offline import OfflineProvider

question = load_bank().questions[0]
graded = OfflineProvider().grade(GradeRequest(question=question, answer="I would measure it first."))
messages = feedback.build(question.kind, 0).messages(GradeRequest(question=question, answer="An answer."))
print(json.dumps({"loaded": loaded, "refused": refused, "score": graded.value.score,
                  "roles": [m["role"] for m in messages],
                  "langchain": sorted(m for m in sys.modules if m.startswith("langchain"))}))
"""


def test_the_pure_chain_modules_import_and_grade_without_langchain() -> None:
    """The engine, the offline grader, the tasks' prompts and the provider base load with LangChain
    blocked; a provider that needs it (``chains.providers.openai``) is refused, so the block is real."""
    import json

    names = [*PURE, "chains.providers.openai"]
    result = subprocess.run([sys.executable, "-c", BLOCK_LANGCHAIN, json.dumps(names)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["loaded"] == PURE and report["langchain"] == []
    assert [line.split(":")[0] for line in report["refused"]] == ["chains.providers.openai"]
    assert "blocked: langchain" in report["refused"][0]
    assert 1 <= report["score"] <= 10 and report["roles"] == ["system", "user"]

"""The lock is what installs: it covers the project's dependencies and keeps the default install light."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _lock() -> dict[str, dict]:
    packages = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))["package"]
    return {p["name"]: p for p in packages}


def _closure(lock: dict[str, dict], roots: list[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(d["name"] for d in lock[name].get("dependencies", []))
    return seen


def test_the_default_install_pulls_no_torch_or_transformers() -> None:
    lock = _lock()
    base = [d["name"] for d in lock["mockingbird"]["dependencies"]]
    closure = _closure(lock, base)
    assert "numpy" in closure and "tokenizers" in closure  # the grader's embedder is in the default install
    assert not closure & {"torch", "transformers", "sentence-transformers", "trl", "peft"}


def test_every_dependency_in_pyproject_is_locked_and_torch_is_the_cpu_build() -> None:
    lock = _lock()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = [d for d in project["dependencies"]] + [d for extra in project["optional-dependencies"].values()
                                                      for d in extra]
    for requirement in names:
        name = requirement.split(";")[0].split("[")[0]
        for marker in "<>=!~ ":
            name = name.split(marker)[0]
        assert name.lower().replace("_", "-").replace(".", "-") in {n.replace(".", "-") for n in lock}, name
    assert lock["torch"]["version"].endswith("+cpu")

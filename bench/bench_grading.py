"""Offline grading latency per answer on one core, beside the previous rubric as the baseline.

    .venv/bin/python bench/bench_grading.py [--repeat 3] [--json FILE]

Grades every answer of the annotated set (tasks/evaluation/annotated) with ``chains.grading``
(embedding included; the model and bank vectors are loaded once, as in a running bot) and,
in the same run, with the rubric it replaced (rubric-v1, loaded from git history at commit
9212789), pinned to one CPU with BLAS limited to one thread. Prints p50 / p99 / max in ms.
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chains import grading  # noqa: E402
from chains.schemas import Question  # noqa: E402
from tasks.evaluation import annotated  # noqa: E402

BASELINE_COMMIT = "9212789"


def baseline_rubric() -> Callable[[Question, str], object] | None:
    """rubric-v1 from git history, or None outside a git checkout."""
    try:
        source = subprocess.run(["git", "show", f"{BASELINE_COMMIT}:chains/rubric.py"], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("rubric_v1")
    sys.modules["rubric_v1"] = module  # dataclasses look their module up
    exec(compile(source, "rubric_v1.py", "exec"), module.__dict__)  # noqa: S102 - our own history
    return module.grade


def timings(grade: Callable[[Question, str], object], items: list, repeat: int) -> list[float]:
    grade(items[0][1], items[0][0].answer)  # load models and caches, as a running bot has (bot.app.warm_up)
    out = []
    for _ in range(repeat):
        for item, question in items:
            started = time.perf_counter()
            grade(question, item.answer)
            out.append((time.perf_counter() - started) * 1000)
    return out


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered), 3),
            "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 3), "max_ms": round(ordered[-1], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    items = annotated.load("all")
    grading.prepare()  # as bot.app.warm_up does before a server takes traffic
    result = {"answers": len(items), "grader-v2": summary(timings(grading.grade, items, args.repeat))}
    baseline = baseline_rubric()
    if baseline is not None:
        result["rubric-v1 (baseline)"] = summary(timings(baseline, items, args.repeat))
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

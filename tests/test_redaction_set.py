"""Redaction measured on a labelled set an auditor can read (tests/fixtures/redaction_set.yaml):
precision and recall per kind of personal data, and look-alikes (dates, percentages, versions,
amounts, latencies, timestamps, order ids) that must come back unchanged."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from chains.redact import redact

SET = Path(__file__).parent / "fixtures" / "redaction_set.yaml"
PLACEHOLDERS = {
    "phone": "[PHONE]", "card": "[CARD]", "iban": "[IBAN]",
    "email": "[EMAIL]", "profile": "[PROFILE]", "name": "[NAME]",
}
MIN_RECALL, MIN_PRECISION = 0.98, 0.95


def _cases() -> list[dict]:
    return yaml.safe_load(SET.read_text(encoding="utf-8"))


def measure(cases: list[dict]) -> tuple[dict[str, dict[str, float]], list[str], list[str]]:
    """Per kind: expected, found (placeholders written), true positives, precision, recall; and
    the look-alike lines that changed, and the lines with a miss or a false hit."""
    expected, found, hits = Counter(), Counter(), Counter()
    changed, misses = [], []
    for case in cases:
        text, want = case["text"], case.get("redact") or {}
        out = redact(text, case.get("names") or ())
        if not want and out != text:
            changed.append(f"{text!r} -> {out!r}")
        for kind, placeholder in PLACEHOLDERS.items():
            strings = want.get(kind, [])
            gone = sum(1 for s in strings if s not in out)
            written = out.count(placeholder)
            expected[kind] += len(strings)
            found[kind] += written
            hits[kind] += min(gone, written)
            if gone < len(strings) or written > len(strings):
                misses.append(f"{kind}: {text!r} -> {out!r}")
    table = {
        kind: {
            "expected": expected[kind], "found": found[kind], "hits": hits[kind],
            "precision": hits[kind] / found[kind] if found[kind] else 1.0,
            "recall": hits[kind] / expected[kind] if expected[kind] else 1.0,
        }
        for kind in PLACEHOLDERS
    }
    return table, changed, misses


def render(table: dict[str, dict[str, float]], cases: int, untouched: int, changed: int) -> str:
    lines = [f"{'kind':<8} {'expected':>8} {'found':>6} {'hits':>5} {'precision':>9} {'recall':>7}"]
    for kind, row in table.items():
        lines.append(f"{kind:<8} {row['expected']:>8} {row['found']:>6} {row['hits']:>5} "
                     f"{row['precision']:>9.3f} {row['recall']:>7.3f}")
    lines.append(f"{cases} lines; {untouched} must stay untouched, {changed} of them changed")
    return "\n".join(lines)


def test_the_set_covers_every_kind_and_enough_look_alikes() -> None:
    cases = _cases()
    assert len(cases) >= 150
    assert sum(1 for case in cases if not case.get("redact")) >= 40
    kinds = Counter(kind for case in cases for kind in (case.get("redact") or {}))
    assert set(kinds) == set(PLACEHOLDERS), kinds
    assert all(kinds[kind] >= 10 for kind in PLACEHOLDERS), kinds


def test_precision_and_recall_per_kind(record_property: pytest.RecordProperty, request: pytest.FixtureRequest) -> None:
    cases = _cases()
    table, changed, misses = measure(cases)
    untouched = sum(1 for case in cases if not case.get("redact"))
    report = render(table, len(cases), untouched, len(changed))
    # shown in the terminal summary whatever -s says (tests/conftest.py), in junit XML, and on failure below
    request.node.add_report_section("call", "redaction", report)
    record_property("redaction", report)
    low = [kind for kind, row in table.items() if row["recall"] < MIN_RECALL or row["precision"] < MIN_PRECISION]
    detail = "\n".join(["", report, *(["misses:", *misses] if misses else []),
                        *(["changed:", *changed] if changed else [])])
    assert not low and not changed, f"below recall {MIN_RECALL} / precision {MIN_PRECISION}: {low}{detail}"


def test_redaction_stays_fast() -> None:
    """Exports redact every answer: the whole set, many times over, in well under a second."""
    cases = _cases()
    start = time.perf_counter()
    for case in cases * 5:
        redact(case["text"], case.get("names") or ())
    per_line_ms = (time.perf_counter() - start) * 1000 / (len(cases) * 5)
    assert per_line_ms < 2.0, f"{per_line_ms:.3f} ms per line"

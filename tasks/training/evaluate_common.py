"""Agreement and JSON validity arithmetic shared by every backend's evaluation (no torch).

A reply counts as valid only if it parses strictly as ``Feedback``; it agrees when its score is
within one point of the reference (the recruiter-approved or chosen reply). An invalid reply to
a prompt with a known reference counts as a disagreement, so a model cannot gain agreement by
failing to answer.
"""

from __future__ import annotations

from typing import Any

from chains.schemas import Feedback
from tasks.training.data import completion_text, prompt_key
from tasks.training.feedback_json import parse_feedback


def reference_reply(row: dict[str, Any], method: str) -> Feedback | None:
    """The feedback a good model should write for this row's prompt (None where the row has none)."""
    if method == "dpo":
        text: str | None = completion_text(row, "chosen")
    elif method == "kto":
        text = completion_text(row, "completion") if row["label"] else None
    else:
        text = completion_text(row, "completion")
    return parse_feedback(text) if text else None


def unique_prompts(rows: list[dict[str, Any]], method: str) -> list[dict[str, Any]]:
    """One row per distinct prompt (for KTO, a desirable one), in file order."""
    seen: set[str] = set()
    chosen = []
    for row in rows:
        key = prompt_key(row)
        if key in seen or (method == "kto" and not row["label"]):
            continue
        seen.add(key)
        chosen.append(row)
    return chosen


def agreement_metrics(pairs: list[tuple[Feedback | None, Feedback | None]]) -> dict[str, Any]:
    """``pairs`` of (produced, reference) -> generated, json_validity, agreement, score_mae."""
    if not pairs:
        return {"generated": 0, "json_validity": None, "agreement": None, "score_mae": None}
    valid = sum(produced is not None for produced, _ in pairs)
    compared = [(p, r) for p, r in pairs if r is not None]
    errors = [abs(p.score - r.score) for p, r in compared if p is not None]
    agreed = sum(1 for error in errors if error <= 1)
    return {
        "generated": len(pairs),
        "json_validity": round(valid / len(pairs), 4),
        "agreement": round(agreed / len(compared), 4) if compared else None,
        "score_mae": round(sum(errors) / len(errors), 4) if errors else None,
    }

"""A recruiter's correction as typed into a form, validated the same way on every platform."""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import ValidationError

from bot.engine.errors import BadInput
from chains.schemas import Feedback

LISTS = ("strengths", "weaknesses", "suggestions")
FIELDS = ("score", *LISTS, "summary")
MAX_ITEMS = min(  # Feedback's own limit per list
    meta.max_length for name in LISTS for meta in Feedback.model_fields[name].metadata if hasattr(meta, "max_length")
)
# "• item", "•item", "- item", "* item"; not "-5%" or "**bold**"
_BULLET = re.compile(r"^(?:[•–·]|[-*](?=\s|$))\s*")


class BadCorrection(BadInput):
    """A correction that does not validate; ``problems`` is ``{field: message}``, one per field to fix."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("Please fix the correction: " + "; ".join(f"{f}: {m}" for f, m in problems.items()) + ".")


def items(text: str) -> list[str]:
    """One item per non-empty line, without a leading bullet."""
    return [item for line in text.splitlines() if (item := _BULLET.sub("", line.strip()).strip())]


def corrected_feedback(
    *, score: str, strengths: str, weaknesses: str, suggestions: str, summary: str, criteria: Mapping[str, int]
) -> Feedback:
    """The recruiter's feedback from the typed fields; ``criteria`` (per-criterion scores) is kept as given.

    The score may be written "7" or "7/10". Raises ``BadCorrection`` naming every field to fix.
    """
    problems: dict[str, str] = {}
    raw = score.strip().removesuffix("/10").strip()
    if not (raw.isdecimal() and len(raw) <= 2 and 1 <= int(raw) <= 10):
        problems["score"] = "must be a whole number from 1 to 10"
    lists = dict(zip(LISTS, (items(strengths), items(weaknesses), items(suggestions)), strict=True))
    for name, found in lists.items():
        if len(found) > MAX_ITEMS:
            problems[name] = f"at most {MAX_ITEMS} items, one per line (there are {len(found)})"
    if not summary.strip():
        problems["summary"] = "write a short summary of the corrected feedback"
    if problems:
        raise BadCorrection(problems)
    try:
        return Feedback(score=int(raw), summary=summary.strip(), criteria=dict(criteria), **lists)
    except ValidationError as exc:  # the model's own limits, e.g. the summary's length
        for error in exc.errors(include_url=False):
            field = str(error["loc"][0]) if error["loc"] else ""
            problems[field if field in FIELDS else "summary"] = error["msg"]  # Slack shows errors under fields
        raise BadCorrection(problems) from exc

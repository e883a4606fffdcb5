"""The readable part of a feedback reply that is still being written, for streaming it to a person.

A model streams its JSON a few characters at a time; ``readable`` shows what is already there
(score, strengths, weaknesses, suggestions, summary) as plain text, from LangChain's partial-JSON
parser. The preview only ever informs: the complete reply still goes through the provider base's one
parse / validate / repair path, and the platform replaces the preview with the validated feedback.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.utils.json import parse_partial_json

LISTS = (("strengths", "Strengths"), ("weaknesses", "To improve"), ("suggestions", "Suggestions"))


def readable(raw: str) -> str:
    """Plain text of the fields written so far, in the reply's own order ("" while nothing is)."""
    try:
        data: Any = parse_partial_json(raw.strip()) if raw.strip() else None
    except (json.JSONDecodeError, ValueError):
        return ""  # not JSON (yet, or at all): nothing worth showing
    if not isinstance(data, dict):
        return ""
    lines: list[str] = []
    # The score only once a later field has begun: "1" could still become "10".
    if len(data) > 1 and isinstance(data.get("score"), int) and not isinstance(data["score"], bool):
        lines.append(f"Score: {data['score']}/10")
    for key, title in LISTS:
        items = [str(item) for item in data.get(key) or [] if isinstance(item, str) and item]
        if items:
            lines.append(f"{title}:")
            lines.extend(f"• {item}" for item in items)
    if isinstance(data.get("summary"), str) and data["summary"]:
        lines.append(data["summary"])
    return "\n".join(lines)

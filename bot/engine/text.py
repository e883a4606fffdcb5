"""Normalise what a candidate typed before it is stored or graded."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# C0/C1 control characters except tab and newline; also bidi overrides, which can disguise text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class CleanText:
    text: str
    truncated: bool
    original_chars: int


def clean_answer(raw: str | bytes, limit: int) -> CleanText:
    """Decode (replacing invalid UTF-8), NFC-normalise, drop control characters, cap the length."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    text = unicodedata.normalize("NFC", raw).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    original = len(text)
    if original > limit:
        cut = text[:limit]
        # End on a word boundary when one is near, so the grader never sees half a word.
        space = cut.rfind(" ", int(limit * 0.9))
        text = (cut[:space] if space > 0 else cut).rstrip()
    return CleanText(text=text, truncated=original > limit, original_chars=original)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marking the cut with an ellipsis (chat platforms
    reject a message or block over their length limits)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"

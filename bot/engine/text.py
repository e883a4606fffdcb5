"""Normalise what a candidate typed before it is stored or graded, and recognise thread commands."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

ThreadCommand = Literal["skip", "end", "retry", "again", "help"]
_COMMANDS: dict[str, ThreadCommand] = {
    **dict.fromkeys(("skip", "pass", "next"), "skip"),
    **dict.fromkeys(("end", "stop", "quit", "finish"), "end"),
    **dict.fromkeys(("retry",), "retry"),
    **dict.fromkeys(("again", "try again"), "again"),
    **dict.fromkeys(("help", "?"), "help"),
}
THREAD_HELP = (
    "Reply in this thread with your answer. `skip` moves to the next question, `end` finishes "
    "early with your report, `again` answers the question you just had feedback on once more, "
    "`retry` finishes anything that failed."
)

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


def thread_command(text: str) -> ThreadCommand | None:
    """The command a candidate's whole message is (``skip``, ``/Skip``, ``Next!``…), or None for an answer.

    The same words on every front end; case, extra spaces, a leading "/" and a trailing "." or "!" do not matter.
    """
    word = " ".join(text.casefold().split()).removeprefix("/").rstrip(".!").strip()
    return _COMMANDS.get(word)


# ``[text](url)``: a masked link in Markdown (Discord renders it; so do some Slack surfaces).
_MASKED_LINK = re.compile(r"\[([^\[\]\n]*)\]\(\s*<?([^()\s<>]*)>?(?:\s+\"[^\"]*\")?\s*\)")


def unmask_links(text: str) -> str:
    """Masked links in model- or user-written text shown as what they are: ``text (url)``.

    A model persuaded by an answer could otherwise write ``[re-authenticate](https://evil.example)``
    and the chat would show only the friendly words; with the address spelled out beside them
    nobody is misled, and nothing is lost for an honest link.
    """
    for _ in range(8):  # nested ``[[a](u)](v)`` becomes a new masked link once the inner one is spelled out
        spelled = _MASKED_LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})" if m.group(2) else m.group(1), text)
        if spelled == text:
            break
        text = spelled
    return text


def shown_count(counts: dict[str, Any], side: str) -> str:
    """A tally side as shown: ``"3"``, or ``"3 (+2 from others)"`` when people other than the
    candidate and recruiters voted (their ratings are stored and shown, never counted)."""
    others = int(counts.get(f"others_{side}", 0) or 0)
    text = str(int(counts.get(side, 0) or 0))
    return f"{text} (+{others} from others)" if others else text

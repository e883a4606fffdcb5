"""Redaction of personal data in text that leaves an interview: exports, and other candidates'
answers shown to a model as few-shot exemplars. Emails, phone numbers, platform user ids and names.

Patterns catch what has a shape (emails, phone numbers, Slack ``<@U…>`` / ``U…`` ids, Discord
``<@…>`` mentions and snowflakes, ``@handles``); the names the platform gave us for the people
behind a row (display name, user id) are removed by value. Replacements are typed placeholders,
so the text stays readable for training.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# A run of digits with spaces, dots, dashes or brackets; _phone() decides by the digit count.
PHONE = re.compile(r"(?<![\w.+])(?:\+|\b00)?\(?\d[\d\s.\-()]{5,22}\d(?![\w.]?\d)")
SLACK_MENTION = re.compile(r"<@[UW][A-Z0-9]{6,}(?:\|[^>]*)?>")
SLACK_ID = re.compile(r"\b[UW][A-Z0-9]{8,11}\b")
DISCORD_MENTION = re.compile(r"<@[!&]?\d{15,21}>")
SNOWFLAKE = re.compile(r"\b\d{17,20}\b")
HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_][A-Za-z0-9_.\-]{1,31}\b")

PATTERNS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("email", EMAIL, "[EMAIL]"),
    ("slack_mention", SLACK_MENTION, "[USER]"),
    ("discord_mention", DISCORD_MENTION, "[USER]"),
    ("snowflake", SNOWFLAKE, "[USER]"),
    ("slack_id", SLACK_ID, "[USER]"),
    ("phone", PHONE, "[PHONE]"),
    ("handle", HANDLE, "[USER]"),
)
MIN_NAME_PART = 3


def _phone(match: re.Match[str]) -> str:
    """International numbers (``+``/``00``) from 8 digits, others from 9, so dates and years stay."""
    found = match.group(0)
    digits = sum(ch.isdigit() for ch in found)
    return "[PHONE]" if (8 if found.startswith(("+", "00")) else 9) <= digits <= 15 else found


def redact_patterns(text: str) -> str:
    # Cheap guards first: most text has no "@" and no long run of digits.
    has_at = "@" in text
    for name, pattern, placeholder in PATTERNS:
        if name in ("email", "handle", "slack_mention", "discord_mention") and not has_at:
            continue
        text = pattern.sub(_phone if name == "phone" else placeholder, text)
    return text


@lru_cache(maxsize=4096)
def _names_patterns(names: tuple[str, ...]) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    """Whole names in any case; parts of a name (``Cara``, ``Candidate``) only as written, so a
    person called Will does not take every "will" out of the text."""
    whole = {name.strip() for name in names if name.strip()}
    parts = {part for name in whole for part in re.split(r"[\s._\-]+", name) if len(part) >= MIN_NAME_PART}
    return _alternation(whole, re.IGNORECASE), _alternation(parts - whole, 0)


def _alternation(words: set[str], flags: int) -> re.Pattern[str] | None:
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", flags)


def redact(text: str, names: Iterable[str | None] = ()) -> str:
    """``text`` with personal data replaced; ``names`` are the known names and ids of the people concerned."""
    if not text:
        return text
    text = redact_patterns(text)  # first, so an email is not split by a name inside it
    for pattern in _names_patterns(tuple(sorted({n for n in names if n}))):
        if pattern is not None:
            text = pattern.sub("[NAME]", text)
    return text

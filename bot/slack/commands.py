"""Parse the text of ``/interview`` and ``/interview-stats``.

Parsing happens before the acknowledgement so bad input gets its usage message at once,
in the ack itself; it touches only the in-memory question bank, never the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.slack.blocks import esc
from chains.bank import Bank
from chains.bank.loader import UnknownRole
from chains.schemas import KINDS, LEVELS

USAGE = (
    "Usage: `/interview [role] [behavioral|technical] [junior|mid|senior] [N]`, for example "
    "`/interview backend technical senior 5`. With no arguments I open a form. "
    "`/interview help` explains the rest."
)
STATS_USAGE = "Usage: `/interview-stats [days]`, for example `/interview-stats 30` (1 to 365 days)."
HELP_WORDS = {"help", "-h", "--help", "?", "usage"}
FORGET_WORDS = {"forget-me", "forget me", "delete-my-data"}


@dataclass(frozen=True)
class InterviewRequest:
    role: str
    kind: str
    level: str
    questions: int | None
    adaptive: bool = True  # the level follows the answers (the form can switch it off)
    job_ad: str | None = None  # pasted in the form: the questions practise its requirements


@dataclass(frozen=True)
class ForgetMe:
    """``/interview forget-me``: the candidate deletes their own data."""


@dataclass(frozen=True)
class Reply:
    """Not a request: text to show the user instead (help, or what was wrong and the usage)."""

    text: str


def parse_interview(text: str, bank: Bank, max_questions: int) -> InterviewRequest | ForgetMe | Reply | None:
    """``None`` for no arguments (open the form); a ``Reply`` for help or bad input."""
    words = text.split()
    if not words:
        return None
    if " ".join(words).lower() in FORGET_WORDS:
        return ForgetMe()
    if len(words) == 1 and words[0].lower() in HELP_WORDS:
        return Reply("help")
    kind, level, count, role_words = "behavioral", "mid", None, []
    for word in words:
        lower = word.lower()
        if lower in KINDS:
            kind = lower
        elif lower in LEVELS:
            level = lower
        elif lower.isdecimal():
            if count is not None:
                return Reply(f"I found two question counts ({count} and {lower}). {USAGE}")
            count = int(lower)
        else:
            role_words.append(word)
    if count is not None and not 1 <= count <= max_questions:
        return Reply(f"Choose between 1 and {max_questions} questions (you asked for {count}). {USAGE}")
    if not role_words:
        return Reply(f"Which role is the interview for? Roles: {', '.join(sorted(bank.roles))}. {USAGE}")
    try:
        role = bank.resolve_role(" ".join(role_words))
    except UnknownRole as exc:
        return Reply(f"{esc(exc)} {USAGE}")  # the error lists the roles (or the candidates, when ambiguous)
    return InterviewRequest(role=role, kind=kind, level=level, questions=count)


def parse_stats(text: str) -> int | Reply:
    """The number of days (default 30), or a usage reply."""
    words = text.split()
    if not words:
        return 30
    if len(words) == 1 and words[0].isdecimal() and 1 <= int(words[0]) <= 365:
        return int(words[0])
    if len(words) == 1 and words[0].lower() in HELP_WORDS:
        return Reply(STATS_USAGE)
    return Reply(f"I couldn't read {esc(repr(text.strip()))} as a number of days. {STATS_USAGE}")

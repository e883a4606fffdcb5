"""Adaptive difficulty: the level of the next question follows how the candidate is doing.

Two strong answers in a row move the next question one level up, two weak ones one level down;
anything in between keeps the level and breaks the run. Only first attempts at main questions
count (a follow-up probes the same topic, a second attempt has seen the feedback), and a skip
neither helps nor hurts. The level is a pure function of the session's start level and scores,
so any replica computes the same path from the stored turns, and the report can show it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.engine.views import SessionView, TurnView
from chains.schemas import LEVELS

STRONG = 7  # a score at or above this is a strong answer
WEAK = 4  # a score at or below this is a weak answer
RUN = 2  # answers in a row that move the level


def level_after(start: str, scores: Iterable[int]) -> str:
    """The level of the next question after first-attempt ``scores`` (in order) from ``start``."""
    position, strong, weak = LEVELS.index(start), 0, 0  # type: ignore[arg-type]
    for score in scores:
        strong, weak = (strong + 1, 0) if score >= STRONG else (0, weak + 1) if score <= WEAK else (0, 0)
        if strong == RUN:
            position, strong = min(position + 1, len(LEVELS) - 1), 0
        elif weak == RUN:
            position, weak = max(position - 1, 0), 0
    return LEVELS[position]


def counted(turns: Sequence[TurnView]) -> list[TurnView]:
    """The turns that move the level: graded first attempts at main questions, in order."""
    return [t for t in turns if t.follow_up_of is None and t.attempt_of is None and t.feedback is not None]


def possible_next_levels(view: SessionView) -> list[str]:
    """The levels the question after the current one can be asked at, once the current answer is
    graded: the level as it stands first, then the one a strong or a weak answer would move it to
    (at most one of them: a move needs a run, and the last answer began at most one kind of run)."""
    if not view.adaptive:
        return [view.level]
    scores = [t.feedback.score for t in counted(view.turns) if t.feedback]
    return list(dict.fromkeys(level_after(view.level, [*scores, score]) for score in (WEAK + 1, STRONG, WEAK)))


def next_level(view: SessionView) -> str:
    """The level to ask the session's next question at (its own level when adaptivity is off)."""
    if not view.adaptive:
        return view.level
    return level_after(view.level, [t.feedback.score for t in counted(view.turns) if t.feedback])


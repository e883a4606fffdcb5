"""Few-shot candidates from stored feedback: what recruiters corrected and what candidates liked.

The engine passes these to the provider with every grading call (``GradeRequest.exemplars``);
the chain picks the closest ones that fit ``FEWSHOT_TOKEN_BUDGET``. Only the same role and
interview kind are used, recruiter corrections come first (they are the best labels we
have), then feedback rated 👍 more often than 👎 (by the candidate and recruiters: other people's
ratings never make an exemplar). Candidates' names are taken out of their
answers before anyone else's prompt sees them; deleted people are gone with their turns, and
forgetting someone empties every cache in the process (``bot.store.privacy.ON_FORGET``); another
process's cache keeps them at most ``ttl_s`` longer.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref

from pydantic import ValidationError
from sqlalchemy import case, func, select

from bot.store import privacy
from bot.store.db import Database
from bot.store.models import Correction, InterviewSession, Rating, Turn, User
from bot.store.tally import counted_rater
from chains.redact import redact
from chains.schemas import Feedback

log = logging.getLogger(__name__)

Exemplar = tuple[str, str, Feedback]
_SOURCES: weakref.WeakSet[ExemplarSource] = weakref.WeakSet()


def _forget_cached() -> None:
    for source in list(_SOURCES):
        source.clear()


privacy.ON_FORGET.append(_forget_cached)


class ExemplarSource:
    """``source(role, kind)`` -> up to ``limit`` (question, answer, feedback), best source first."""

    def __init__(self, db: Database, limit: int = 12, ttl_s: float = 30.0) -> None:
        self.db = db
        self.limit = limit
        # Exemplars change slowly (a correction or a rating at a time) while every answer asks for
        # them: a short-lived per-process cache keeps two aggregate queries off the answer path.
        self.ttl_s = ttl_s
        self._cache: dict[tuple[str, str], tuple[float, tuple[Exemplar, ...]]] = {}
        self._lock = threading.Lock()
        _SOURCES.add(self)

    def clear(self) -> None:
        """Drop every cached exemplar (someone was forgotten)."""
        with self._lock:
            self._cache.clear()

    def __call__(self, role: str, kind: str) -> tuple[Exemplar, ...]:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get((role, kind))
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        exemplars = self._query(role, kind)
        with self._lock:
            self._cache[(role, kind)] = (now, exemplars)
        return exemplars

    def _query(self, role: str, kind: str) -> tuple[Exemplar, ...]:
        with self.db.session() as session:
            corrected = session.execute(
                select(Turn.id, Turn.question, Turn.answer, Correction.feedback, User.display_name,
                       User.platform_user_id)
                .join(Correction, Correction.turn_id == Turn.id)
                .join(InterviewSession, InterviewSession.id == Turn.session_id)
                .join(User, User.id == InterviewSession.candidate_id)
                .where(InterviewSession.role == role, InterviewSession.kind == kind, Turn.answer.is_not(None))
                .order_by(Correction.updated_at.desc(), Correction.id.desc())
                .limit(self.limit * 2)
            ).all()
            liked_ids = (  # by the votes that count: the candidate's and recruiters' (bot.store.tally)
                select(Rating.turn_id)
                .join(Turn, Turn.id == Rating.turn_id)
                .join(InterviewSession, InterviewSession.id == Turn.session_id)
                .where(counted_rater(Rating.rater_id, InterviewSession.candidate_id))
                .group_by(Rating.turn_id)
                .having(
                    func.sum(case((Rating.value > 0, 1), else_=0))
                    > func.sum(case((Rating.value < 0, 1), else_=0))
                )
                .subquery()
            )
            liked = session.execute(
                select(Turn.id, Turn.question, Turn.answer, Turn.feedback, User.display_name, User.platform_user_id)
                .join(InterviewSession, InterviewSession.id == Turn.session_id)
                .join(User, User.id == InterviewSession.candidate_id)
                .where(
                    Turn.id.in_(select(liked_ids.c.turn_id)),
                    InterviewSession.role == role,
                    InterviewSession.kind == kind,
                    Turn.answer.is_not(None),
                    Turn.feedback.is_not(None),
                )
                .order_by(Turn.graded_at.desc(), Turn.id.desc())
                .limit(self.limit * 2)
            ).all()
        chosen: dict[int, Exemplar] = {}
        for turn_id, question, answer, feedback, name, user_id in [*corrected, *liked]:
            if turn_id in chosen or len(chosen) >= self.limit:
                continue  # one exemplar per turn: a correction outranks the rated original
            try:
                chosen[turn_id] = (question, redact(answer, (name, user_id)), Feedback.model_validate(feedback))
            except ValidationError:
                log.warning("skipping turn %s as an exemplar: stored feedback does not validate", turn_id)
        return tuple(chosen.values())

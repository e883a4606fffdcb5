"""Reading what the engine stored, for adapters: which interview runs in a thread, a person's
open session and history, the feedback shown for a turn, vote counts and team statistics.
Nothing here writes.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.engine.actors import Actor
from bot.engine.core import EngineCore, in_thread, thread_params
from bot.engine.errors import TurnNotFound
from bot.engine.progress import CandidateProgress, TeamWeakness, candidate_progress, team_weaknesses
from bot.engine.views import FINISHED, SessionView, ThreadInterview, TurnView
from bot.store.models import InterviewSession, SessionState, Turn, User, UserRole, utcnow
from bot.store.stats import Stats, compute_stats
from bot.store.tally import tally

# Every chat message runs this one: built once.
_OWNER = (select(InterviewSession.id, User.platform_user_id, InterviewSession.state)
          .join(User, InterviewSession.candidate_id == User.id))
_OWNER_IN_THREAD, _OWNER_IN_CHANNEL_THREAD = in_thread(_OWNER, False), in_thread(_OWNER, True)


class Queries(EngineCore):
    def in_thread(self, platform: str, channel_id: str | None, thread_id: str) -> ThreadInterview | None:
        """Which interview runs in a thread, and whose it is: one indexed query, for every chat message."""
        query = _OWNER_IN_CHANNEL_THREAD if channel_id is not None else _OWNER_IN_THREAD
        with self.db.autocommit() as connection:
            row = connection.execute(query, thread_params(platform, channel_id, thread_id)).first()
        return ThreadInterview(row.id, row.platform_user_id, SessionState(row.state)) if row else None

    def open_session(self, actor: Actor) -> SessionView | None:
        """The actor's most recent unfinished session on this platform (for ``--resume``)."""
        with self.db.session() as session:
            record = session.scalars(
                select(InterviewSession).join(User, InterviewSession.candidate_id == User.id)
                .where(User.platform == actor.platform, User.platform_user_id == actor.user_id,
                       InterviewSession.state.not_in(FINISHED))
                .order_by(InterviewSession.id.desc()).limit(1)
            ).first()
            return SessionView.of(record) if record else None

    def history(self, actor: Actor, limit: int = 20) -> list[dict[str, Any]]:
        """The actor's recent sessions with average scores, newest first (for progress views)."""
        with self.db.session() as session:
            records = session.scalars(
                select(InterviewSession).join(User, InterviewSession.candidate_id == User.id)
                .where(User.platform == actor.platform, User.platform_user_id == actor.user_id)
                .options(selectinload(InterviewSession.turns))
                .order_by(InterviewSession.id.desc()).limit(limit)
            ).all()
            history = []
            for record in records:
                # first attempts only, as in the report: a second attempt has seen the feedback
                scores = [t.feedback["score"] for t in record.turns if t.feedback and t.attempt_of is None]
                history.append({
                    "session_id": record.id, "role": record.role, "kind": record.kind, "level": record.level,
                    "state": record.state.value, "created_at": record.created_at.isoformat(),
                    "average_score": round(sum(scores) / len(scores), 1) if scores else None,
                })
            return history

    def progress(self, actor: Actor, today: date | None = None) -> CandidateProgress:
        """The actor's own progress over time (``bot.engine.progress``)."""
        with self.db.session() as session:
            return candidate_progress(session, actor.platform, actor.user_id, today or utcnow().date())

    def team_progress(self, actor: Actor) -> list[TeamWeakness]:
        """The weakest criteria across the actor's team (their platform) by role: team leads only."""
        self.require(actor, UserRole.team_lead, "see the team's progress")
        with self.db.session() as session:
            return team_weaknesses(session, actor.platform)

    def _graded_turn(self, session: Session, turn_id: int) -> Turn:
        turn = session.get(Turn, turn_id)
        if turn is None or turn.feedback is None:
            raise TurnNotFound("That feedback no longer exists (it may have been deleted).")
        return turn

    def tally(self, turn_id: int, rater: Actor | None = None) -> dict[str, Any]:
        """👍 / 👎 counts of a turn, as stored; with ``rater``, also their own rating as ``"mine"``."""
        with self.db.autocommit() as connection:
            return tally(connection, turn_id, (rater.platform, rater.user_id) if rater else None)

    def feedback_of(self, turn_id: int) -> tuple[TurnView, SessionView]:
        """The feedback currently shown for a turn (a recruiter form is prefilled with it)."""
        with self.db.session() as session:
            turn = self._graded_turn(session, turn_id)
            return TurnView.of(turn), SessionView.of(self._load(session, turn.session_id))

    def stats(self, actor: Actor, days: int, by: str) -> Stats:
        """Team-lead statistics (the same figures as ``mockingbird stats``); team leads only."""
        self.require(actor, UserRole.team_lead, "see interview statistics")
        return compute_stats(self.db, days, by)

"""Answer intake: a candidate's reply (or skip) claims the open question exactly once, across
redeliveries and replicas, and is handed to grading.

A platform redelivers events; the answer's event id is stored with it, so a second delivery
is recognised (``duplicate``), and ``claim_event`` deduplicates the other commands.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.engine import attempts
from bot.engine.actors import Actor
from bot.engine.errors import BadInput, ConcurrentUpdate, InvalidTransition
from bot.engine.lifecycle import GradingWork, Lifecycle, OnGraded
from bot.engine.text import CleanText, clean_answer
from bot.engine.views import FINISHED, Progress, SessionView
from bot.store.models import InterviewSession, ProcessedEvent, SessionState, Turn, TurnState, utcnow

log = logging.getLogger(__name__)


class Intake(Lifecycle):
    def answer(self, session_id: int, actor: Actor, text: str | bytes, *, event_id: str | None = None,
               on_graded: OnGraded | None = None) -> Progress:
        """Store the candidate's answer to the current question, grade it, move on.

        ``on_graded`` is called with the feedback (and the session it belongs to) as soon as it
        is stored, before the next question is prepared, so an adapter can show it without
        waiting for that work.
        """
        cleaned = self._cleaned(text)
        with self.db.session() as session:
            record = self._load(session, session_id)
            self._check_candidate(record, actor)
            taken = self._take_answer(session, record, cleaned, event_id)
        if isinstance(taken, Progress):
            return taken
        return self._grade_and_advance(session_id, taken[0].turn_id, on_graded, *taken)

    def answer_in_thread(self, platform: str, channel_id: str | None, thread_id: str, actor: Actor,
                         text: str | bytes, *, event_id: str | None = None,
                         on_claimed: Callable[[], None] | None = None,
                         on_graded: OnGraded | None = None,
                         on_text: Callable[[str], None] | None = None) -> Progress | None:
        """``answer`` for a chat reply in a thread, finding the thread's interview in the same transaction.

        None when the thread runs no interview or the author is not its candidate: then the
        message is no answer and nothing is stored. ``on_claimed`` runs once the answer is
        stored, before grading (an adapter shows its "thinking…" placeholder then); ``on_text``
        gets the feedback's readable text while a streaming provider writes it.
        """
        with self.db.session() as session:
            record = self._load_thread(session, platform, channel_id, thread_id)
            if record is None or (record.candidate.platform_user_id != actor.user_id):
                return None
            taken = self._take_answer(session, record, self._cleaned(text), event_id)
        if isinstance(taken, Progress):
            return taken
        if on_claimed is not None:
            try:
                on_claimed()
            except Exception:  # a courtesy (a placeholder): the stored answer is graded regardless
                log.exception("on_claimed callback failed for session %s", record.id)
        return self._grade_and_advance(record.id, taken[0].turn_id, on_graded, *taken, on_text=on_text)

    def again(self, session_id: int, actor: Actor, turn_id: int | None = None) -> Progress:
        """Try again: ask the question just graded (``turn_id``, when a button names it) once more
        (``bot.engine.attempts``)."""
        with self.db.session() as session:
            record = self._load(session, session_id)
            self._check_candidate(record, actor)
            asked = attempts.reopen(session, record, turn_id)
        view = self.get(session_id)
        return Progress(session=view, next_question=next(t for t in view.turns if t.id == asked))

    def _cleaned(self, text: str | bytes) -> CleanText:
        cleaned = clean_answer(text, self.settings.max_answer_chars)
        if not cleaned.text:
            raise BadInput("Your answer is empty. Type your answer, or 'skip' to move to the next question.")
        return cleaned

    def _take_answer(self, session: Session, record: InterviewSession, cleaned: CleanText,
                     event_id: str | None) -> Progress | tuple[GradingWork, SessionView]:
        """Claim the open question for an answer; a ``duplicate`` Progress for a redelivered event."""
        if event_id and any(t.answer_event_id == event_id for t in record.turns):
            return Progress(session=SessionView.of(record), duplicate=True)
        turn = self._claim_current(session, record, "answer")
        turn.answer, turn.answer_truncated, turn.answer_event_id = cleaned.text, cleaned.truncated, event_id
        turn.state, turn.answered_at = TurnState.answered, utcnow()
        return GradingWork.of(record, turn), SessionView.of(record)

    def skip(self, session_id: int, actor: Actor) -> Progress:
        with self.db.session() as session:
            record = self._load(session, session_id)
            self._check_candidate(record, actor)
            turn = self._claim_current(session, record, "skip")
            turn.state = TurnState.skipped
        return self._advance(session_id)

    def _claim_current(self, session: Session, record: InterviewSession, action: str) -> Turn:
        """Move ``awaiting_answer`` -> ``grading`` atomically and return the open turn."""
        if record.state in FINISHED:
            raise InvalidTransition(f"This interview has ended, so there is nothing to {action}. "
                                    "Start a new one whenever you like.")
        if record.state == SessionState.grading and not record.turns:
            raise ConcurrentUpdate("I'm still writing your first question; answer it once it appears.")
        if record.state == SessionState.grading:
            raise ConcurrentUpdate("I'm still working on your previous answer; give me a moment.")
        turn = next((t for t in reversed(record.turns) if t.state == TurnState.asked), None)
        if turn is None:  # the session row was read just before another reply claimed the question
            raise ConcurrentUpdate("I'm still working on your previous answer; give me a moment.")
        self._cas(session, record, SessionState.grading, expect=SessionState.awaiting_answer)
        return turn

    def claim_event(self, key: str) -> bool:
        """True the first time a platform event key is seen, on any replica; False for a redelivery.

        The primary key of ``processed_events`` makes the claim atomic. Answers are deduplicated
        by their own event id (``answer(event_id=...)``); this covers skip, end, retry and help.
        """
        try:
            with self.db.session() as session:
                session.add(ProcessedEvent(key=key[:200]))
            return True
        except IntegrityError:
            return False

    def answer_stored(self, session_id: int, event_id: str) -> bool:
        """Whether the answer carried by ``event_id`` is stored (by this delivery or another)."""
        with self.db.autocommit() as connection:
            found = connection.scalar(
                select(Turn.id).where(Turn.session_id == session_id, Turn.answer_event_id == event_id))
            return found is not None

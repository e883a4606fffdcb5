"""The next question, written while the candidate answers the current one.

Without this, an answer waits for two model calls in a row: the feedback, then the next
question. The next main question does not depend on the answer (a follow-up does, and is still
written after it), so it can be written as soon as the current question is asked. It is stored
on the session row (``interview_sessions.next_question``), so whichever replica handles the
answer can use it; only the replica that advanced the session (a compare-and-set) takes it.

Only a question written before any later question was asked is stored: a prefetch that finishes
late (the candidate answered first and another replica already wrote the next question) is
dropped. A prefetch still running in this process when the answer's feedback is done is waited
for rather than duplicated. A failed prefetch changes nothing: the answer path writes the
question itself, as before. In an adaptive session the level can move with the score of the
answer being written, so when it can (the last answer began a strong or a weak run) a question is
prepared for each level it can land on, the likeliest (unchanged) first: one more question call
in those turns, instead of the candidate waiting for it after the feedback. A prepared question
whose plan no longer holds is not used.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from typing import Any

from sqlalchemy import select, update

from bot.engine.views import SessionView
from bot.store.db import Database
from bot.store.models import InterviewSession, Turn
from chains.schemas import Question

log = logging.getLogger(__name__)

# What a question was written for (its level, the job-ad requirement it probes): a prepared
# question is used only when the session, once the answer is graded, still plans the same.
Plan = dict[str, Any]
WriteQuestion = Callable[[SessionView, str], tuple[Question, Plan]]  # the view and a level
# Written by the compare-and-set that asks a main question: the prepared one is used or stale.
CLEARED: dict[str, Any] = {"next_question": None}


class NextQuestions:
    """Prepares and hands out each session's next main question (``prepare_after`` / ``take``)."""

    def __init__(self, db: Database, *, workers: int = 16, wait_s: float = 60.0) -> None:
        self.db = db
        self.wait_s = wait_s  # the longest an answer waits for this process's own prefetch
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="next-question")
        self._running: dict[int, Future[None]] = {}
        self._lock = threading.Lock()

    def prepare_after(self, view: SessionView, levels: list[str], write: WriteQuestion) -> None:
        """Start writing the question that follows ``view``'s current one, when one will follow, at
        each of the ``levels`` it may be asked at."""
        mains = sum(1 for t in view.turns if t.follow_up_of is None and t.attempt_of is None)  # not a try again
        if view.finished or view.current is None or mains >= view.planned_questions:
            return
        with self._lock:
            future = self._pool.submit(self._prepare, view, levels, write)
            self._running[view.id] = future
        future.add_done_callback(lambda done: self._forget(view.id, done))

    def take(self, view: SessionView, plan: Plan) -> Question | None:
        """The prepared question for ``view``, or None to write one now.

        None too when none was planned alike (a failed write for the level the answer moved to)
        or it was already asked in this session (a late duplicate). Only read here: the
        compare-and-set that asks the next main question clears it from the row in the same
        UPDATE (``CLEARED``), so only the replica that advanced the session uses it.
        """
        self.wait(view.id, self.wait_s)
        with self.db.autocommit() as connection:
            stored = connection.scalar(
                select(InterviewSession.next_question).where(InterviewSession.id == view.id)
            )
        planned = [c["question"] for c in (stored or {}).get("candidates", ()) if c["plan"] == plan]
        if not planned:
            return None
        question = Question.model_validate(planned[0])
        asked = {t.question_id for t in view.turns} | {t.question for t in view.turns}
        return None if question.id in asked or question.text in asked else question

    def wait(self, session_id: int, timeout: float) -> None:
        """Until this process's prefetch for the session (if any) has finished or ``timeout`` passed."""
        with self._lock:
            running = self._running.get(session_id)
        if running is not None:
            wait_for([running], timeout=timeout)

    def _prepare(self, view: SessionView, levels: list[str], write: WriteQuestion) -> None:
        current = view.turns[-1]
        candidates = []
        for level in levels:
            try:
                question, plan = write(view, level)
            except Exception as exc:  # the answer path writes it instead
                log.warning("could not prepare the next question of session %s: %s", view.id, exc)
                continue
            candidates.append({"question": question.model_dump(mode="json"), "plan": plan})
        if not candidates:
            return
        later = select(Turn.id).where(Turn.session_id == view.id, Turn.index > current.index).exists()
        with self.db.autocommit() as connection:
            connection.execute(
                update(InterviewSession)
                .where(InterviewSession.id == view.id, ~later)
                .values(next_question={"candidates": candidates})
            )

    def _forget(self, session_id: int, done: Future[None]) -> None:
        with self._lock:
            if self._running.get(session_id) is done:
                del self._running[session_id]

    def close(self) -> None:
        self._pool.shutdown(wait=True)

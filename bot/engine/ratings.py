"""Signals about feedback: 👍 / 👎 ratings, recruiters' corrections and the end-of-session survey.

Ratings and corrections are handed to the background side as plain-JSON payloads through the
``SignalSink`` the composition root gave the engine (idempotency keys make a resend harmless);
the survey is stored here. Roles are enforced here, not in the adapters.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bot.engine.actors import Actor
from bot.engine.core import EngineCore
from bot.engine.errors import BadInput, EngineError, TurnNotFound
from bot.engine.signals import RECORD_CORRECTION, RECORD_RATING, correction_key, rating_key
from bot.engine.text import clean_answer
from bot.store.models import SurveyResponse, Turn, User, UserRole
from chains.schemas import Feedback

GONE = "That feedback no longer exists (it may have been deleted)."
# A rater's row and whether the turn has feedback to rate, in one statement (built once: every click runs it).
_RATER = select(
    User, select(Turn.id).where(Turn.id == bindparam("turn_id"), Turn.feedback.is_not(None)).exists().label("graded")
).where(User.platform == bindparam("platform"), User.platform_user_id == bindparam("user_id"))


class Signals(EngineCore):
    @staticmethod
    def _require_feedback(session: Session, turn_id: int) -> None:
        """Like ``_graded_turn`` without loading the turn (its prompt and answer can be long)."""
        if session.scalar(select(Turn.id).where(Turn.id == turn_id, Turn.feedback.is_not(None))) is None:
            raise TurnNotFound(GONE)

    def rate(self, turn_id: int, actor: Actor, value: int) -> dict[str, Any]:
        """👍 (+1) / 👎 (-1) / withdraw (0). Handed to the background side; returns the payload sent.

        When the sink stored it at once (in-process), the result also carries ``"tally"``: the
        turn's counts as that transaction left them, with this rater's ``"mine"`` (an adapter
        showing them needs no second read). A sink that sends it on (Celery) adds nothing.
        """
        if value not in (-1, 0, 1):
            raise BadInput("A rating is +1 (helpful), -1 (not helpful) or 0 (withdraw).")
        with self.db.session() as session:
            found = session.execute(_RATER, {"turn_id": turn_id, "platform": actor.platform,
                                             "user_id": actor.user_id}).first()
            if found is None:  # someone new: the feedback is checked before they are created
                self._require_feedback(session, turn_id)
            elif not found.graded:
                raise TurnNotFound(GONE)
            user = self._user(session, actor, found.User if found is not None else None)
            person = {"platform": actor.platform, "user_id": actor.user_id,
                      "display_name": actor.display_name, "role": user.role.value}
        payload = {"turn_id": turn_id, "rater": person, "value": value,
                   "idempotency_key": rating_key(turn_id, actor.platform, actor.user_id, value)}
        stored = self._submit(RECORD_RATING, payload)
        self.observer.rating(actor.platform, value)
        return payload if stored is None else {**payload, "tally": stored}

    def correct(self, turn_id: int, actor: Actor, feedback: Feedback, note: str | None = None) -> dict[str, Any]:
        """A recruiter's corrected feedback. Non-recruiters get ``Forbidden`` and nothing is stored."""
        self.require(actor, UserRole.recruiter, "correct feedback")
        with self.db.session() as session:
            self._require_feedback(session, turn_id)
        digest = hashlib.sha256(feedback.model_dump_json().encode()).hexdigest()[:16]
        payload = {
            "turn_id": turn_id, "feedback": feedback.model_dump(), "note": note,
            "recruiter": {"platform": actor.platform, "user_id": actor.user_id,
                          "display_name": actor.display_name, "role": UserRole.recruiter.value},
            "idempotency_key": correction_key(turn_id, actor.platform, actor.user_id, digest),
        }
        self._submit(RECORD_CORRECTION, payload)
        return payload

    def _submit(self, task: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        if self.signals is None:
            raise EngineError("Ratings are not configured in this process.")
        return self.signals.submit(task, payload)

    def survey(self, session_id: int, actor: Actor, usefulness: int, comment: str | None = None) -> None:
        """"How useful was this practice? 1-5", once per session (a second answer replaces the first)."""
        if not 1 <= usefulness <= 5:
            raise BadInput("Please rate usefulness from 1 (not useful) to 5 (very useful).")
        cleaned = clean_answer(comment, 1000).text if comment else None
        with self.db.session() as session:
            record = self._load(session, session_id)
            self._check_candidate(record, actor)
            existing = session.scalar(select(SurveyResponse).where(SurveyResponse.session_id == session_id))
            if existing is None:
                session.add(SurveyResponse(session_id=session_id, usefulness=usefulness, comment=cleaned or None))
            else:
                existing.usefulness, existing.comment = usefulness, cleaned or None

"""Data retention: remove interview transcripts older than ``RETENTION_DAYS``.

What goes and what stays (the policy, also in docs/operations.md):

- A session is *expired* when its last activity (``updated_at``) is older than the cutoff, so
  an interview still in use is never touched. An expired session that never finished is
  abandoned: it is ended, its open question marked skipped.
- Every free text written by, for or about the candidate in an expired session is removed:
  answers, the prompts sent to the model and its raw output, the text of the feedback
  (strengths, weaknesses, suggestions, summary), follow-up questions (they quote answers),
  recruiters' corrections (text and note), survey comments, and the preference pairs made
  from them (training data is transcript too). Delivered outbox messages, dead letters and
  processed-event ids older than the cutoff go as well; undelivered outbox messages stay.
- Numbers stay: sessions (role, kind, level, state, dates, model version), turns (bank
  question, scores and per-criterion scores, provider, latency, JSON validity), ratings,
  survey scores. So satisfaction over time, per model version, correction and JSON validity
  rates keep their history, and a purged feedback is still a valid ``Feedback`` for every
  screen that shows old sessions.

We scrub rather than delete rows because the aggregate history is what team leads compare
models with, and it holds nothing that identifies what a candidate said. Deleting a person
altogether is ``mockingbird forget`` (the engine's ``forget``). Running a purge twice changes
nothing the second time.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.orm import Session

from bot.config import Settings, get_settings
from bot.store.db import Database
from bot.store.models import (
    FINISHED,
    Correction,
    DeadLetter,
    InterviewSession,
    OutboxMessage,
    PreferencePair,
    ProcessedEvent,
    SessionState,
    SurveyResponse,
    Turn,
    TurnState,
    utcnow,
)

log = logging.getLogger(__name__)

PURGED_SUMMARY = "Removed under the data retention policy."
PURGED_FOLLOW_UP = "(Follow-up question removed under the data retention policy.)"


class PurgeReport(BaseModel):
    """What one purge changed (or, in a dry run, would change)."""

    days: int
    cutoff: datetime
    dry_run: bool = False
    sessions: int = 0
    ended: int = 0
    turns: int = 0
    corrections: int = 0
    surveys: int = 0
    preference_pairs: int = 0
    outbox: int = 0
    dead_letters: int = 0
    processed_events: int = 0


def scrub_feedback(feedback: dict[str, Any]) -> dict[str, Any]:
    """The feedback with its text removed and its numbers kept (still a valid ``Feedback``)."""
    return {"score": feedback.get("score", 1), "strengths": [], "weaknesses": [], "suggestions": [],
            "criteria": dict(feedback.get("criteria") or {}), "summary": PURGED_SUMMARY}


def _needs_scrub(turn: Turn) -> bool:
    return bool(turn.answer is not None or turn.prompt is not None or turn.raw_output is not None
                or (turn.feedback and turn.feedback != scrub_feedback(turn.feedback))
                or (turn.follow_up_of is not None and turn.question != PURGED_FOLLOW_UP))


def _scrub_turn(turn: Turn) -> None:
    turn.answer = turn.prompt = turn.raw_output = None
    if turn.feedback:
        turn.feedback = scrub_feedback(turn.feedback)
    if turn.follow_up_of is not None:
        turn.question = PURGED_FOLLOW_UP


def _expired_batch(session: Session, cutoff: datetime, after_id: int, size: int) -> list[int]:
    """Ids of expired sessions still holding text, or still open. Every graded turn has an answer
    until it is scrubbed, so the filter needs no JSON and purged sessions are never read again."""
    holds_text = exists().where(Turn.session_id == InterviewSession.id, or_(
        Turn.answer.is_not(None), Turn.prompt.is_not(None), Turn.raw_output.is_not(None),
        Turn.follow_up_of.is_not(None) & (Turn.question != PURGED_FOLLOW_UP)))
    return list(session.scalars(
        select(InterviewSession.id)
        .where(InterviewSession.updated_at < cutoff, InterviewSession.id > after_id,
               or_(holds_text, InterviewSession.state.not_in(FINISHED)))
        .order_by(InterviewSession.id).limit(size)))


def _scrub_sessions(session: Session, ids: list[int], report: PurgeReport) -> None:
    unfinished = set(session.scalars(select(InterviewSession.id).where(
        InterviewSession.id.in_(ids), InterviewSession.state.not_in(FINISHED))))
    touched: set[int] = set()
    for turn in session.scalars(select(Turn).where(Turn.session_id.in_(ids))):
        if _needs_scrub(turn):
            _scrub_turn(turn)
            report.turns += 1
            touched.add(turn.session_id)
        if turn.session_id in unfinished and turn.state in (TurnState.asked, TurnState.answered):
            turn.state = TurnState.skipped  # as ``end`` does: the open question was never answered
    report.sessions += len(touched)
    if unfinished:
        # Abandoned sessions are ended; their last-activity time is kept (no onupdate bump).
        ended = session.execute(
            update(InterviewSession)
            .where(InterviewSession.id.in_(unfinished), InterviewSession.state.not_in(FINISHED))
            .values(state=SessionState.ended, version=InterviewSession.version + 1,
                    ended_at=utcnow(), updated_at=InterviewSession.updated_at)
            .execution_options(synchronize_session=False))
        report.ended += ended.rowcount or 0


def _scrub_corrections(session: Session, cutoff: datetime, report: PurgeReport) -> None:
    """Corrections of expired sessions, including any made on an old thread after an earlier purge."""
    rows = session.scalars(
        select(Correction).join(Turn, Correction.turn_id == Turn.id)
        .join(InterviewSession, Turn.session_id == InterviewSession.id)
        .where(InterviewSession.updated_at < cutoff))
    for correction in rows:
        scrubbed = scrub_feedback(correction.feedback or {})
        if correction.note is not None or correction.feedback != scrubbed:
            correction.feedback, correction.note = scrubbed, None
            report.corrections += 1


def _sweep(session: Session, cutoff: datetime, report: PurgeReport) -> None:
    """Set-based clean-ups that need no per-row logic."""
    expired = select(InterviewSession.id).where(InterviewSession.updated_at < cutoff)
    expired_turns = select(Turn.id).where(Turn.session_id.in_(expired))
    session.execute(  # a pasted job ad is kept as long as the answers it was practised with
        update(InterviewSession).where(InterviewSession.id.in_(expired), InterviewSession.job_ad.is_not(None))
        .values(job_ad=None, updated_at=InterviewSession.updated_at).execution_options(synchronize_session=False))
    report.surveys += session.execute(
        update(SurveyResponse)
        .where(SurveyResponse.comment.is_not(None), SurveyResponse.session_id.in_(expired))
        .values(comment=None).execution_options(synchronize_session=False)).rowcount or 0
    report.preference_pairs += session.execute(
        delete(PreferencePair).where(or_(
            PreferencePair.session_id.in_(expired), PreferencePair.turn_id.in_(expired_turns),
            PreferencePair.other_turn_id.in_(expired_turns),
            (PreferencePair.session_id.is_(None) & PreferencePair.turn_id.is_(None)
             & (PreferencePair.created_at < cutoff))))
        .execution_options(synchronize_session=False)).rowcount or 0
    report.outbox += session.execute(
        delete(OutboxMessage)
        .where(OutboxMessage.delivered_at.is_not(None), OutboxMessage.delivered_at < cutoff)
        .execution_options(synchronize_session=False)).rowcount or 0
    report.dead_letters += session.execute(
        delete(DeadLetter).where(DeadLetter.created_at < cutoff)
        .execution_options(synchronize_session=False)).rowcount or 0
    report.processed_events += session.execute(
        delete(ProcessedEvent).where(ProcessedEvent.created_at < cutoff)
        .execution_options(synchronize_session=False)).rowcount or 0


def purge_expired(db: Database, days: int, *, now: datetime | None = None, dry_run: bool = False,
                  batch_size: int = 500) -> PurgeReport:
    """Scrub everything older than ``days`` (see the module docstring). Idempotent.

    Sessions are scrubbed in batches, one transaction each, so a large first purge never holds
    long locks; a dry run does the same work and rolls it all back.
    """
    if days < 1:
        raise ValueError("retention must be at least 1 day (RETENTION_DAYS=0 means keep forever)")
    cutoff = (now or utcnow()) - timedelta(days=days)
    report = PurgeReport(days=days, cutoff=cutoff, dry_run=dry_run)
    with db.sessions() as session:
        after_id = 0
        while ids := _expired_batch(session, cutoff, after_id, batch_size):
            _scrub_sessions(session, ids, report)
            after_id = ids[-1]
            session.flush()
            if not dry_run:
                session.commit()
        _scrub_corrections(session, cutoff, report)
        _sweep(session, cutoff, report)
        if dry_run:
            session.rollback()
        else:
            session.commit()
    log.info("retention purge (%s days%s): %s", days, ", dry run" if dry_run else "", report.model_dump(mode="json"))
    return report


def purge_from_settings(settings: Settings | None = None) -> PurgeReport | None:
    """The periodic job: purge with ``RETENTION_DAYS``; ``None`` when retention is off (0)."""
    settings = settings or get_settings()
    if settings.retention_days < 1:
        return None
    db = Database(settings.resolved_database_url)
    try:
        return purge_expired(db, settings.retention_days)
    finally:
        db.dispose()

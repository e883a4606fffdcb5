"""Try again: the candidate answers the question they just had feedback on once more.

The second attempt is a new turn that points at the first (``attempt_of``), so both answers and
both feedbacks are kept, the report can show before -> after, and the pair becomes preference
data (``tasks.data.preferences``: the better-scored answer chosen). The question that was already
asked next (nobody has answered it yet) is withdrawn and asked again after the second attempt;
after the last question the session reopens for the attempt and completes again when it is graded.
"""

from __future__ import annotations

from sqlalchemy import delete, insert, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.engine.errors import BadInput, ConcurrentUpdate, InvalidTransition
from bot.store.models import InterviewSession, SessionState, Turn, TurnState, utcnow

NOTHING_TO_REDO = "There is no feedback to try again on yet: 'again' answers the question you just had feedback on."


def reopen(session: Session, record: InterviewSession, turn_id: int | None = None) -> int:
    """Ask the last graded question again in ``record``; returns the new turn's id.

    ``turn_id`` is the feedback a button was under: only the latest one can be tried again (an
    older button would otherwise retry a different question than the one it is shown with).

    A compare-and-set on the session's version, like every other transition: a second
    'again' racing this one gets ``ConcurrentUpdate`` and changes nothing.
    """
    if record.state == SessionState.ended:
        raise InvalidTransition("This interview has ended, so there is nothing to try again. "
                                "Start a new one whenever you like.")
    if record.state == SessionState.grading:
        raise ConcurrentUpdate("I'm still working on your previous answer; give me a moment.")
    turns = list(record.turns)
    pending = turns[-1] if turns and turns[-1].state == TurnState.asked else None
    answered = [t for t in turns if t is not pending]
    if not answered or answered[-1].state != TurnState.graded:
        raise BadInput(NOTHING_TO_REDO)
    previous = answered[-1]
    if turn_id is not None and turn_id != previous.id:
        raise BadInput("Only the question you just had feedback on can be tried again.")
    first = next((t for t in turns if t.id == previous.attempt_of), previous)
    if pending is not None and pending.attempt_of == first.id:  # a second click or a redelivered 'again'
        raise BadInput("You are already trying that question again: type your answer.")
    index = pending.index if pending is not None else previous.index + 1
    result = session.execute(
        update(InterviewSession)
        .where(InterviewSession.id == record.id, InterviewSession.version == record.version,
               InterviewSession.state == record.state)
        .values(state=SessionState.awaiting_answer, version=record.version + 1, updated_at=utcnow(), ended_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ConcurrentUpdate("Another reply arrived at the same moment; only the first one counts.")
    if pending is not None:
        session.execute(delete(Turn).where(Turn.id == pending.id, Turn.state == TurnState.asked))
    turn_id = session.scalar(insert(Turn).values(
        session_id=record.id, index=index, state=TurnState.asked, question=first.question,
        question_id=first.question_id, domain=first.domain, key_points=list(first.key_points or []),
        level=first.level, requirement=first.requirement, attempt_of=first.id,
    ).returning(Turn.id))
    set_committed_value(record, "version", record.version + 1)
    assert turn_id is not None
    return int(turn_id)

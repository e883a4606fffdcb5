"""The 👍 / 👎 counts of one turn: shown by the adapters, returned by rating ingestion.

Whose votes count: the session's candidate and recruiters (team leads too: their stored role hides
a recruiter role they may also hold). Anyone else in the workspace or guild can still click; their
ratings are stored and shown apart (``others_up`` / ``others_down``, "👍 3 (+2 from others)"), but
they never make a training label (``tasks.data.preferences``) or move an A/B arm (``tasks.registry``).
The role is the user's stored one (set from ``RECRUITERS`` / ``TEAM_LEADS`` whenever they act), read
when the votes are counted. One vote per person per turn is the schema (``ratings`` is unique on
turn and rater, the latest click wins), so a flood of clicks from one person counts once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, func, not_, or_, select
from sqlalchemy.orm import Session

from bot.store.models import InterviewSession, Rating, Turn, User, UserRole

# Roles whose ratings count wherever the session's candidate is not the rater.
COUNTED_ROLES: tuple[UserRole, ...] = (UserRole.recruiter, UserRole.team_lead)


def count_if(condition: Any) -> Any:
    """SQL: how many rows meet ``condition`` (0, not NULL, when there are none)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def counted_vote(rater_id: Any, candidate_id: Any, rater_role: Any) -> Any:
    """SQL: the rating is the session's candidate's or a recruiter's (a vote that counts)."""
    return or_(rater_id == candidate_id, rater_role.in_([role.value for role in COUNTED_ROLES]))


def counted_rater(rater_id: Any, candidate_id: Any) -> Any:
    """SQL, needing no join on ``users``: ``rater_id`` is the candidate or a recruiter."""
    return or_(
        rater_id == candidate_id,
        rater_id.in_(select(User.id).where(User.role.in_([role.value for role in COUNTED_ROLES]))),
    )


# Built once: every click runs one of these, and building a statement costs more than running it.
UPS, DOWNS = count_if(Rating.value > 0), count_if(Rating.value < 0)
_COUNTED = counted_vote(Rating.rater_id, InterviewSession.candidate_id, User.role)
_COUNTS = (
    count_if(and_(Rating.value > 0, _COUNTED)),
    count_if(and_(Rating.value < 0, _COUNTED)),
    count_if(and_(Rating.value > 0, not_(_COUNTED))),
    count_if(and_(Rating.value < 0, not_(_COUNTED))),
)
_MINE = and_(User.platform == bindparam("platform"), User.platform_user_id == bindparam("user_id"))
_FROM = (
    select()
    .select_from(Rating)
    .join(User, Rating.rater_id == User.id)
    .join(Turn, Rating.turn_id == Turn.id)
    .join(InterviewSession, Turn.session_id == InterviewSession.id)
    .where(Rating.turn_id == bindparam("turn_id"))
)
COUNTS = _FROM.add_columns(*_COUNTS)
COUNTS_AND_MINE = _FROM.add_columns(*_COUNTS, func.coalesce(func.max(case((_MINE, Rating.value))), 0))


def tally(db: Session | Connection, turn_id: int, rater: tuple[str, str] | None = None) -> dict[str, Any]:
    """``{"turn_id", "up", "down", "others_up", "others_down"}``, plus ``"mine"`` (+1, -1 or 0) for
    ``rater`` = (platform, user id). ``up`` / ``down`` are the votes that count (the candidate's and
    recruiters'); ``others_*`` everyone else's, stored and shown apart.

    One statement either way: the rater's own value comes from the same scan of the turn's ratings.
    """
    connection = db.connection() if isinstance(db, Session) else db
    if rater is None:
        row = connection.execute(COUNTS, {"turn_id": turn_id}).one()
    else:
        row = connection.execute(COUNTS_AND_MINE,
                                 {"turn_id": turn_id, "platform": rater[0], "user_id": rater[1]}).one()
    counts = {"turn_id": turn_id, "up": int(row[0]), "down": int(row[1]),
              "others_up": int(row[2]), "others_down": int(row[3])}
    if rater is not None:
        counts["mine"] = int(row[4])
    return counts


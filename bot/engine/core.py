"""What every room of the engine shares: its collaborators, people and roles, loading a session,
and the one compare-and-set that moves a session between states.

The rooms (``lifecycle``, ``intake``, ``ratings``, ``queries``, ``privacy``) each add one job on
top of ``EngineCore``; ``bot.engine.interview.InterviewEngine`` puts them together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from bot.config import Settings
from bot.engine.actors import Actor, Authorizer
from bot.engine.errors import ConcurrentUpdate, Forbidden, NotYourSession, SessionNotFound
from bot.engine.observer import EngineObserver, NoObserver
from bot.engine.prefetch import NextQuestions
from bot.engine.signals import SignalSink
from bot.engine.views import FINISHED, SessionView
from bot.store.db import Database
from bot.store.models import InterviewSession, SessionState, User, UserRole, utcnow
from chains.bank import Bank, load_bank
from chains.providers import Provider
from chains.schemas import Feedback

log = logging.getLogger(__name__)

Exemplars = Callable[[str, str], tuple[tuple[str, str, Feedback], ...]]
# Picks the model version a new session uses (registry traffic split); None means the configured default.
VariantChooser = Callable[[], str | None]


def in_thread(query: Any, channel: bool) -> Any:
    """``query`` narrowed to the newest session of a thread (bound: platform, thread_id, channel_id)."""
    query = query.where(InterviewSession.platform == bindparam("platform"),
                        InterviewSession.thread_id == bindparam("thread_id"))
    if channel:
        query = query.where(InterviewSession.channel_id == bindparam("channel_id"))
    return query.order_by(InterviewSession.id.desc()).limit(1)


def thread_params(platform: str, channel_id: str | None, thread_id: str) -> dict[str, Any]:
    return {"platform": platform, "thread_id": thread_id, "channel_id": channel_id}


# Built once (building a statement costs more than running it): every chat message runs these.
_SESSION = select(InterviewSession).options(selectinload(InterviewSession.turns),
                                            joinedload(InterviewSession.candidate))
_SESSION_IN_THREAD, _SESSION_IN_CHANNEL_THREAD = in_thread(_SESSION, False), in_thread(_SESSION, True)


def compare_and_set(session: Session, session_id: int, version: int, new: SessionState,
                    expect: SessionState | None = None, *, also: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Move a session to ``new`` if it still has ``version`` (and state ``expect``): the one
    transition rule. ``also`` are more columns written by the same UPDATE, only if it wins.
    Returns the values written, or None when another request changed it first."""
    values: dict[str, Any] = {**(also or {}), "state": new, "version": version + 1, "updated_at": utcnow()}
    if new in FINISHED:
        values["ended_at"] = values["updated_at"]
    query = update(InterviewSession).where(InterviewSession.id == session_id, InterviewSession.version == version)
    if expect is not None:
        query = query.where(InterviewSession.state == expect)
    result = session.execute(query.values(**values).execution_options(synchronize_session=False))
    return values if result.rowcount == 1 else None


class EngineCore:
    """The engine's collaborators and the helpers every room uses."""

    def __init__(
        self,
        db: Database,
        provider: Provider,
        settings: Settings,
        *,
        signals: SignalSink | None = None,
        bank: Bank | None = None,
        exemplars: Exemplars | None = None,
        variants: VariantChooser | None = None,
        observer: EngineObserver | None = None,
        next_questions: NextQuestions | None = None,
    ) -> None:
        self.db = db
        self.next_questions = next_questions  # writes the next main question while the current one is answered
        self.provider = provider
        self.settings = settings
        self.signals = signals
        self.bank = bank or load_bank()
        self.exemplars = exemplars
        self.variants = variants
        self.observer: EngineObserver = observer or NoObserver()
        self.authz = Authorizer(settings.recruiters, settings.team_leads)

    def close(self) -> None:
        """Release the database connections (a process about to fork, or exit)."""
        self.db.dispose()

    # ── people and roles ────────────────────────────────────────────────────────────
    def _user(self, session: Session, actor: Actor, found: User | None = None) -> User:
        """The actor's row with their current role and name, created if new; ``found`` is the row
        when the caller has just read it."""
        user = found if found is not None else session.scalar(
            select(User).where(User.platform == actor.platform, User.platform_user_id == actor.user_id)
        )
        if user is None:
            user = User(platform=actor.platform, platform_user_id=actor.user_id, display_name=actor.display_name,
                        role=self.authz.primary(self.authz.roles(actor)))
            session.add(user)
            try:
                with session.begin_nested():
                    session.flush()
            except IntegrityError:  # created concurrently by another request
                user = session.scalars(select(User).where(
                    User.platform == actor.platform, User.platform_user_id == actor.user_id)).one()
        else:
            role = self.authz.primary(self.authz.roles(actor))
            if user.role != role:
                user.role = role
            if actor.display_name and user.display_name != actor.display_name:
                user.display_name = actor.display_name
        return user

    def roles(self, actor: Actor) -> set[UserRole]:
        return self.authz.roles(actor)

    def require(self, actor: Actor, role: UserRole, action: str) -> None:
        if role not in self.roles(actor):
            label = {UserRole.recruiter: "recruiters", UserRole.team_lead: "team leads"}.get(role, role.value)
            raise Forbidden(f"Sorry, only {label} can {action}.")

    # ── loading and checking a session ──────────────────────────────────────────────
    def get(self, session_id: int) -> SessionView:
        with self.db.session() as session:
            return SessionView.of(self._load(session, session_id))

    def _load(self, session: Session, session_id: int) -> InterviewSession:
        record = session.scalars(_SESSION.where(InterviewSession.id == session_id)).first()
        if record is None:
            raise SessionNotFound(f"Interview {session_id} does not exist (it may have been deleted).")
        return record

    @staticmethod
    def _load_thread(session: Session, platform: str, channel_id: str | None,
                     thread_id: str) -> InterviewSession | None:
        query = _SESSION_IN_CHANNEL_THREAD if channel_id is not None else _SESSION_IN_THREAD
        return session.scalars(query, thread_params(platform, channel_id, thread_id)).first()

    @staticmethod
    def _check_candidate(record: InterviewSession, actor: Actor) -> None:
        candidate = record.candidate
        if (candidate.platform, candidate.platform_user_id) != (actor.platform, actor.user_id):
            raise NotYourSession("Only the candidate of this interview can answer, skip or end it.")

    @staticmethod
    def _cas(session: Session, record: InterviewSession, new: SessionState,
             expect: SessionState | None = None) -> None:
        """``compare_and_set`` on a loaded row; losing the race raises ``ConcurrentUpdate``."""
        values = compare_and_set(session, record.id, record.version, new, expect)
        if values is None:
            raise ConcurrentUpdate("Another reply to this question arrived at the same moment; "
                                   "only the first one counts.")
        for name, value in values.items():  # what the row now holds, without reading it back
            set_committed_value(record, name, value)

"""The platform-free interview engine. Adapters translate platform events into these calls."""

from bot.engine.actors import Actor, Authorizer
from bot.engine.corrections import BadCorrection, corrected_feedback
from bot.engine.errors import (
    BadInput,
    ConcurrentUpdate,
    EngineError,
    Forbidden,
    InvalidTransition,
    NotYourSession,
    ProviderUnavailable,
    SessionNotFound,
    TurnNotFound,
)
from bot.engine.interview import InterviewEngine
from bot.engine.views import Progress, SessionView, Started, ThreadInterview, TurnView
from bot.store.models import UserRole

__all__ = [
    "Actor", "Authorizer", "BadCorrection", "BadInput", "ConcurrentUpdate", "EngineError", "Forbidden",
    "InterviewEngine", "InvalidTransition", "NotYourSession", "Progress", "ProviderUnavailable", "SessionNotFound",
    "SessionView", "Started", "ThreadInterview", "TurnNotFound", "TurnView", "UserRole", "corrected_feedback",
]

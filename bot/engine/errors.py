"""Engine errors. Each message is written to be shown to the user as it is."""

from __future__ import annotations


class EngineError(Exception):
    """Base class: a request the engine refuses, with a friendly message."""


class SessionNotFound(EngineError):
    pass


class TurnNotFound(EngineError):
    pass


class InvalidTransition(EngineError):
    """The session's state does not allow this action (e.g. answering a completed interview)."""


class ConcurrentUpdate(InvalidTransition):
    """Another answer for the same question won the race; this one was not stored."""


class NotYourSession(EngineError):
    pass


class Forbidden(EngineError):
    """The actor lacks the role the action needs (recruiter, team lead)."""


class BadInput(EngineError):
    """Malformed request parameters or an unusable answer."""


class ProviderUnavailable(EngineError):
    """No provider could do the work; whatever the candidate sent is kept."""

"""Privacy: a person deletes everything stored about them (``bot.store.privacy`` does the work)."""

from __future__ import annotations

from bot.engine.actors import Actor
from bot.engine.core import EngineCore
from bot.store.privacy import forget_person


class Privacy(EngineCore):
    def forget(self, platform: str, user_id: str) -> bool:
        """Delete a person and everything about them: sessions, answers, ratings, corrections, the
        preference data made from them, and copies waiting in the outbox or the dead letters."""
        with self.db.session() as session:
            return bool(forget_person(session, platform, user_id))

    def forget_me(self, actor: Actor) -> bool:
        """The chat command: a person deletes their own data. True when anything was stored."""
        return self.forget(actor.platform, actor.user_id)

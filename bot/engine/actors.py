"""Who is acting, and which roles they hold. Role checks live here, in the engine, not in adapters."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.store.models import UserRole


@dataclass(frozen=True)
class Actor:
    """A person as an adapter sees them.

    ``groups`` are platform group ids the adapter looked up (Slack user groups, Discord role
    ids). ``claimed_role`` is honoured only on the local console, whose user owns the machine.
    """

    platform: str
    user_id: str
    display_name: str | None = None
    groups: frozenset[str] = field(default_factory=frozenset)
    claimed_role: UserRole | None = None


class Authorizer:
    """Maps an actor to roles from configuration (``RECRUITERS``, ``TEAM_LEADS``), and nothing else:
    the role stored with a user only records how they last acted, so removing someone from the
    configuration takes the role away at once."""

    def __init__(self, recruiters: list[str], team_leads: list[str]) -> None:
        self.recruiters = set(recruiters)
        self.team_leads = set(team_leads)

    def roles(self, actor: Actor) -> set[UserRole]:
        keys = {f"{actor.platform}:{actor.user_id}"} | {f"{actor.platform}:{g}" for g in actor.groups}
        roles = {UserRole.candidate}
        if keys & self.recruiters:
            roles.add(UserRole.recruiter)
        if keys & self.team_leads:
            roles.add(UserRole.team_lead)
        if actor.platform == "console" and actor.claimed_role is not None:
            roles.add(actor.claimed_role)
        return roles

    @staticmethod
    def primary(roles: set[UserRole]) -> UserRole:
        for role in (UserRole.team_lead, UserRole.recruiter):
            if role in roles:
                return role
        return UserRole.candidate

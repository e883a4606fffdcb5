"""Slack users as engine ``Actor`` s, with the user groups that can grant roles.

``RECRUITERS`` / ``TEAM_LEADS`` entries are ``slack:U…`` (a user) or ``slack:S…`` (a user
group). Group membership is asked of Slack (``usergroups.users.list``) only when such a
group is configured and only for actions that need a role; the answer is kept for a minute.
That cache holds directory data, never interview state, so replicas stay interchangeable.
"""

from __future__ import annotations

import logging
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.engine import Actor

log = logging.getLogger(__name__)
PLATFORM = "slack"


class People:
    def __init__(self, settings: Settings, ttl_s: float = 60.0) -> None:
        entries = [*settings.recruiters, *settings.team_leads]
        self.groups = sorted(
            {
                e.split(":", 1)[1]
                for e in entries
                if e.startswith(f"{PLATFORM}:S") and len(e) > len(PLATFORM) + 2
            }
        )
        self.ttl_s = ttl_s
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def actor(self, user_id: str, client: WebClient | None = None, *, roles: bool = False) -> Actor:
        """``roles=True`` looks up configured user groups (for rating, correcting, stats)."""
        groups = self._groups_of(user_id, client) if roles and client is not None else frozenset()
        return Actor(PLATFORM, user_id, groups=groups)

    def _groups_of(self, user_id: str, client: WebClient) -> frozenset[str]:
        return frozenset(g for g in self.groups if user_id in self._members_of(g, client))

    def _members_of(self, group: str, client: WebClient) -> frozenset[str]:
        now = time.monotonic()
        with self._lock:
            cached = self._members.get(group)
        if cached and now - cached[0] < self.ttl_s:
            return cached[1]
        try:
            members = frozenset(client.usergroups_users_list(usergroup=group).get("users") or [])
        except SlackApiError as exc:
            log.warning("could not list members of user group %s: %s", group, exc.response.get("error"))
            return cached[1] if cached else frozenset()
        with self._lock:
            self._members[group] = (now, members)
        return members

"""Who is acting on Discord, as the engine sees them."""

from __future__ import annotations

import discord

from bot.engine import Actor

PLATFORM = "discord"


def actor_of(user: discord.User | discord.Member) -> Actor:
    """An ``Actor`` whose groups are the member's role ids.

    ``RECRUITERS`` / ``TEAM_LEADS`` entries ``discord:<role id>`` match through these groups and
    ``discord:<user id>`` through the user id; the engine does the matching, not this adapter.
    Outside a server (or for a guild the bot has not cached) there are no roles.
    """
    roles = getattr(user, "roles", None) or []
    return Actor(
        PLATFORM,
        str(user.id),
        display_name=user.display_name,
        groups=frozenset(str(role.id) for role in roles),
    )

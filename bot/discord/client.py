"""The Discord client: an ``AutoShardedClient`` wired to the engine.

``AutoShardedClient`` asks Discord how many shards the bot needs and runs them all in one
process, so the same code serves one server or thousands. All interview state is in the
database, so shards, processes and restarts share nothing in memory; the buttons are
``DynamicItem``s registered in ``setup_hook`` and keep working across restarts.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord.http import Route

from bot.config import Settings
from bot.discord.commands import build_tree
from bot.discord.components import DYNAMIC_ITEMS
from bot.discord.conversation import handle_message
from bot.engine import InterviewEngine

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://discord.com/api/v10"


def use_api_url(url: str | None) -> str:
    """Point discord.py's REST client (and so its gateway discovery) at ``url``; returns the base used.

    discord.py keeps the REST base URL in the class attribute ``discord.http.Route.BASE`` (there
    is no per-client option), so this is process-wide. ``DISCORD_API_URL`` exists for tests and
    proxies: a fake API on loopback answers ``GET /gateway/bot`` with its own gateway address,
    so the whole bot talks to it. Unset, the real API is used.
    """
    Route.BASE = (url or DEFAULT_API_URL).rstrip("/")
    return Route.BASE


def intents() -> discord.Intents:
    """Guilds and guild messages (default), plus message content: answers are thread messages.

    Message content is a privileged intent; enable it for the bot in the Developer Portal.
    """
    wanted = discord.Intents.default()
    wanted.message_content = True
    return wanted


class MockingbirdBot(discord.AutoShardedClient):
    """Translates Discord events into engine calls; see ``commands``, ``conversation``, ``components``."""

    def __init__(
        self, engine: InterviewEngine, settings: Settings, *, sync_commands: bool = True, **options: Any
    ) -> None:
        options.setdefault(
            "allowed_mentions", discord.AllowedMentions(everyone=False, roles=False, users=True)
        )
        super().__init__(intents=intents(), **options)
        self.engine = engine
        self.settings = settings
        self.sync_commands = sync_commands
        self.tree = build_tree(self, engine)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(*DYNAMIC_ITEMS)
        if self.sync_commands:
            await self.sync_command_tree()

    async def sync_command_tree(self) -> None:
        """Register the slash commands: per guild in ``DISCORD_GUILD_IDS`` (instant), else globally.

        Global commands can take up to an hour to appear; guild commands appear at once, which
        is what you want while developing.
        """
        guild_ids = [int(gid) for gid in self.settings.discord_guild_ids]
        for guild_id in guild_ids:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to guild %s", len(synced), guild_id)
        if not guild_ids:
            synced = await self.tree.sync()
            log.info("synced %d global commands (they may take up to an hour to appear)", len(synced))

    async def on_ready(self) -> None:
        log.info(
            "Discord bot ready as %s in %d server(s), %s shard(s)",
            self.user,
            len(self.guilds),
            self.shard_count,
        )

    async def on_message(self, message: discord.Message) -> None:
        await handle_message(self.engine, message)

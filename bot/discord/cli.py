"""``mockingbird discord``: run the Discord bot. Added to the CLI through ``bot.cli.COMMAND_MODULES``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from bot.config import get_settings

err = Console(stderr=True)

INTENT_HELP = (
    "Discord refused the connection because the bot asks for the Message Content intent, which is "
    "privileged. Enable it under Bot → Privileged Gateway Intents in the Developer Portal "
    "(https://discord.com/developers/applications), then start the bot again."
)


def register(app: typer.Typer) -> None:
    @app.command("discord")
    def run_discord(
        sync: Annotated[
            bool,
            typer.Option(
                "--sync/--no-sync",
                help="Register the slash commands at start-up (in DISCORD_GUILD_IDS, else globally).",
            ),
        ] = True,
    ) -> None:
        """Run the Discord bot (DISCORD_TOKEN; DISCORD_GUILD_IDS for instant command sync in development)."""
        settings = get_settings()
        if settings.discord_token is None or not settings.discord_token.get_secret_value().strip():
            err.print(
                "[red]DISCORD_TOKEN is not set. Create a bot in the Developer Portal, copy its token "
                "into DISCORD_TOKEN (environment or .env), and see docs/discord.md.[/]"
            )
            raise typer.Exit(2)
        bad_ids = [gid for gid in settings.discord_guild_ids if not gid.isdecimal()]
        if bad_ids:
            err.print(f"[red]DISCORD_GUILD_IDS must be numeric server ids (got {', '.join(bad_ids)}).[/]")
            raise typer.Exit(2)

        from bot.ops import start_ops_server
        from bot.ops.heap import freeze_startup_heap

        start_ops_server(settings)  # /healthz and /metrics on METRICS_PORT, when set
        import discord

        from bot.app import build_engine
        from bot.discord.client import MockingbirdBot, use_api_url

        use_api_url(settings.discord_api_url)
        bot = MockingbirdBot(build_engine(settings, serving=True), settings, sync_commands=sync)
        freeze_startup_heap()
        try:
            bot.run(settings.discord_token.get_secret_value().strip(), log_handler=None)
        except discord.LoginFailure as exc:
            err.print(
                "[red]Discord rejected DISCORD_TOKEN (it may have been reset); copy the bot token "
                "again from the Developer Portal.[/]"
            )
            raise typer.Exit(1) from exc
        except discord.PrivilegedIntentsRequired as exc:
            err.print(f"[red]{INTENT_HELP}[/]")
            raise typer.Exit(1) from exc

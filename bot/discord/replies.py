"""Small helpers every Discord handler shares: reach the engine, run it off the event loop, reply
privately whatever state the interaction is in."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, ParamSpec, TypeVar

import discord

from bot.discord import render
from bot.engine import EngineError, InterviewEngine
from bot.engine.text import clip

P = ParamSpec("P")
T = TypeVar("T")


def engine_of(interaction: discord.Interaction[Any]) -> InterviewEngine:
    """The engine of the bot that received ``interaction`` (``MockingbirdBot.engine``)."""
    engine = getattr(interaction.client, "engine", None)
    if not isinstance(engine, InterviewEngine):
        raise RuntimeError("this client has no interview engine; run it through MockingbirdBot")
    return engine


async def offload(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking engine call (database, model) in a worker thread.

    The engine is synchronous; calling it on the event loop would stall heartbeats and every
    other guild on the shard while a model grades an answer.
    """
    return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))


async def private(
    interaction: discord.Interaction[Any], text: str, *, file: discord.File = discord.utils.MISSING
) -> None:
    """An ephemeral reply (with ``file`` attached, if given), as the first response or as a follow-up
    after a deferral."""
    text = clip(text, 2000)
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, file=file)
    else:
        await interaction.response.send_message(text, ephemeral=True, file=file)


@asynccontextmanager
async def refusals_told(interaction: discord.Interaction[Any]) -> AsyncIterator[None]:
    """Run the block; when the engine refuses (``EngineError``: not allowed, not found, a bad
    value), the rest of the block is skipped and the person is told why, privately."""
    try:
        yield
    except EngineError as exc:
        await private(interaction, render.md(str(exc)))

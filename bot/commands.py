"""What every ``mockingbird`` command module shares (the chat side's ``bot.cli`` and the background
side's ``tasks.*.cli``): the one-line error exit and the configured database.

Below both sides, so a command module on either side uses it without importing the other.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from bot.config import get_settings
from bot.store.db import Database, open_database

err = Console(stderr=True, soft_wrap=True)  # long messages and commands stay copy-pastable


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` as one line (escaped: ``[train]`` is text, not markup); raise what it returns."""
    err.print(f"[red]{escape(message)}[/]")
    return typer.Exit(code)


def database() -> Database:
    """The configured database, created and migrated if need be (for commands that write)."""
    return open_database(get_settings())

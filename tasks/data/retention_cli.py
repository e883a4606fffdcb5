"""``mockingbird retention purge``: remove transcripts older than ``RETENTION_DAYS`` (or ``--days``)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

err = Console(stderr=True)
retention_app = typer.Typer(help="Data retention: purge old transcripts.", no_args_is_help=True)


@retention_app.command("purge")
def purge(
    days: Annotated[int | None, typer.Option(
        help="Purge sessions idle longer than this many days (default: RETENTION_DAYS).", min=1)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be purged; change nothing.")]
    = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Remove answers, prompts, model outputs and other text of sessions idle longer than the retention."""
    from bot.config import get_settings
    from bot.store.db import open_database
    from tasks.data.retention import purge_expired

    settings = get_settings()
    chosen = days if days is not None else settings.retention_days
    if chosen < 1:
        err.print("RETENTION_DAYS is 0, which keeps transcripts forever; nothing was purged. "
                  "Set RETENTION_DAYS or pass --days N.")
        return
    report = purge_expired(open_database(settings), chosen, dry_run=dry_run)
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), indent=2))
        return
    verb = "Would purge" if dry_run else "Purged"
    err.print(f"{verb} {report.sessions} session(s) idle since before {report.cutoff:%Y-%m-%d %H:%M} UTC: "
              f"{report.turns} turn(s), {report.corrections} correction(s), "
              f"{report.surveys} survey comment(s), {report.preference_pairs} preference pair(s); "
              f"{report.ended} abandoned session(s) ended; "
              f"{report.outbox} delivered outbox message(s), {report.dead_letters} dead letter(s) and "
              f"{report.processed_events} processed event id(s) removed.")


def register(app: typer.Typer) -> None:
    app.add_typer(retention_app, name="retention")

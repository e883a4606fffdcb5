"""``mockingbird worker | beat | dataset … | outbox … | dead-letters``: the background side's commands.

Registered through ``bot.cli.COMMAND_MODULES``. Celery is imported only by the commands that
need it, so the rest of the CLI starts fast.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot.commands import database, err, fail
from bot.config import get_settings
from bot.errors import FixableError
from tasks.data.outputs import prepare_output

dataset_app = typer.Typer(help="Preference data: build, export, validate.", no_args_is_help=True)
outbox_app = typer.Typer(help="Signals kept while the broker was unreachable.", no_args_is_help=True)

CELERY_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True}


def _celery_app():  # type: ignore[no-untyped-def]
    settings = get_settings()
    if not settings.redis_url:
        raise fail(
            "REDIS_URL is not set: background tasks run in-process, so there is no worker or beat "
            "to start. Set REDIS_URL=redis://HOST:6379/0 to use Celery."
        )
    from tasks.pipeline.app import make_app

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_app(settings)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"--since must be a date like 2026-01-31 (or an ISO date-time), not {value!r}.") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _require_broker() -> None:
    """A worker or beat without its broker would retry forever in silence; say so once, at start."""
    import redis

    url = get_settings().redis_url
    if not url:
        return  # _celery_app says what to do about that
    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise FixableError(f"REDIS_URL: Redis does not answer ({exc})",
                           "start Redis (redis-server), or check the host and port in REDIS_URL") from exc
    finally:
        client.close()


def worker(ctx: typer.Context) -> None:
    """Start a Celery worker (extra options go to `celery worker`, e.g. --concurrency 4)."""
    _require_broker()
    app = _celery_app()
    database().dispose()  # apply migrations once, before any task runs
    app.worker_main(["worker", "--loglevel", get_settings().log_level, *ctx.args])


def beat(ctx: typer.Context) -> None:
    """Start Celery beat: outbox relay, preference builds, nightly dataset, retraining check, roll-ups."""
    _require_broker()
    app = _celery_app()
    app.start(["beat", "--loglevel", get_settings().log_level, *ctx.args])


@dataset_app.command("build")
def dataset_build() -> None:
    """Rebuild every preference pair and KTO label from the stored ratings and corrections."""
    from tasks.data import preferences

    db = database()
    result = _build(db, preferences)
    err.print(
        f"Preference data: {result.created} created, {result.updated} updated, {result.removed} removed "
        f"({result.turns} graded turns)."
    )


def _build(db, preferences):  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from bot.store.models import Turn

    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(Turn).where(Turn.feedback.is_not(None))) or 0
    with _progress() as bar:
        task = bar.add_task("building", total=total, rate="")
        return preferences.build(db, progress=lambda n: bar.advance(task, n))


FORMAT_HELP = "trl-dpo, trl-kto, openai-dpo, sft, or answers-dpo (try-again answer pairs)."


@dataset_app.command("export")
def dataset_export(
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)],
    out: Annotated[Path, typer.Option("--out", help="The JSONL file to write.")],
    since: Annotated[
        str | None, typer.Option(help="Only data created on or after this date (2026-01-31).")
    ] = None,
    build: Annotated[bool, typer.Option(help="Rebuild the preference data first.")] = True,
) -> None:
    """Write the preference data in a trainer's format: streamed, redacted, with a progress bar."""
    from tasks.data import export, preferences

    if fmt not in export.FORMATS:
        raise fail(f"--format must be one of {', '.join(export.FORMATS)}.")
    moment = _since(since)
    prepare_output(out)  # before the build and the export, which can take minutes
    db = database()
    if build:
        _build(db, preferences)
    started = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task(f"exporting {fmt}", total=None, rate="")

        def progress(done: int, total: int) -> None:
            rate = done / max(time.perf_counter() - started, 1e-9)
            bar.update(task, completed=done, total=total, rate=f"{rate:,.0f} rows/s")

        try:
            result = export.export(db, fmt, out, since=moment, progress=progress)
        except export.ExportError as exc:
            raise fail(str(exc)) from exc
    err.print(f"Wrote {result.rows} {fmt} rows to {result.path}.")


@dataset_app.command("validate")
def dataset_validate(
    path: Annotated[Path, typer.Argument(help="An exported JSONL file.")],
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)],
) -> None:
    """Check every row of an export file against its format."""
    from tasks.data import export

    if not path.is_file():
        raise fail(f"{path} does not exist.")
    try:
        rows = export.validate_file(path, fmt)
    except export.ExportError as exc:
        raise fail(str(exc), code=1) from exc
    err.print(f"{path}: {rows} valid {fmt} rows.")


@outbox_app.command("relay")
def outbox_relay(
    loop: Annotated[bool, typer.Option(help="Keep relaying every --interval seconds.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between runs with --loop.")] = 5.0,
) -> None:
    """Deliver signals kept in the outbox (broker down, or published but never confirmed)."""
    from tasks.pipeline import outbox
    from tasks.pipeline.sink import is_broker_error, publisher

    app = _celery_app()
    db = database()
    settings = get_settings()
    publish = publisher(app, settings.celery_queue)
    grace = outbox.grace_for(settings.celery_visibility_timeout_s)
    while True:
        result = outbox.relay(db, publish, is_broker_error=is_broker_error, grace=grace)
        err.print(
            f"Delivered {result.delivered}; {result.pending} pending"
            + ("; the broker is unreachable." if result.broker_down else ".")
        )
        if not loop:
            raise typer.Exit(1 if result.broker_down else 0)
        time.sleep(interval)


@outbox_app.command("status")
def outbox_status() -> None:
    """How many signals wait in the outbox."""
    from tasks.pipeline import outbox

    with database().session() as session:
        err.print(f"{outbox.pending(session)} pending.")


def dead_letters(
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Messages that could not be processed, with the reason."""
    from sqlalchemy import select

    from bot.store.models import DeadLetter

    with database().session() as session:
        rows = session.scalars(select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)).all()
        items = [
            {
                "id": r.id,
                "task": r.task,
                "reason": r.reason,
                "created_at": r.created_at.isoformat(),
                "payload": r.payload,
            }
            for r in rows
        ]
    if as_json:
        typer.echo(json.dumps(items, indent=2, ensure_ascii=False))
        return
    if not items:
        err.print("No dead letters.")
    for item in items:
        Console().print(f"[bold]#{item['id']}[/] {item['created_at'][:19]} {item['task']}: {item['reason']}")


def register(app: typer.Typer) -> None:
    app.command(context_settings=CELERY_ARGS)(worker)
    app.command(context_settings=CELERY_ARGS)(beat)
    app.command("dead-letters")(dead_letters)
    app.add_typer(dataset_app, name="dataset")
    app.add_typer(outbox_app, name="outbox")

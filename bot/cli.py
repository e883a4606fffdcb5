"""The ``mockingbird`` command line.

Commands that belong to other parts (workers, datasets, Slack, Discord, retraining, stats)
live in their own modules and are added through ``COMMAND_MODULES``: each exposes
``register(app: typer.Typer)``.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from bot.config import get_settings
from chains.bank.loader import UnknownRole, load_bank
from chains.schemas import KINDS, LEVELS

app = typer.Typer(help="Mockingbird: mock interviews with structured feedback.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
bank_app = typer.Typer(help="The curated question bank.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(bank_app, name="bank")

COMMAND_MODULES: tuple[str, ...] = (
    "tasks.evaluation.cli",
    "tasks.cli",
    "bot.slack.cli",
    "bot.discord.cli",
    "tasks.retention_cli",
    "tasks.training.cli",
)

err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]{message}[/]")
    return typer.Exit(code)


def _configure_logging() -> None:
    logging.basicConfig(level=get_settings().log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.callback()
def main() -> None:
    try:
        _configure_logging()
    except ValidationError as exc:  # a bad environment variable: say which, not a traceback
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        raise _fail(f"Configuration error: {problems}") from exc


# ── db ──────────────────────────────────────────────────────────────────────────────
@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations (SQLite file by default, or DATABASE_URL)."""
    from bot.store.db import Database

    settings = get_settings()
    Database(settings.resolved_database_url).upgrade(revision)
    err.print(f"Database is at revision {revision}.")


# ── bank ────────────────────────────────────────────────────────────────────────────
@bank_app.command("stats")
def bank_stats(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Counts of questions per role, kind and level."""
    stats = load_bank().stats()
    if as_json:
        typer.echo(json.dumps(stats, indent=2))
        return
    from rich.table import Table

    table = Table(title=f"{stats['total']} questions, {stats['roles']} roles, {stats['domains']} domains")
    table.add_column("role")
    table.add_column("total", justify="right")
    for kind in KINDS:
        for level in LEVELS:
            table.add_column(f"{kind[:4]}/{level}", justify="right")
    for role, counts in stats["per_role"].items():  # type: ignore[union-attr]
        table.add_row(role, str(counts["total"]),
                      *[str(counts.get(f"{k}/{lv}", 0)) for k in KINDS for lv in LEVELS])
    Console().print(table)


# ── practice ────────────────────────────────────────────────────────────────────────
@app.command()
def practice(
    role: Annotated[str, typer.Option(help="Role, e.g. backend, frontend, product-management.")] = "backend",
    kind: Annotated[str, typer.Option(help="behavioral or technical.")] = "behavioral",
    level: Annotated[str, typer.Option(help="junior, mid or senior.")] = "mid",
    questions: Annotated[int | None, typer.Option(help="How many questions (default: DEFAULT_QUESTIONS).")] = None,
    provider: Annotated[str | None, typer.Option(help="LLM provider (default: LLM_PROVIDER).")] = None,
    answers: Annotated[Path | None, typer.Option(help="Answers file, one answer per line (non-interactive).")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the transcript as JSON on stdout.")] = False,
    recruiter: Annotated[bool, typer.Option(help="Act as a recruiter: correct feedback.")] = False,
    resume: Annotated[bool, typer.Option(help="Continue your last unfinished session.")] = False,
    user: Annotated[str | None, typer.Option(help="Who is practising (default: your login).")] = None,
) -> None:
    """Run a mock interview in the terminal."""
    import getpass

    from bot.app import build_engine
    from bot.console.practice import AnswersFile, Practice, stdin_source
    from bot.engine import Actor, BadInput, EngineError
    from bot.store.models import UserRole
    from chains.providers import ProviderError

    if kind not in KINDS:
        raise _fail(f"--kind must be one of {', '.join(KINDS)}.")
    if level not in LEVELS:
        raise _fail(f"--level must be one of {', '.join(LEVELS)}.")
    try:
        canonical = load_bank().resolve_role(role)
    except UnknownRole as exc:
        raise _fail(str(exc)) from exc
    if answers is not None and not answers.is_file():
        raise _fail(f"Answers file {answers} does not exist.")

    console = Console(stderr=True) if as_json else Console()
    name = user or getpass.getuser()
    actor = Actor("console", name, display_name=name, claimed_role=UserRole.recruiter if recruiter else None)
    try:
        engine = build_engine(provider=provider)
        source = AnswersFile(answers.read_bytes()) if answers else stdin_source()
        session = engine.open_session(actor) if resume else None
        if resume and session is None:
            raise _fail("There is no unfinished session to resume; start a new one.", code=1)
        if session is not None:
            console.print(f"Resuming interview {session.id}.")
            progress = engine.resume(session.id)
        else:
            try:
                started = engine.start(actor, role=canonical, kind=kind, level=level, questions=questions)
            except BadInput as exc:  # nothing was started, so there is nothing to resume
                raise _fail(str(exc)) from exc
            from bot.engine import Progress

            progress = Progress(session=started.session, next_question=started.question)
        runner = Practice(engine, actor, source, console)
        runner.run(progress)
    except KeyboardInterrupt:
        err.print("\n[yellow]Interrupted. Your session is saved; continue with "
                  "[bold]mockingbird practice --resume[/].[/]")
        raise typer.Exit(130) from None
    except EngineError as exc:
        raise _fail(f"{exc} (Your progress is saved: mockingbird practice --resume.)", code=1) from exc
    except ProviderError as exc:  # e.g. an unknown --provider name
        raise _fail(str(exc)) from exc
    if as_json:
        typer.echo(json.dumps(runner.transcript.as_json(), indent=2, ensure_ascii=False))


# ── grade ───────────────────────────────────────────────────────────────────────────
@app.command()
def grade(
    question: Annotated[str, typer.Option(help="The interview question.")],
    answer: Annotated[str, typer.Option(help="The answer to grade.")],
    kind: Annotated[str, typer.Option(help="behavioral or technical.")] = "behavioral",
    role: Annotated[str, typer.Option(help="Role the question is for.")] = "backend",
    level: Annotated[str, typer.Option(help="junior, mid or senior.")] = "mid",
    provider: Annotated[str | None, typer.Option(help="LLM provider (default: LLM_PROVIDER).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the Feedback JSON.")] = False,
) -> None:
    """Feedback on a single answer, without starting a session."""
    from bot.console.render import feedback_panel
    from bot.engine.text import clean_answer
    from chains import providers
    from chains.providers import GradeRequest, ProviderError
    from chains.question_lookup import question_for_text

    if kind not in KINDS or level not in LEVELS:
        raise _fail(f"--kind must be one of {', '.join(KINDS)}; --level one of {', '.join(LEVELS)}.")
    settings = get_settings()
    cleaned = clean_answer(answer, settings.max_answer_chars)
    if not cleaned.text:
        raise _fail("The answer is empty.")
    try:
        role = load_bank().resolve_role(role)
    except UnknownRole as exc:
        raise _fail(str(exc)) from exc
    target = question_for_text(load_bank(), question, role=role, kind=kind, level=level)
    try:
        result = providers.build(settings, provider).grade(GradeRequest(question=target, answer=cleaned.text))
    except ProviderError as exc:
        raise _fail(str(exc), code=1) from exc
    if as_json:
        typer.echo(result.value.model_dump_json(indent=2))
        return
    if cleaned.truncated:
        err.print(f"[yellow]The answer was cut to {settings.max_answer_chars} characters.[/]")
    Console().print(feedback_panel(result.value, result.call.provider))


@app.command()
def forget(
    platform: Annotated[str, typer.Option(help="slack, discord or console.")],
    user: Annotated[str, typer.Option(help="The platform's user id.")],
) -> None:
    """Delete a person's data everywhere (sessions, answers, ratings, corrections)."""
    from bot.app import open_database
    from bot.store.privacy import forget_person

    # Only the database: deleting data must work whatever the model settings are.
    with open_database(get_settings()).session() as session:
        removed = forget_person(session, platform, user)
    err.print("Deleted." if removed else f"No data stored for {platform}:{user}.")


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)

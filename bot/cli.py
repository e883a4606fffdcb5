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

import click
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from bot.commands import err, fail
from bot.config import get_settings
from bot.errors import FixableError
from chains.bank.loader import UnknownRole, load_bank
from chains.schemas import KINDS, LEVELS


class _Commands(TyperGroup):
    """Every command's fixable errors (a DATABASE_URL that cannot work, an unreachable broker, an
    output path that cannot be written) end as one line with the fix, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except FixableError as exc:
            raise fail(str(exc), exc.exit_code) from None


app = typer.Typer(help="Mockingbird: mock interviews with structured feedback.", no_args_is_help=True,
                  pretty_exceptions_enable=False, cls=_Commands)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
bank_app = typer.Typer(help="The curated question bank.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(bank_app, name="bank")

COMMAND_MODULES: tuple[str, ...] = (
    "tasks.evaluation.cli",
    "tasks.pipeline.cli",
    "bot.slack.cli",
    "bot.discord.cli",
    "tasks.data.retention_cli",
    "tasks.training.cli",
    "bot.doctor",
)



def _setting_problem(error: dict[str, object]) -> str:
    name = ".".join(map(str, error["loc"])) or "settings"  # type: ignore[call-overload]
    message = str(error["msg"]).removeprefix("Value error, ")
    return message if message.startswith(name) else f"{name}: {message}"


def _configure_logging() -> None:
    logging.basicConfig(level=get_settings().log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.callback()
def main(ctx: typer.Context) -> None:
    try:
        _configure_logging()
    except ValidationError as exc:  # a bad environment variable: say which, not a traceback
        if ctx.invoked_subcommand == "doctor":  # it reports the configuration among its checks
            return
        problems = "; ".join(_setting_problem(dict(e)) for e in exc.errors())
        raise fail(f"Configuration error: {problems}") from exc


# ── db ──────────────────────────────────────────────────────────────────────────────
@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target: head (the newest) or a revision id, e.g. 0002.")] = "head",
    revision_option: Annotated[str | None, typer.Option("--revision", hidden=True)] = None,  # the earlier spelling
) -> None:
    """Apply migrations up to REVISION (SQLite file by default, or DATABASE_URL)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from bot.store.db import Database, alembic_config

    settings = get_settings()
    if not settings.database_url:
        settings.ensure_data_dir()
    target = revision_option or revision
    database = Database(settings.resolved_database_url)
    scripts = ScriptDirectory.from_config(alembic_config(database.url))
    try:
        database.upgrade(target)
    except CommandError as exc:  # an unknown id or an impossible step: alembic applied nothing
        known = ", ".join(script.revision for script in reversed(list(scripts.walk_revisions())))
        if "Can't locate revision" in str(exc):
            raise fail(f"Unknown revision {target!r}: use head or one of {known}.") from exc
        raise fail(f"Cannot upgrade to {target!r}: {exc}.") from exc
    with database.engine.connect() as connection:  # what the database says, never what was asked for
        reached = MigrationContext.configure(connection).get_current_heads()
    database.dispose()
    head = scripts.get_current_head()
    note = " (the newest)" if reached == (head,) else f"; the newest is {head}"
    if target not in (*reached, "head", "heads"):
        note += f"; it was already past {target}, and upgrade never goes back"
    err.print(f"Database is at revision {', '.join(reached) or 'base (no migrations applied)'}{note}.", soft_wrap=True)


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


@bank_app.command("roles")
def bank_roles(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every role and the names (aliases) that choose it, e.g. for --role."""
    from bot.console.render import roles_listing

    bank = load_bank()
    if as_json:
        typer.echo(json.dumps({role: {"title": bank.roles[role].title, "aliases": bank.roles[role].aliases}
                               for role in sorted(bank.roles)}, indent=2))
        return
    Console().print(roles_listing(bank))


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
    job: Annotated[Path | None, typer.Option(help="A job ad (text file): questions practise its requirements.")]
    = None,
    adaptive: Annotated[bool, typer.Option("--adaptive/--fixed-level",
                                           help="Let the level follow your answers (default) or keep it fixed.")]
    = True,
) -> None:
    """Run a mock interview in the terminal."""
    import getpass

    from bot.app import build_engine
    from bot.console.logs import logs_aside
    from bot.console.practice import AnswersFile, Practice, stdin_source
    from bot.engine import Actor, BadInput, EngineError
    from bot.store.models import UserRole
    from chains.providers import ProviderError

    if kind not in KINDS:
        raise fail(f"--kind must be one of {', '.join(KINDS)}.")
    if level not in LEVELS:
        raise fail(f"--level must be one of {', '.join(LEVELS)}.")
    try:
        canonical = load_bank().resolve_role(role)
    except UnknownRole as exc:
        raise fail(str(exc)) from exc
    if answers is not None and not answers.is_file():
        raise fail(f"Answers file {answers} does not exist.")
    if job is not None and not job.is_file():
        raise fail(f"Job ad file {job} does not exist.")

    console = Console(stderr=True) if as_json else Console()
    name = user or getpass.getuser()
    actor = Actor("console", name, display_name=name, claimed_role=UserRole.recruiter if recruiter else None)
    try:
        with logs_aside(get_settings().data_dir / "logs"):  # never a warning inside a panel
            engine = build_engine(provider=provider)
            source = AnswersFile(answers.read_bytes()) if answers else stdin_source()
            session = engine.open_session(actor) if resume else None
            if resume and session is None:
                raise fail("There is no unfinished session to resume; start a new one.", code=1)
            if session is not None:
                console.print(f"Resuming interview {session.id}.")
                progress = engine.resume(session.id)
            else:
                try:
                    started = engine.start(actor, role=canonical, kind=kind, level=level, questions=questions,
                                           adaptive=adaptive, job_ad=job.read_bytes().decode(errors="replace")
                                           if job else None)
                except BadInput as exc:  # nothing was started, so there is nothing to resume
                    raise fail(str(exc)) from exc
                from bot.engine import Progress

                progress = Progress(session=started.session, next_question=started.question)
            runner = Practice(engine, actor, source, console)
            runner.run(progress)
    except KeyboardInterrupt:
        err.print("\n[yellow]Interrupted. Your session is saved; continue with "
                  "[bold]mockingbird practice --resume[/].[/]")
        raise typer.Exit(130) from None
    except EngineError as exc:
        raise fail(f"{exc} (Your progress is saved: mockingbird practice --resume.)", code=1) from exc
    except ProviderError as exc:  # e.g. an unknown --provider name
        raise fail(str(exc)) from exc
    if as_json:
        typer.echo(json.dumps(runner.transcript.as_json(), indent=2, ensure_ascii=False))


# ── progress ────────────────────────────────────────────────────────────────────────
@app.command()
def progress(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    user: Annotated[str | None, typer.Option(help="Whose progress (default: your login).")] = None,
    team: Annotated[bool, typer.Option(help="Team leads: the weakest criteria across the team by role.")] = False,
    team_lead: Annotated[bool, typer.Option(help="Act as a team lead.")] = False,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="With --team: write the table as CSV.")] = None,
) -> None:
    """Your scores per criterion and per role over time, weakest criteria, practice streak."""
    import dataclasses
    import getpass

    from bot.app import build_engine
    from bot.console.progress import progress_panel, team_table
    from bot.engine import Actor, Forbidden
    from bot.engine.progress import team_csv
    from bot.store.models import UserRole

    name = user or getpass.getuser()
    actor = Actor("console", name, display_name=name, claimed_role=UserRole.team_lead if team_lead else None)
    engine = build_engine(provider="offline")  # figures only: no model is called
    if not team:
        figures = engine.progress(actor)
        if as_json:
            typer.echo(json.dumps(figures.as_json(), indent=2, ensure_ascii=False))
        else:
            Console().print(progress_panel(figures))
        return
    try:
        rows = engine.team_progress(actor)
    except Forbidden as exc:
        raise fail(str(exc), code=1) from exc
    if csv_out is not None:
        csv_out.write_text(team_csv(rows), encoding="utf-8")
        err.print(f"Wrote {len(rows)} rows to {escape(str(csv_out))}.")
    elif as_json:
        typer.echo(json.dumps([dataclasses.asdict(r) for r in rows], indent=2, ensure_ascii=False))
    else:
        Console().print(team_table(rows))


# ── grade ───────────────────────────────────────────────────────────────────────────
@app.command()
def grade(
    question: Annotated[str | None, typer.Option(help="The interview question.")] = None,
    answer: Annotated[str | None, typer.Option(help="The answer to grade.")] = None,
    kind: Annotated[str, typer.Option(help="behavioral or technical.")] = "behavioral",
    role: Annotated[str, typer.Option(help="Role the question is for.")] = "backend",
    level: Annotated[str, typer.Option(help="junior, mid or senior.")] = "mid",
    provider: Annotated[str | None, typer.Option(help="LLM provider (default: LLM_PROVIDER).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the Feedback JSON.")] = False,
    batch: Annotated[Path | None, typer.Option(help="A JSONL file: one {question, answer, kind?, role?, level?} "
                                                    "per line; prints one Feedback JSON per line.")] = None,
) -> None:
    """Feedback on a single answer (or a JSONL batch), without starting a session."""
    from bot.console.render import feedback_panel
    from bot.engine.text import clean_answer
    from chains import providers
    from chains.providers import GradeRequest, ProviderError
    from chains.question_lookup import question_for_text

    if batch is not None:
        return _grade_batch(batch, provider)
    if question is None or answer is None:
        raise fail("Give --question and --answer, or --batch FILE.jsonl.")
    if kind not in KINDS or level not in LEVELS:
        raise fail(f"--kind must be one of {', '.join(KINDS)}; --level one of {', '.join(LEVELS)}.")
    settings = get_settings()
    cleaned = clean_answer(answer, settings.max_answer_chars)
    if not cleaned.text:
        raise fail("The answer is empty.")
    try:
        role = load_bank().resolve_role(role)
    except UnknownRole as exc:
        raise fail(str(exc)) from exc
    target = question_for_text(load_bank(), question, role=role, kind=kind, level=level)
    try:
        result = providers.build(settings, provider).grade(GradeRequest(question=target, answer=cleaned.text))
    except ProviderError as exc:
        raise fail(str(exc), code=1) from exc
    if as_json:
        typer.echo(result.value.model_dump_json(indent=2))
        return
    if cleaned.truncated:
        err.print(f"[yellow]The answer was cut to {settings.max_answer_chars} characters.[/]")
    Console().print(feedback_panel(result.value, result.call.provider))


def _grade_batch(path: Path, provider_name: str | None) -> None:
    from rich.progress import Progress

    from bot.batch import grade_lines
    from chains import providers
    from chains.providers import ProviderError

    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise fail(f"Cannot read {path}: {exc.strerror}.") from exc
    settings = get_settings()
    try:
        provider = providers.build(settings, provider_name)
    except ProviderError as exc:
        raise fail(str(exc)) from exc
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("Grading", total=len(lines))
        for output in grade_lines(lines, provider, load_bank(), settings.max_answer_chars):
            typer.echo(output)
            progress.advance(task)


@app.command()
def forget(
    platform: Annotated[str, typer.Option(help="slack, discord or console (terminal).")],
    user: Annotated[str, typer.Option(help="The platform's user id.")],
) -> None:
    """Delete a person's data everywhere (sessions, answers, ratings, corrections)."""
    from bot.store.db import open_database
    from bot.store.privacy import PLATFORM_ALIASES, PLATFORMS, forget_person, platform_named

    stored = platform_named(platform)
    if stored is None:  # a typo would otherwise find nobody and look like "nothing stored"
        raise fail(f"Unknown platform {platform!r}: use {', '.join(PLATFORMS[:-1])} or {PLATFORMS[-1]} "
                    f"(or {' or '.join(PLATFORM_ALIASES)}).")
    # Only the database: deleting data must work whatever the model settings are.
    with open_database(get_settings()).session() as session:
        removed = forget_person(session, stored, user)
    err.print(f"Deleted {stored}:{user}: {removed.summary()}." if removed else f"No data stored for {stored}:{user}.",
              soft_wrap=True)


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)

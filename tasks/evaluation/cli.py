"""``mockingbird stats`` and ``mockingbird eval``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from tasks.data.outputs import prepare_output

if TYPE_CHECKING:
    from tasks.evaluation.harness import EvalReport

err = Console(stderr=True)
SUMMARY_SECTIONS = (("json_validity", "JSON validity"), ("accuracy", "Feedback accuracy"),
                    ("diversity", "Question diversity"), ("relevance", "Relevance to the role"),
                    ("satisfaction", "Candidate satisfaction"),
                    ("agreement", "Agreement on the held-out annotated set"),
                    ("remarks", "Offline remarks true, held-out labels"))


def stats(
    days: Annotated[int, typer.Option(help="Look back this many days.")] = 30,
    by: Annotated[str, typer.Option(help="Group by role, kind, model or week.")] = "role",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    chart: Annotated[Path | None, typer.Option(help="Write a PNG chart here.")] = None,
) -> None:
    """Satisfaction, sessions, completion, corrections, scores and JSON validity (reads only)."""
    from bot.config import get_settings
    from bot.store.db import open_existing_database
    from bot.store.stats import GROUPINGS, compute_stats, render_chart

    if by not in GROUPINGS or days < 1:
        err.print(f"[red]--by must be one of {', '.join(GROUPINGS)} and --days at least 1.[/]")
        raise typer.Exit(2)
    if chart is not None:
        prepare_output(chart)
    result = compute_stats(open_existing_database(get_settings()), days=days, by=by)
    if chart is not None:
        chart.write_bytes(render_chart(result))
        err.print(f"Chart written to {chart}.")
    typer.echo(result.model_dump_json(indent=2) if as_json else result.as_text())


def evaluate(
    provider: Annotated[str | None, typer.Option(help="Provider to evaluate (default: LLM_PROVIDER).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write an HTML report here.")] = None,
    questions: Annotated[int, typer.Option(help="Questions per simulated session.")] = 5,
    no_embeddings: Annotated[bool, typer.Option(help="Skip embedding-based metrics.")] = False,
    no_agreement: Annotated[bool, typer.Option(help="Skip the held-out annotated set (600+ grading calls).")]
    = False,
) -> None:
    """Evaluate a provider on the held-out set: validity, accuracy, diversity/relevance, satisfaction."""
    from bot.config import get_settings
    from bot.store.db import open_database
    from bot.store.stats import compute_stats
    from chains import providers
    from chains.bank import load_bank
    from tasks.evaluation.harness import load_eval_set, run_eval

    settings = get_settings()
    chosen = provider or settings.llm_provider
    if chosen not in providers.available():
        err.print(f"[red]Unknown provider {chosen!r}; choose one of {', '.join(providers.available())}.[/]")
        raise typer.Exit(2)
    if html_out is not None:
        prepare_output(html_out)
    db = open_database(settings)
    from tasks.evaluation import annotated

    items = load_eval_set()
    total = len(items) + 2 * len(load_bank().roles) + (0 if no_agreement else len(annotated.load("heldout")))
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task(f"Evaluating {chosen}", total=total)
        report = run_eval(providers.create(chosen, settings), db=db, items=items, per_session=questions,
                          use_embeddings=not no_embeddings, step=lambda _: progress.advance(task),
                          agreement=not no_agreement)
    for note in report.notes:
        err.print(f"[yellow]{escape(note)}[/]")  # a note may hold "[eval]", which Rich would eat as markup
    if html_out is not None:
        from tasks.evaluation.html import render_html

        html_out.write_text(render_html(report, compute_stats(db, days=90, by="week")), encoding="utf-8")
        err.print(f"HTML report written to {html_out}.")
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    Console().print(summary_table(report))


def summary_table(report: EvalReport) -> Table:
    """The metrics as a table for people (``--json`` is for programs)."""
    table = Table(title=f"Evaluation of {report.provider}: {len(report.items)} annotated answers")
    table.add_column("metric")
    table.add_column("", style="dim")
    table.add_column("value", justify="right")
    for field, title in SUMMARY_SECTIONS:
        section = getattr(report, field)
        if section is None:
            table.add_row(title, "", "n/a", end_section=True)
            continue
        values = list(section.model_dump().items())
        for position, (name, value) in enumerate(values):
            table.add_row(title if position == 0 else "", name.replace("_", " "), _number(value),
                          end_section=position == len(values) - 1)
    return table


def _number(value: object) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def register(app: typer.Typer) -> None:
    app.command("stats")(stats)
    app.command("eval")(evaluate)

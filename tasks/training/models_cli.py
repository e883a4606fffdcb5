"""``mockingbird models ...``: list, show, gate, evaluate, traffic, compare, promote, rollback, review,
simulate. The registry's lifecycle from the operator's side; the training stack is never imported.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.commands import database as _database
from bot.commands import err
from bot.commands import fail as _fail
from bot.config import get_settings
from tasks.training.cli_common import pct as _pct
from tasks.training.cli_common import version_json as _version_json

models_app = typer.Typer(
    help="The model registry: gate, traffic split, promotion and rollback.", no_args_is_help=True
)


@models_app.command("list")
def models_list(
    backend: Annotated[str | None, typer.Option(help="Only this backend.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every registered version: status, traffic share, gate and held-out metrics."""
    from tasks import registry

    views = registry.list_versions(_database(), backend)
    if as_json:
        typer.echo(json.dumps([_version_json(v) for v in views], indent=2, default=str))
        return
    if not views:
        err.print("No model versions are registered yet. Train one: mockingbird retrain --help")
        return
    table = Table(title="Model versions")
    for column in (
        "name",
        "backend",
        "status",
        "traffic",
        "gate",
        "JSON valid",
        "agreement",
        "pref. acc.",
        "created",
    ):
        table.add_column(column)
    for v in views:
        m = v.metrics
        table.add_row(
            v.name,
            v.backend,
            v.status,
            _pct(v.traffic_share) if v.status == "candidate" else "-",
            "[green]pass[/]" if v.gate_passed else "[red]fail[/]",
            _pct(m.get("json_validity")),
            _pct(m.get("agreement")),
            _pct(m.get("preference_accuracy")),
            v.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    Console().print(table)


@models_app.command("show")
def models_show(name: Annotated[str, typer.Argument(help="Version name.")]) -> None:
    """One version as JSON: metrics, gate checks, data snapshot."""
    from tasks import registry

    try:
        typer.echo(json.dumps(_version_json(registry.get_version(_database(), name)), indent=2, default=str))
    except registry.RegistryError as exc:
        raise _fail(str(exc), code=1) from exc


@models_app.command("gate")
def models_gate(
    name: Annotated[str, typer.Argument(help="Version name.")],
    min_json_validity: Annotated[float, typer.Option(help="Lowest JSON validity that passes.")] = 0.95,
    min_agreement: Annotated[float, typer.Option(help="Lowest agreement with recruiter scores.")] = 0.6,
    min_preference_accuracy: Annotated[
        float, typer.Option(help="Lowest held-out preference accuracy.")
    ] = 0.5,
) -> None:
    """Run the evaluation gate again (for example with other thresholds)."""
    from tasks import registry

    thresholds = registry.GateThresholds(min_json_validity, min_agreement, min_preference_accuracy)
    try:
        result = registry.check_gate(_database(), name, thresholds)
    except registry.RegistryError as exc:
        raise _fail(str(exc), code=1) from exc
    for check in result.checks:
        err.print(f"  {'[green]pass[/]' if check.passed else '[red]fail[/]'} {check.name}: {check.note}")
    err.print(f"{name}: the gate {'passed' if result.passed else 'did not pass'}.")
    if not result.passed:
        raise typer.Exit(1)


@models_app.command("evaluate")
def models_evaluate(
    name: Annotated[str, typer.Argument(help="Version name.")],
    provider: Annotated[
        str | None,
        typer.Option(
            help="Provider that serves it (default: by backend: trl->tgi, openai->openai, gemini->gemini)."
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Evaluate on the first N held-out answers only.")] = None,
) -> None:
    """Measure a served version on the held-out recruiter-annotated answers and re-run its gate."""
    from chains import providers
    from chains.providers import ProviderError
    from tasks import registry
    from tasks.training.gemini_backend import as_exemplars
    from tasks.training.served_eval import evaluate_served

    db = _database()
    try:
        view = registry.get_version(db, name)
        chosen = provider or {"trl": "tgi", "openai": "openai", "gemini": "gemini"}[view.backend]
        served = providers.create(chosen, get_settings())
        if view.backend == "gemini":
            exemplar_set = view.data_snapshot.get("exemplar_set", {})
            measured = evaluate_served(
                served,
                limit=limit,
                exemplars=lambda role, kind: as_exemplars(exemplar_set.get(f"{role}/{kind}", [])),
            )
        else:
            measured = evaluate_served(served, model=view.serving_id, limit=limit)
        view = registry.record_metrics(db, name, measured)
    except (registry.RegistryError, ProviderError) as exc:
        raise _fail(str(exc), code=1) from exc
    err.print(
        f"{name} on {measured['eval_items']} held-out answers via {chosen}: JSON validity "
        f"{_pct(measured['json_validity'])}, agreement {_pct(measured['agreement'])}, score MAE "
        f"{measured['score_mae']}. Gate: {'pass' if view.gate_passed else 'fail'}."
    )


@models_app.command("traffic")
def models_traffic(
    name: Annotated[str, typer.Argument(help="Candidate name.")],
    share: Annotated[float, typer.Argument(help="Fraction of new sessions, 0-1 (0 stops the split).")],
) -> None:
    """Give a gated candidate a share of new sessions (the live version serves the rest)."""
    from tasks import registry

    try:
        view = registry.set_traffic(_database(), name, share)
    except registry.RegistryError as exc:
        raise _fail(str(exc), code=1) from exc
    err.print(f"{view.name} now serves {_pct(view.traffic_share)} of new sessions.")


@models_app.command("compare")
def models_compare(
    name: Annotated[str, typer.Argument(help="Candidate name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A candidate against the live version: per-session 👍 shares, fallback rates, the sequential test."""
    from tasks import registry

    try:
        result = registry.compare(_database(), name)
    except registry.RegistryError as exc:
        raise _fail(str(exc), code=1) from exc
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    c, b = result.candidate_arm, result.baseline_arm
    for label, arm in ((name, c), (f"baseline ({b.label})", b)):
        err.print(
            f"{label}: {arm.sessions} sessions, {_pct(arm.rate)} 👍 of {arm.total} ratings on its own turns, "
            f"fallback on {arm.fallbacks} of {arm.turns} turns ({_pct(arm.fallback_rate)})."
        )
    err.print(f"Decision: {result.decision} ({result.reason}).")


@models_app.command("promote")
def models_promote(name: Annotated[str, typer.Argument(help="Candidate name.")]) -> None:
    """Make a gated candidate live (refused if it is measured significantly worse)."""
    from tasks import registry

    try:
        view = registry.promote(_database(), name)
    except registry.RegistryError as exc:
        raise _fail(str(exc), code=1) from exc
    err.print(f"{view.name} is live: new sessions use {view.serving_id}.")


@models_app.command("rollback")
def models_rollback(
    name: Annotated[str | None, typer.Argument(help="Version to roll back (default: the live one).")] = None,
    backend: Annotated[str | None, typer.Option(help="Which backend's live version.")] = None,
) -> None:
    """Retire a candidate, or retire the live version and bring back the one it replaced."""
    from tasks import registry

    try:
        result = registry.rollback(_database(), name, backend=backend)
    except registry.RegistryError as exc:
        raise _fail(str(exc), code=1) from exc
    err.print(f"{result.retired.name} is retired and takes no traffic.")
    if result.reinstated is not None:
        err.print(f"{result.reinstated.name} is live again.")
    elif result.was_live:
        err.print("No earlier version to bring back: new sessions use the configured default model.")


@models_app.command("review")
def models_review(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Apply the promotion / rollback rule to every candidate that takes traffic."""
    from tasks import registry

    decisions = registry.review(_database())
    if as_json:
        typer.echo(
            json.dumps(
                [{"name": d.name, "action": d.action, **d.comparison.as_dict()} for d in decisions], indent=2
            )
        )
        return
    if not decisions:
        err.print("No candidate takes traffic; nothing to review.")
    for decision in decisions:
        err.print(f"{decision.name}: {decision.action} ({decision.comparison.reason}).")


def _pair(value: str, option: str) -> tuple[float, float]:
    try:
        a, b = (float(part) for part in value.split(","))
    except ValueError as exc:
        raise _fail(f"{option} takes two numbers separated by a comma, candidate first: 0.70,0.65") from exc
    if not (0 <= a <= 1 and 0 <= b <= 1):
        raise _fail(f"{option}: both values are fractions between 0 and 1.")
    return a, b


@models_app.command("simulate")
def models_simulate(
    rates: Annotated[
        str, typer.Option(help="👍 rates of candidate and baseline, e.g. 0.70,0.70.")
    ] = "0.70,0.70",
    per_hour: Annotated[int, typer.Option(help="New sessions per arm per hour.")] = 10,
    days: Annotated[
        float, typer.Option(help="Days simulated (the rule retires a candidate at AB_MAX_DAYS).")
    ] = 14,
    runs: Annotated[int, typer.Option(help="Simulated experiments.")] = 2000,
    ratings_per_session: Annotated[float, typer.Option(help="Mean rated turns per session.")] = 3.0,
    icc: Annotated[float, typer.Option(help="Correlation of ratings within a session (0-1).")] = 0.1,
    fallback_rates: Annotated[
        str, typer.Option(help="Share of turns each arm's model fails on (a fallback answers).")
    ] = "0,0",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run the rule `models review` applies (same function, same AB_* parameters) hourly on simulated data."""
    from tasks import registry
    from tasks.registry import sequential

    pair, fallbacks = _pair(rates, "--rates"), _pair(fallback_rates, "--fallback-rates")
    if per_hour < 1 or runs < 1 or days <= 0 or ratings_per_session < 1 or not 0 <= icc < 1:
        raise _fail(
            "Need --per-hour >= 1, --runs >= 1, --days > 0, --ratings-per-session >= 1, 0 <= --icc < 1."
        )
    try:
        policy = registry.current_policy()
    except registry.RegistryError as exc:
        raise _fail(str(exc)) from exc
    result = sequential.simulate(
        pair,
        per_hour=per_hour,
        days=days,
        runs=runs,
        policy=policy,
        ratings_per_session=ratings_per_session,
        icc=icc,
        fallback_rates=fallbacks,
        seed=seed,
    )
    out = result.as_dict()
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    p = policy
    typer.echo(
        f"{runs} runs, {per_hour} sessions per arm per hour for {days:g} days, reviewed hourly; "
        f"alpha {p.alpha:g}, tau {p.tau:g}, at least {p.min_sessions} sessions per arm and "
        f"{p.min_hours:g} h, retired after {p.max_days:g} days."
    )
    if result.better is None:
        typer.echo(
            f"false promotion: {100 * result.promoted:.1f}%   false rollback: {100 * result.rolled_back:.1f}%"
        )
    else:
        typer.echo(
            f"better arm: {result.better}   power (decided for it): {100 * out['power']:.1f}%   "
            f"wrong decision: {100 * out['wrong_decision']:.1f}%"
        )
    hours = result.median_hours_to_decision
    typer.echo(
        f"retired with no difference: {100 * result.retired:.1f}%   still waiting: {100 * result.undecided:.1f}%   "
        f"median time to a decision: {'-' if hours is None else f'{hours:g} h'}"
    )

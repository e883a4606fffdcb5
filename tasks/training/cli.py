"""``mockingbird retrain`` and ``mockingbird models ...`` (list, show, gate, evaluate, traffic, compare,
promote, rollback, review, simulate).

Registered through ``bot.cli.COMMAND_MODULES``. The training stack is imported only when a
command trains, so ``mockingbird models list`` works on a bot install without torch.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.config import get_settings

models_app = typer.Typer(
    help="The model registry: gate, traffic split, promotion and rollback.", no_args_is_help=True
)
err = Console(stderr=True, soft_wrap=True)  # long messages and commands stay copy-pastable


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]{escape(message)}[/]")  # escaped: "pip install -e '.[train]'" must keep its [train]
    return typer.Exit(code)


def _database():  # type: ignore[no-untyped-def]
    from bot.store.db import open_database

    return open_database(get_settings())


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.0f}%"


def _version_json(view: Any) -> dict[str, Any]:
    return {
        "name": view.name,
        "backend": view.backend,
        "status": view.status,
        "base_model": view.base_model,
        "artifact": view.artifact,
        "serving_id": view.serving_id,
        "traffic_share": view.traffic_share,
        "gate_passed": view.gate_passed,
        "metrics": view.metrics,
        "data_snapshot": {k: v for k, v in view.data_snapshot.items() if k != "exemplar_set"},
        "created_at": view.created_at.isoformat(),
        "promoted_at": view.promoted_at.isoformat() if view.promoted_at else None,
        "retired_at": view.retired_at.isoformat() if view.retired_at else None,
    }


def _summary(view: Any) -> None:
    from tasks.registry import run_gate

    gate = run_gate(view.metrics, view.backend)
    err.print(
        f"Registered [bold]{view.name}[/] ({view.backend}) as a candidate: serving id "
        f"[bold]{view.serving_id}[/], artifact {view.artifact}."
    )
    for check in gate.checks:
        mark = "[green]pass[/]" if check.passed else "[red]fail[/]"
        err.print(f"  {mark} {check.name}: {check.note}")
    if gate.passed:
        err.print(f"The gate passed. Give it traffic: mockingbird models traffic {view.name} 0.1")
    else:
        err.print("The gate did not pass; this version takes no traffic and cannot be promoted.")


# ── retrain ─────────────────────────────────────────────────────────────────────────
TRL_AND_OPENAI = ("base", "data", "method", "epochs", "beta", "heldout", "eval_samples")
TRL_ONLY = (
    "peft", "lora_r", "lora_alpha", "prefix_tokens", "max_steps", "learning_rate", "batch_size",
    "grad_accum", "max_length", "save_steps", "resume", "out", "eval_max_new_tokens",
)  # fmt: skip
EVERY_BACKEND = ("backend", "name", "as_json")
# A version name is a directory (models/NAME), a file name (datasets/NAME-METHOD.jsonl) and an adapter id.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# The backends that read each option (EVERY_BACKEND: all of them); any other backend refuses it.
# A test checks that every option of `retrain` is in one or the other.
OPTION_BACKENDS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(TRL_AND_OPENAI, ("trl", "openai")),
    **dict.fromkeys(TRL_ONLY, ("trl",)),
    "poll_interval": ("openai",),
    "per_group": ("gemini",),
    "evaluate_with": ("gemini",),
}


def _refuse_foreign_options(ctx: typer.Context, backend: str) -> None:
    """Exit 2, before any work, naming each option given on the command line that ``backend`` ignores."""
    foreign = [
        f"{'/'.join([*param.opts, *param.secondary_opts])} (for {', '.join(OPTION_BACKENDS[param.name])})"
        for param in ctx.command.params
        if param.name in OPTION_BACKENDS
        and backend not in OPTION_BACKENDS[param.name]
        # by name: newer typer vendors click, so click.core.ParameterSource would never match
        and getattr(ctx.get_parameter_source(param.name), "name", None) == "COMMANDLINE"
    ]
    if foreign:
        raise _fail(f"--backend {backend} does not use {', '.join(foreign)}; leave them out.")


def retrain(
    ctx: typer.Context,
    backend: Annotated[
        str | None, typer.Option(help="trl, openai or gemini (default RETRAIN_BACKEND).")
    ] = None,
    base: Annotated[
        str | None,
        typer.Option(
            help="trl: base model directory or id; openai: the model to "
            "fine-tune (default RETRAIN_BASE_MODEL, else OPENAI_MODEL)."
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="JSONL from `mockingbird dataset export` (default: export the stored preference data now)."
        ),
    ] = None,
    method: Annotated[str, typer.Option(help="dpo, kto or sft.")] = "dpo",
    peft: Annotated[str, typer.Option(help="trl: lora, prefix or none (full fine-tuning).")] = "lora",
    lora_r: Annotated[int, typer.Option(help="LoRA rank.")] = 16,
    lora_alpha: Annotated[int | None, typer.Option(help="LoRA alpha (default 2 x rank).")] = None,
    prefix_tokens: Annotated[int, typer.Option(help="Prefix-tuning virtual tokens.")] = 16,
    epochs: Annotated[float, typer.Option(help="Training epochs.")] = 1.0,
    max_steps: Annotated[int, typer.Option(help="Stop after this many steps (-1: run the epochs).")] = -1,
    learning_rate: Annotated[
        float | None, typer.Option(help="Learning rate (default per method and PEFT).")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Per-device batch size.")] = 4,
    grad_accum: Annotated[int, typer.Option(help="Gradient accumulation steps.")] = 1,
    max_length: Annotated[int, typer.Option(help="Longest prompt + reply, in tokens.")] = 1024,
    beta: Annotated[float, typer.Option(help="DPO / KTO beta.")] = 0.1,
    save_steps: Annotated[int, typer.Option(help="Checkpoint every N steps.")] = 50,
    resume: Annotated[
        bool, typer.Option(help="Resume from the last checkpoint in the output directory.")
    ] = True,
    name: Annotated[
        str | None,
        typer.Option(help="Registry name and TGI adapter id (rerun with the same name to resume)."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Output directory (default DATA_DIR/models/NAME).")] = None,
    heldout: Annotated[float, typer.Option(help="Fraction of prompts held out for evaluation.")] = 0.15,
    eval_samples: Annotated[int, typer.Option(help="Held-out prompts to generate feedback for.")] = 16,
    eval_max_new_tokens: Annotated[int, typer.Option(help="Longest generated reply when evaluating.")] = 256,
    poll_interval: Annotated[float, typer.Option(help="openai: seconds between job status checks.")] = 15.0,
    per_group: Annotated[int, typer.Option(help="gemini: exemplars kept per role and kind.")] = 8,
    evaluate_with: Annotated[
        str | None,
        typer.Option(help="gemini: provider that measures the new set (default gemini; 'none' to skip)."),
    ] = "gemini",
    as_json: Annotated[bool, typer.Option("--json", help="Print the registered version as JSON.")] = False,
) -> None:
    """Train a new feedback model version and register it as a candidate (TRL, OpenAI or Gemini).

    An option the chosen backend does not read is refused (exit 2) rather than ignored.
    """
    from tasks import registry
    from tasks.training import data as training_data
    from tasks.training import entry

    settings = get_settings()
    backend = backend or settings.retrain_backend
    if backend not in registry.BACKENDS:
        raise _fail(f"--backend must be one of {', '.join(registry.BACKENDS)}.")
    _refuse_foreign_options(ctx, backend)
    if method not in training_data.METHODS:
        raise _fail(f"--method must be one of {', '.join(training_data.METHODS)}.")
    from tasks.training.trl_backend import PEFTS

    if peft not in PEFTS:
        raise _fail(f"--peft must be one of {', '.join(PEFTS)}.")
    name = name or (
        out.name if out else entry.version_name(backend, "fewshot" if backend == "gemini" else method)
    )
    if not SAFE_NAME.fullmatch(name):
        raise _fail(
            f"--name {name!r} is not a usable version name: it becomes a directory and a file name, so use "
            "letters, digits, '.', '_' and '-' only (no '/', no '..'), starting with a letter or digit, "
            "at most 100 characters."
        )
    db = _database()
    try:
        registry.get_version(db, name)
        raise _fail(f"A model version named {name!r} is already registered; choose another --name.")
    except registry.RegistryError:
        pass
    try:
        if backend == "gemini":
            view = entry.run_gemini(
                db,
                settings,
                name,
                per_group=per_group,
                evaluate_with=None if evaluate_with in (None, "none") else evaluate_with,
            )
        else:
            if data is None:
                data = entry.export_data(db, method, entry.datasets_dir(settings) / f"{name}-{method}.jsonl")
                err.print(f"Exported the stored preference data to {data}.")
            loaded = training_data.load(data, method, heldout)  # type: ignore[arg-type]
            err.print(
                f"{loaded.snapshot['rows']} rows: {loaded.snapshot['train']} to train, "
                f"{loaded.snapshot['heldout']} held out."
            )
            view = _train(
                backend,
                settings,
                db,
                loaded,
                name=name,
                base=base,
                out=out,
                peft=peft,
                lora_r=lora_r,
                lora_alpha=lora_alpha,
                prefix_tokens=prefix_tokens,
                epochs=epochs,
                max_steps=max_steps,
                learning_rate=learning_rate,
                batch_size=batch_size,
                grad_accum=grad_accum,
                max_length=max_length,
                beta=beta,
                save_steps=save_steps,
                resume=resume,
                eval_samples=eval_samples,
                eval_max_new_tokens=eval_max_new_tokens,
                poll_interval=poll_interval,
            )
    except (
        training_data.DataError,
        entry.RetrainError,
        registry.RegistryError,
        ValueError,
        FileNotFoundError,
    ) as exc:
        raise _fail(str(exc), code=1) from exc
    except RuntimeError as exc:  # the training stack missing, a failed fine-tuning job
        raise _fail(str(exc), code=1) from exc
    _summary(view)
    if as_json:
        typer.echo(json.dumps(_version_json(view), indent=2, default=str))


def _train(
    backend: str,
    settings: Any,
    db: Any,
    loaded: Any,
    *,
    name: str,
    base: str | None,
    out: Path | None,
    **options: Any,
) -> Any:
    from tasks.training import entry

    if backend == "trl":
        from tasks.training.trl_backend import TrlJob

        base = base or settings.retrain_base_model
        if not base:
            raise entry.RetrainError("--base (or RETRAIN_BASE_MODEL) is required for the trl backend.")
        options.pop("poll_interval")
        output_dir = out or entry.models_dir(settings) / name
        err.print(
            f"Training into {output_dir} (checkpoints in {output_dir / 'checkpoints'}; "
            f"rerun with --name {name} to resume)."
        )
        return entry.run_trl(db, TrlJob(base=base, data=loaded, output_dir=output_dir, name=name, **options))
    from tasks.training.openai_backend import OpenAIJob

    job = OpenAIJob(
        data=loaded,
        base_model=base or settings.retrain_base_model or settings.openai_model,
        suffix=name,
        epochs=int(options["epochs"]) if options["epochs"] >= 1 else None,
        beta=options["beta"],
        poll_interval_s=options["poll_interval"],
        eval_samples=options["eval_samples"],
    )
    return entry.run_openai(db, settings, job, on_status=lambda status: err.print(f"  job status: {status}"))


# ── models ──────────────────────────────────────────────────────────────────────────
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


def register(app: typer.Typer) -> None:
    app.command("retrain")(retrain)
    app.add_typer(models_app, name="models")

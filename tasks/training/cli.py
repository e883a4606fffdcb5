"""``mockingbird retrain``: train a feedback model version (TRL, OpenAI or Gemini) and register it.

Registered through ``bot.cli.COMMAND_MODULES`` together with ``mockingbird models``
(``tasks.training.models_cli``). The training stack is imported only when a command trains.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.commands import database as _database
from bot.commands import err
from bot.commands import fail as _fail
from bot.config import get_settings
from tasks.training.cli_common import summary as _summary
from tasks.training.cli_common import version_json as _version_json
from tasks.training.models_cli import models_app

# ── retrain ─────────────────────────────────────────────────────────────────────────
TRL_AND_OPENAI = ("base", "data", "method", "epochs", "beta", "heldout", "eval_samples")
TRL_ONLY = (
    "annotated", "peft", "lora_r", "lora_alpha", "prefix_tokens", "max_steps", "learning_rate", "batch_size",
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
            help="trl: an HF model directory, a .gguf file, or a packaged model (smollm2), converted "
            "once and cached under DATA_DIR/base-models; openai: the model to fine-tune "
            "(default RETRAIN_BASE_MODEL, else OPENAI_MODEL)."
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="JSONL from `mockingbird dataset export` (default: export the stored preference data now)."
        ),
    ] = None,
    method: Annotated[str, typer.Option(help="dpo, kto or sft.")] = "dpo",
    annotated: Annotated[
        bool,
        typer.Option(
            help="trl: measure on the recruiter-annotated set's held-out answers and never train on its "
            "held-out questions; sft also trains on its training split."
        ),
    ] = True,
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
            add_annotated = backend == "trl" and annotated
            allow_empty = add_annotated and method == "sft"  # the annotated set alone is enough to train on
            loaded = training_data.load(data, method, heldout, allow_empty=allow_empty)  # type: ignore[arg-type]
            if add_annotated:
                from tasks.training.annotated_rows import with_annotated

                loaded = with_annotated(loaded)
            err.print(
                f"{loaded.snapshot['rows']} exported rows"
                f"{' + the annotated set' if add_annotated else ''}: {loaded.snapshot['train']} to train, "
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

        spec = base or settings.retrain_base_model
        if not spec:
            raise entry.RetrainError(
                "--base (or RETRAIN_BASE_MODEL) is required for the trl backend: an HF model directory, "
                "a .gguf file, or smollm2."
            )
        base = entry.resolve_trl_base(settings, spec)
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


def register(app: typer.Typer) -> None:
    app.command("retrain")(retrain)
    app.add_typer(models_app, name="models")

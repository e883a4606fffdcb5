"""Retraining end to end: data -> backend -> evaluation -> a registry candidate.

``retrain_from_settings(db, settings)`` is what the beat-scheduled trigger calls: it exports
the preference data, trains with ``RETRAIN_BACKEND`` on ``RETRAIN_BASE_MODEL`` and registers the
result as a candidate that must pass the gate before it takes any traffic. The CLI calls the
per-backend functions with the operator's options.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.store.db import Database
from bot.store.models import utcnow
from tasks import registry
from tasks.training.data import EXPORT_FORMAT, Method, TrainingData

log = logging.getLogger(__name__)


class RetrainError(RuntimeError):
    """Retraining cannot start (configuration, data); nothing was registered."""


def version_name(backend: str, method: str, moment: datetime | None = None) -> str:
    """A registry name that is also a valid TGI adapter id and OpenAI suffix (letters, digits, dashes)."""
    return f"mb-{backend}-{method}-{(moment or utcnow()):%Y%m%d-%H%M%S}"


def models_dir(settings: Settings) -> Path:
    """Adapters and exemplar sets, one directory per version (the TGI adapter volume can mount it)."""
    return settings.data_dir / "models"


def datasets_dir(settings: Settings) -> Path:
    """Exported training files, kept apart so redacted user text never travels with an adapter."""
    return settings.data_dir / "datasets"


def resolve_trl_base(settings: Settings, spec: str) -> str:
    """The HF directory to train on: ``spec`` as given, or a GGUF / packaged model converted once
    into DATA_DIR/base-models (``chains.local.resolve_base``; ``BaseModelError`` says what is wrong)."""
    from chains.local import base_cache_dir, resolve_base

    return str(resolve_base(spec, base_cache_dir(settings.data_dir)))


def export_data(db: Database, method: Method, out: Path, since: datetime | None = None) -> Path:
    """Rebuild the preference data, write it for ``method`` (redacted JSONL) and return the path."""
    from tasks.data import export, preferences

    preferences.build(db)
    export.export(db, EXPORT_FORMAT[method], out, since=since)
    return out


def register_trl(db: Database, outcome: Any) -> registry.VersionView:
    metrics = {
        **outcome.metrics,
        "method": outcome.method,
        "peft": outcome.peft,
        "serving": outcome.serving,
        "hyperparameters": outcome.hyperparameters,
        "resumed_from": outcome.resumed_from,
    }
    return registry.register_candidate(db, name=outcome.name, backend="trl", base_model=outcome.base_model,
                                       artifact=str(outcome.output_dir), data_snapshot=outcome.data_snapshot,
                                       metrics=metrics)


def run_trl(db: Database, job: Any) -> registry.VersionView:
    from tasks.training.trl_backend import train

    return register_trl(db, train(job))


def run_openai(
    db: Database,
    settings: Settings,
    job: Any,
    *,
    client: Any = None,
    on_status: Callable[[str], None] | None = None,
) -> registry.VersionView:
    from tasks.training import openai_backend

    client = client or openai_backend.make_client(settings)
    outcome = openai_backend.run(job, client, on_status=on_status)
    metrics: dict[str, Any] = {
        "method": job.data.method,
        "serving": "model-name",
        "job_id": outcome.job_id,
        "trained_tokens": outcome.trained_tokens,
        "statuses": outcome.statuses,
        "hyperparameters": job.hyperparameters(),
    }
    if job.eval_samples > 0 and job.data.heldout:
        metrics.update(openai_backend.evaluate(client, outcome.fine_tuned_model, job.data, job.eval_samples))
    snapshot = {**job.data.snapshot, "training_file": outcome.training_file, "validation_file": outcome.validation_file}
    return registry.register_candidate(db, name=job.suffix, backend="openai", base_model=job.base_model,
                                       artifact=outcome.fine_tuned_model, data_snapshot=snapshot, metrics=metrics)


def run_gemini(
    db: Database,
    settings: Settings,
    name: str,
    *,
    per_group: int = 8,
    evaluate_with: str | None = "gemini",
    eval_limit: int | None = None,
) -> registry.VersionView:
    """Snapshot the exemplar set as a candidate; measure it through ``evaluate_with`` if that works."""
    from tasks.training import gemini_backend

    exemplar_set = gemini_backend.build_exemplar_set(db, per_group=per_group)
    if not exemplar_set:
        raise RetrainError(
            "No corrected or 👍-rated feedback is stored yet, so there are no exemplars to refresh."
        )
    path = gemini_backend.write_exemplar_set(
        models_dir(settings) / name / "exemplars.json", name, exemplar_set
    )
    metrics: dict[str, Any] = {"method": "fewshot", "serving": "exemplar-set"}
    if evaluate_with:
        metrics.update(evaluate_version_set(settings, exemplar_set, evaluate_with, eval_limit))
    return registry.register_candidate(
        db,
        name=name,
        backend="gemini",
        base_model=settings.gemini_model,
        artifact=str(path),
        data_snapshot=gemini_backend.set_snapshot(exemplar_set),
        metrics=metrics,
    )


def evaluate_version_set(
    settings: Settings,
    exemplar_set: dict[str, list[dict[str, Any]]],
    provider_name: str,
    limit: int | None = None,
) -> dict[str, Any]:
    from chains import providers
    from tasks.training.gemini_backend import as_exemplars
    from tasks.training.served_eval import evaluate_served

    try:
        provider = providers.create(provider_name, settings)
        return evaluate_served(
            provider,
            limit=limit,
            exemplars=lambda role, kind: as_exemplars(exemplar_set.get(f"{role}/{kind}", [])),
        )
    except Exception as exc:  # no key, provider down: the gate stays closed until `models evaluate`
        log.warning("could not evaluate the exemplar set with %s: %s", provider_name, exc)
        return {"evaluation_error": f"{provider_name}: {exc}"[:500]}


def retrain_from_settings(
    db: Database,
    settings: Settings,
    *,
    data: Path | None = None,
    method: Method = "dpo",
    name: str | None = None,
    since: datetime | None = None,
    heldout_fraction: float = 0.15,
    poll_interval_s: float | None = None,
) -> registry.VersionView:
    """Retrain with the configured backend and register the result as a candidate.

    ``data`` defaults to a fresh export of the stored preference data. Raises ``RetrainError``
    when configuration or data are missing; the backend's own errors propagate.
    """
    from tasks.training import data as training_data

    backend = settings.retrain_backend
    if backend not in registry.BACKENDS:
        raise RetrainError(
            f"RETRAIN_BACKEND must be one of {', '.join(registry.BACKENDS)} (got {backend!r})."
        )
    name = name or version_name(backend, "fewshot" if backend == "gemini" else method)
    if backend == "gemini":
        return run_gemini(db, settings, name)
    if backend == "trl" and not settings.retrain_base_model:
        raise RetrainError(
            "RETRAIN_BASE_MODEL is not set: the trl backend needs a base model directory or id."
        )
    if data is None:
        data = export_data(db, method, datasets_dir(settings) / f"{name}-{method}.jsonl", since)
    sft_on_trl = backend == "trl" and method == "sft"
    loaded: TrainingData = training_data.load(data, method, heldout_fraction, allow_empty=sft_on_trl)
    if backend == "trl":
        from tasks.training.annotated_rows import with_annotated
        from tasks.training.trl_backend import TrlJob

        loaded = with_annotated(loaded)  # measured on the annotated held-out answers, never trained on
        job = TrlJob(
            base=resolve_trl_base(settings, str(settings.retrain_base_model)),
            data=loaded,
            output_dir=models_dir(settings) / name,
            name=name,
            show_progress=False,
        )
        return run_trl(db, job)
    from tasks.training import openai_backend
    from tasks.training.openai_backend import OpenAIJob

    job_openai = OpenAIJob(
        data=loaded,
        base_model=settings.retrain_base_model or settings.openai_model,
        suffix=name,
        poll_interval_s=openai_backend.POLL_INTERVAL_S if poll_interval_s is None else poll_interval_s,
    )
    return run_openai(db, settings, job_openai)

"""The ``openai`` backend: upload the preference file, run a DPO fine-tuning job, record the model name.

Through the official ``openai`` SDK (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``), so tests drive
exactly this code against a fake files + fine-tuning API on loopback. The held-out rows are
uploaded as the validation file and, once the job succeeds, used to measure the new model's
JSON validity and agreement (chat completions with the same prompts, no repair).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config import Settings
from tasks.training.data import TrainingData, to_openai_chat, to_openai_preference
from tasks.training.feedback_json import parse_feedback

TERMINAL = ("succeeded", "failed", "cancelled")
POLL_INTERVAL_S = 15.0  # jobs take minutes to hours; this keeps well inside the API's rate limits


class FineTuneFailed(RuntimeError):
    """The provider rejected or failed the job; the message carries its reason."""


@dataclass
class OpenAIJob:
    data: TrainingData
    base_model: str
    suffix: str
    epochs: int | None = None
    beta: float | None = None
    batch_size: int | None = None
    learning_rate_multiplier: float | None = None
    poll_interval_s: float = POLL_INTERVAL_S
    timeout_s: float = 24 * 3600
    eval_samples: int = 16
    seed: int | None = None

    def hyperparameters(self) -> dict[str, Any]:
        chosen: dict[str, Any] = {
            "n_epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate_multiplier": self.learning_rate_multiplier,
        }
        if self.data.method == "dpo":
            chosen["beta"] = self.beta
        return {key: value for key, value in chosen.items() if value is not None}


@dataclass
class OpenAIOutcome:
    job_id: str
    fine_tuned_model: str
    training_file: str
    validation_file: str | None
    trained_tokens: int | None
    statuses: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)


def make_client(settings: Settings) -> Any:
    from openai import OpenAI

    if settings.openai_api_key is None or not settings.openai_api_key.get_secret_value():
        raise ValueError(
            "OPENAI_API_KEY is not set; the openai backend needs it (and OPENAI_BASE_URL for a proxy)."
        )
    return OpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        timeout=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
    )


def _write(rows: list[dict[str, Any]], method: str) -> Path:
    convert = to_openai_preference if method == "dpo" else to_openai_chat
    handle = tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8")
    with handle:
        for row in rows:
            handle.write(json.dumps(convert(row), ensure_ascii=False) + "\n")
    return Path(handle.name)


def _upload(client: Any, rows: list[dict[str, Any]], method: str, name: str) -> str:
    path = _write(rows, method)
    try:
        with path.open("rb") as handle:
            return client.files.create(file=(name, handle), purpose="fine-tune").id
    finally:
        path.unlink(missing_ok=True)


def run(
    job: OpenAIJob,
    client: Any,
    *,
    on_status: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> OpenAIOutcome:
    """Upload, start, poll until a terminal status; raises ``FineTuneFailed`` unless it succeeded."""
    if job.data.method == "kto":
        raise ValueError("OpenAI fine-tuning has no KTO method; use --method dpo (pairs) or sft.")
    training_file = _upload(client, job.data.train, job.data.method, f"{job.suffix}-train.jsonl")
    validation_file = (
        _upload(client, job.data.heldout, job.data.method, f"{job.suffix}-heldout.jsonl")
        if job.data.heldout
        else None
    )
    kind = "dpo" if job.data.method == "dpo" else "supervised"
    method = {"type": kind, kind: {"hyperparameters": job.hyperparameters()}}
    params: dict[str, Any] = {
        "model": job.base_model,
        "training_file": training_file,
        "method": method,
        "suffix": job.suffix[:64],
    }
    if validation_file:
        params["validation_file"] = validation_file
    if job.seed is not None:
        params["seed"] = job.seed
    created = client.fine_tuning.jobs.create(**params)
    statuses = [created.status]
    if on_status:
        on_status(created.status)
    deadline = time.monotonic() + job.timeout_s
    current = created
    while current.status not in TERMINAL:
        if time.monotonic() > deadline:
            raise FineTuneFailed(
                f"job {created.id} did not finish within {job.timeout_s:.0f} s "
                f"(last status {current.status}); it keeps running at OpenAI"
            )
        sleep(job.poll_interval_s)
        current = client.fine_tuning.jobs.retrieve(created.id)
        if current.status != statuses[-1]:
            statuses.append(current.status)
            if on_status:
                on_status(current.status)
    if current.status != "succeeded" or not current.fine_tuned_model:
        reason = current.error.message if current.error else "no reason given"
        raise FineTuneFailed(f"fine-tuning job {created.id} {current.status}: {reason}")
    return OpenAIOutcome(
        job_id=created.id,
        fine_tuned_model=current.fine_tuned_model,
        training_file=training_file,
        validation_file=validation_file,
        trained_tokens=current.trained_tokens,
        statuses=statuses,
    )


def evaluate(client: Any, model: str, data: TrainingData, limit: int) -> dict[str, Any]:
    """JSON validity and agreement of ``model`` on the held-out prompts (reference: the chosen reply)."""
    from tasks.training.evaluate_common import agreement_metrics, reference_reply, unique_prompts

    rows = unique_prompts(data.heldout, data.method)[:limit]
    replies = []
    for row in rows:
        response = client.chat.completions.create(model=model, messages=row["prompt"], temperature=0)
        replies.append(response.choices[0].message.content or "")
    pairs = [
        (parse_feedback(text), reference_reply(row, data.method))
        for text, row in zip(replies, rows, strict=True)
    ]
    return agreement_metrics(pairs)

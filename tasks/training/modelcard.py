"""The model card written next to every trained adapter: what it was trained on, how, and how it scored.

A README.md with Hugging Face front matter (so hub tooling and TGI operators recognise it)
and ``training.json`` with the same facts for machines (the registry reads it back).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f}%"


def write_model_card(
    directory: Path,
    *,
    name: str,
    base_model: str,
    method: str,
    peft: str,
    data: dict[str, Any],
    hyperparameters: dict[str, Any],
    metrics: dict[str, Any],
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    front = {
        "base_model": base_model,
        "library_name": "peft" if peft != "none" else "transformers",
        "tags": ["mockingbird", "trl", method, peft],
        "pipeline_tag": "text-generation",
    }
    serving = {
        "lora": f"TGI: `--lora-adapters {name}={directory}`; requests choose it with `adapter_id={name}`.",
        "prefix": "Prefix-tuning adapter: load with PEFT; TGI serves LoRA only.",
        "none": "Full fine-tune: serve it as its own TGI model (`--model-id` this directory).",
    }[peft]
    lines = [
        "---",
        yaml.safe_dump(front, sort_keys=False).strip(),
        "---",
        "",
        f"# {name}",
        "",
        f"Mockingbird feedback model: {method.upper()} on `{base_model}` with "
        f"{'full fine-tuning' if peft == 'none' else peft + ' (PEFT)'}, written "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}.",
        "",
        "It writes interview feedback as the `Feedback` JSON (score, strengths, weaknesses, suggestions, "
        "criteria, summary), learned from recruiter corrections and candidates' 👍 / 👎.",
        "",
        "## Serving",
        "",
        serving,
        "",
        "## Data",
        "",
        f"- file: `{data.get('file', 'n/a')}` (sha256 `{str(data.get('sha256', ''))[:16]}…`)",
        f"- rows: {data.get('rows', 'n/a')} ({data.get('train', 'n/a')} train, "
        f"{data.get('heldout', 'n/a')} held out by prompt, so no prompt is on both sides)",
        "",
        "## Hyperparameters",
        "",
        "| name | value |",
        "| --- | --- |",
        *[f"| {key} | {value} |" for key, value in hyperparameters.items()],
        "",
        "## Evaluation (held-out rows)",
        "",
        "| metric | before | after |",
        "| --- | --- | --- |",
        "| preference accuracy (chosen log-prob > rejected) "
        f"| {_pct(metrics.get('preference_accuracy_base'))} "
        f"| {_pct(metrics.get('preference_accuracy'))} |",
        f"| JSON validity (greedy generations) | {_pct(metrics.get('json_validity_base'))} "
        f"| {_pct(metrics.get('json_validity'))} |",
        f"| agreement with reference score (±1) | {_pct(metrics.get('agreement_base'))} "
        f"| {_pct(metrics.get('agreement'))} |",
        "",
        f"Training: {metrics.get('train_steps', 'n/a')} steps in {metrics.get('train_runtime_s', 'n/a')} s "
        f"({metrics.get('tokens_per_second', 'n/a')} tokens/s).",
        "",
        "The registry's evaluation gate decides whether this version may take traffic "
        "(`mockingbird models list`).",
        "",
    ]
    (directory / "README.md").write_text("\n".join(lines), encoding="utf-8")
    facts = {
        "name": name,
        "base_model": base_model,
        "method": method,
        "peft": peft,
        "data": data,
        "hyperparameters": hyperparameters,
        "metrics": metrics,
    }
    (directory / "training.json").write_text(json.dumps(facts, indent=2, default=str), encoding="utf-8")
    return directory / "README.md"

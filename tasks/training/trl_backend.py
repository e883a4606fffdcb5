"""The ``trl`` backend: DPO, KTO or SFT with TRL on an open model, with a PEFT LoRA / prefix / no adapter.

The result is a directory TGI can serve (a LoRA adapter: ``--lora-adapters NAME=DIR``,
``adapter_id=NAME`` per request), with a model card and ``training.json``. Every row's prompt is
trained (and measured) with the prompt files' compact system text, the prompt the ``local`` and
``tgi`` providers send a model trained here (``chains.prompts.compact_messages``). Checkpoints go to
``DIR/checkpoints``; running the same command again resumes from the last one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from tasks.training.data import Method, TrainingData, kto_weights

log = logging.getLogger(__name__)

Peft = Literal["lora", "prefix", "none"]
PEFTS: tuple[Peft, ...] = ("lora", "prefix", "none")
# Learning rates that are sensible starting points per method and adapter kind.
DEFAULT_LR: dict[tuple[str, str], float] = {
    ("dpo", "lora"): 5e-5,
    ("kto", "lora"): 5e-5,
    ("sft", "lora"): 2e-4,
    ("dpo", "prefix"): 1e-3,
    ("kto", "prefix"): 1e-3,
    ("sft", "prefix"): 1e-2,
    ("dpo", "none"): 5e-7,
    ("kto", "none"): 5e-7,
    ("sft", "none"): 1e-5,
}


@dataclass
class TrlJob:
    base: str
    data: TrainingData
    output_dir: Path
    name: str
    peft: Peft = "lora"
    lora_r: int = 16
    lora_alpha: int | None = None
    lora_dropout: float = 0.05
    prefix_tokens: int = 16
    epochs: float = 1.0
    max_steps: int = -1
    learning_rate: float | None = None
    batch_size: int = 4
    grad_accum: int = 1
    max_length: int = 1024
    beta: float = 0.1
    save_steps: int = 50
    resume: bool = True
    eval_samples: int = 16
    eval_max_new_tokens: int = 256
    seed: int = 0
    show_progress: bool = True

    @property
    def method(self) -> Method:
        return self.data.method

    def hyperparameters(self) -> dict[str, Any]:
        chosen = {
            "method": self.method,
            "peft": self.peft,
            "epochs": self.epochs,
            "max_steps": self.max_steps,
            "learning_rate": self.learning_rate or DEFAULT_LR[(self.method, self.peft)],
            "batch_size": self.batch_size,
            "grad_accum": self.grad_accum,
            "max_length": self.max_length,
            "seed": self.seed,
        }
        if self.method in ("dpo", "kto"):
            chosen["beta"] = self.beta
        if self.method == "kto":
            weights = kto_weights(self.data.train)
            chosen.update(desirable_weight=weights.desirable_weight, undesirable_weight=weights.undesirable_weight)
        if self.peft == "lora":
            chosen.update(
                lora_r=self.lora_r,
                lora_alpha=self.lora_alpha or 2 * self.lora_r,
                lora_dropout=self.lora_dropout,
                target_modules="all-linear",
            )
        elif self.peft == "prefix":
            chosen["prefix_tokens"] = self.prefix_tokens
        return chosen


@dataclass
class TrainOutcome:
    name: str
    output_dir: Path
    base_model: str
    method: Method
    peft: Peft
    hyperparameters: dict[str, Any]
    metrics: dict[str, Any]
    data_snapshot: dict[str, Any]
    resumed_from: str | None = None
    steps_run: int = 0

    @property
    def serving(self) -> str:
        return {"lora": "lora-adapter", "prefix": "prefix-adapter", "none": "full-model"}[self.peft]


def _peft_config(job: TrlJob) -> Any:
    from peft import LoraConfig, PrefixTuningConfig, TaskType

    if job.peft == "lora":
        return LoraConfig(
            r=job.lora_r,
            lora_alpha=job.lora_alpha or 2 * job.lora_r,
            lora_dropout=job.lora_dropout,
            target_modules="all-linear",
            task_type=TaskType.CAUSAL_LM,
        )
    if job.peft == "prefix":
        return PrefixTuningConfig(num_virtual_tokens=job.prefix_tokens, task_type=TaskType.CAUSAL_LM)
    return None


def _trainer(job: TrlJob, model: Any, tokenizer: Any, callbacks: list[Any]) -> Any:
    import torch
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer, KTOConfig, KTOTrainer, SFTConfig, SFTTrainer

    cuda = torch.cuda.is_available()
    common = dict(
        output_dir=str(job.output_dir / "checkpoints"),
        num_train_epochs=job.epochs,
        max_steps=job.max_steps,
        per_device_train_batch_size=job.batch_size,
        gradient_accumulation_steps=job.grad_accum,
        learning_rate=job.learning_rate or DEFAULT_LR[(job.method, job.peft)],
        logging_steps=1,
        save_strategy="steps",
        save_steps=job.save_steps,
        save_total_limit=2,
        report_to=[],
        disable_tqdm=True,
        gradient_checkpointing=False,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        use_cpu=not cuda,
        seed=job.seed,
        max_length=job.max_length,
        dataloader_num_workers=0,
    )
    dataset = Dataset.from_list(job.data.train)
    args: dict[str, Any] = {
        "model": model,
        "train_dataset": dataset,
        "processing_class": tokenizer,
        "peft_config": _peft_config(job),
        "callbacks": callbacks,
    }
    if job.method == "dpo":
        return DPOTrainer(args=DPOConfig(**common, beta=job.beta), **args)
    if job.method == "kto":
        # Weights from the label balance of the rows it trains on (TRL's advice for imbalanced data).
        weights = kto_weights(job.data.train)
        config = KTOConfig(
            **common,
            beta=job.beta,
            desirable_weight=weights.desirable_weight,
            undesirable_weight=weights.undesirable_weight,
        )
        return KTOTrainer(args=config, **args)
    return SFTTrainer(args=SFTConfig(**common, completion_only_loss=True), **args)


def _measure(job: TrlJob, model: Any, tokenizer: Any, suffix: str) -> dict[str, Any]:
    from tasks.training import evaluate

    pairs = evaluate.preference_pairs(job.data.heldout, job.method)
    measured: dict[str, Any] = {
        f"preference_accuracy{suffix}": evaluate.preference_accuracy(model, tokenizer, pairs, job.max_length),
        f"heldout_pairs{suffix}": len(pairs),
        f"reference_nll{suffix}": evaluate.reference_nll(
            model, tokenizer, job.data.heldout, job.method, job.max_length
        ),
    }
    if job.eval_samples > 0:
        generated = evaluate.generation_metrics(
            model,
            tokenizer,
            job.data.heldout,
            job.method,
            limit=job.eval_samples,
            max_new_tokens=job.eval_max_new_tokens,
        )
        measured.update({f"{key}{suffix}": value for key, value in generated.items()})
    return measured


def compacted(data: TrainingData) -> TrainingData:
    """``data`` with each row's prompt in its compact form (about 370 fewer tokens per feedback row:
    the full rubric would double every training step and every prefill of a small local model)."""
    from chains.prompts import compact_messages

    def row(r: dict[str, Any]) -> dict[str, Any]:
        return {**r, "prompt": compact_messages(r["prompt"])} if isinstance(r.get("prompt"), list) else r

    return replace(data, train=[row(r) for r in data.train], heldout=[row(r) for r in data.heldout])


def train(job: TrlJob) -> TrainOutcome:
    """Train, save the adapter with its model card, and measure before/after on the held-out rows."""
    from tasks.training.deps import require_training_stack

    require_training_stack()
    job = replace(job, data=compacted(job.data))
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback, set_seed
    from transformers.trainer_utils import get_last_checkpoint

    from tasks.training.modelcard import write_model_card
    from tasks.training.progress import RichProgress

    set_seed(job.seed)
    try:
        tokenizer = AutoTokenizer.from_pretrained(job.base)
        model = AutoModelForCausalLM.from_pretrained(
            job.base, dtype=torch.float32 if not torch.cuda.is_available() else "auto"
        )
    except OSError as exc:
        raise FileNotFoundError(f"cannot load base model {job.base!r}: {exc}") from exc
    if tokenizer.chat_template is None:
        raise ValueError(
            f"the tokenizer of {job.base!r} has no chat template; the exports are conversational"
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if torch.cuda.is_available():
        model = model.to("cuda")

    before = _measure(job, model, tokenizer, "_base")
    checkpoint_dir = job.output_dir / "checkpoints"
    last = get_last_checkpoint(str(checkpoint_dir)) if job.resume and checkpoint_dir.is_dir() else None
    progress = RichProgress(f"{job.method.upper()} {job.peft}", console=None) if job.show_progress else None
    callbacks = [progress] if progress else []
    trainer = _trainer(job, model, tokenizer, callbacks)
    trainer.remove_callback(PrinterCallback)  # the progress bar shows the loss; no dict per step on stdout
    if last:
        log.info("resuming from %s", last)
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=last)
    runtime = time.perf_counter() - started
    job.output_dir.mkdir(parents=True, exist_ok=True)
    trainer.save_model(str(job.output_dir))
    tokenizer.save_pretrained(str(job.output_dir))

    after = _measure(job, trainer.model, tokenizer, "")
    tokens = (
        max((float(entry.get("num_tokens", 0)) for entry in trainer.state.log_history), default=0) or None
    )
    metrics: dict[str, Any] = {
        **before,
        **after,
        "train_steps": trainer.state.global_step,
        "train_loss": round(float(result.training_loss), 6),
        "train_runtime_s": round(runtime, 2),
        "tokens_per_second": round(tokens / runtime, 1) if tokens and runtime else None,
    }
    outcome = TrainOutcome(
        name=job.name,
        output_dir=job.output_dir,
        base_model=job.base,
        method=job.method,
        peft=job.peft,
        hyperparameters=job.hyperparameters(),
        metrics=metrics,
        data_snapshot=job.data.snapshot,
        resumed_from=last,
        steps_run=trainer.state.global_step - (int(Path(last).name.rsplit("-", 1)[1]) if last else 0),
    )
    write_model_card(
        job.output_dir,
        name=job.name,
        base_model=job.base,
        method=job.method,
        peft=job.peft,
        data=job.data.snapshot,
        hyperparameters=outcome.hyperparameters,
        metrics=metrics,
    )
    return outcome

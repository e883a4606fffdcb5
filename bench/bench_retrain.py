"""Benchmark: DPO + LoRA training throughput of ``mockingbird retrain`` beside a plain TRL script.

Both runs train the same model, built from a config with a tokenizer trained on the project's
text (nothing downloaded), on the same preference rows with the same hyperparameters, in the
same process, one after the other. The plain run is the few lines of the TRL documentation
(``DPOTrainer`` + ``LoraConfig``); ours is ``tasks.training.trl_backend.train`` with its progress
bar and checkpointing, without the held-out evaluation (timed separately). Tokens/s counts the
prompt + reply tokens of chosen and rejected sequences that the trainer processed.

    python -m bench.bench_retrain            # 1B-class LLaMA: needs a GPU (bf16)
    python -m bench.bench_retrain --tiny     # 2-layer model: a CPU smoke run of this script

The rows come from the question bank: the answer is the question's key points; the chosen
reply is the rubric's feedback on it, the rejected one is vague praise with an inflated score.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chains import grading
from chains.bank import load_bank

SYSTEM = "You are Mockingbird. Grade the answer and reply with one Feedback JSON object."


def rows(limit: int) -> list[dict[str, Any]]:
    out = []
    for question in load_bank().questions[:limit]:
        answer = "; ".join(question.key_points) + "."
        feedback = grading.grade(question, answer)
        vague = {
            "score": min(10, feedback.score + 3),
            "strengths": ["Great answer overall!"],
            "weaknesses": [],
            "suggestions": ["Keep it up."],
            "summary": "Really good answer, well done, nothing to add here.",
        }
        out.append(
            {
                "prompt": [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": f"Question: {question.text}\nAnswer: {answer}"},
                ],
                "chosen": [{"role": "assistant", "content": feedback.model_dump_json()}],
                "rejected": [{"role": "assistant", "content": json.dumps(vague)}],
            }
        )
    return out


def plain_trl(
    base: Path, data: list[dict[str, Any]], out: Path, args: argparse.Namespace
) -> dict[str, float]:
    """The documented TRL recipe, nothing of ours in the loop."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback
    from trl import DPOConfig, DPOTrainer

    cuda = torch.cuda.is_available()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.bfloat16 if cuda else torch.float32)
    config = DPOConfig(
        output_dir=str(out),
        per_device_train_batch_size=args.batch_size,
        max_steps=args.steps,
        learning_rate=5e-5,
        beta=0.1,
        max_length=args.max_length,
        logging_steps=1,
        report_to=[],
        save_strategy="no",
        gradient_checkpointing=False,
        bf16=cuda,
        use_cpu=not cuda,
        disable_tqdm=True,
    )
    trainer = DPOTrainer(
        model=model,
        args=config,
        train_dataset=Dataset.from_list(data),
        processing_class=tokenizer,
        peft_config=LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"),
    )
    trainer.remove_callback(PrinterCallback)  # as ours does: no dict per step on stdout
    started = time.perf_counter()
    trainer.train()
    runtime = time.perf_counter() - started
    tokens = max(float(e.get("num_tokens", 0)) for e in trainer.state.log_history)
    return {"runtime_s": round(runtime, 2), "tokens": tokens, "tokens_per_second": round(tokens / runtime, 1)}


def ours(base: Path, data_path: Path, out: Path, args: argparse.Namespace) -> dict[str, float]:
    from tasks.training import data
    from tasks.training.trl_backend import TrlJob, train

    loaded = data.load(data_path, "dpo", heldout_fraction=0)
    job = TrlJob(
        base=str(base),
        data=loaded,
        output_dir=out,
        name="bench",
        peft="lora",
        lora_r=16,
        max_steps=args.steps,
        learning_rate=5e-5,
        batch_size=args.batch_size,
        max_length=args.max_length,
        save_steps=10_000,
        eval_samples=0,
        resume=False,
        show_progress=True,
    )
    started = time.perf_counter()
    outcome = train(job)
    total = time.perf_counter() - started
    m = outcome.metrics
    return {
        "runtime_s": m["train_runtime_s"],
        "tokens_per_second": m["tokens_per_second"],
        "total_with_load_and_eval_s": round(total, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tiny", action="store_true", help="2-layer model (CPU smoke run)")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch

    from tests.scratch_model import ONE_B, ScratchSpec, build_scratch_model

    if not args.tiny and not torch.cuda.is_available():
        raise SystemExit("The 1B-class run needs a GPU; use --tiny for a CPU smoke run.")
    spec = ScratchSpec() if args.tiny else ONE_B
    data = rows(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base = build_scratch_model(root / "base", spec)
        data_path = root / "dpo.jsonl"
        data_path.write_text("".join(json.dumps(r) + "\n" for r in data), encoding="utf-8")
        params = sum(
            p.numel()
            for p in __import__("transformers").AutoModelForCausalLM.from_pretrained(base).parameters()
        )
        warm = argparse.Namespace(**{**vars(args), "steps": 2})
        plain_trl(base, data, root / "warm-up", warm)  # first-use costs (kernels, thread pools) land here
        plain = plain_trl(base, data, root / "plain", args)
        mine = ours(base, data_path, root / "ours", args)
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "device": torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else platform.processor() or "cpu",
        "model": f"LLaMA from config, {params / 1e6:.1f}M parameters",
        "steps": args.steps,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "plain_trl": plain,
        "mockingbird": mine,
        "overhead": round(1 - mine["tokens_per_second"] / plain["tokens_per_second"], 4),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['model']} on {report['device']}, {args.steps} DPO+LoRA steps, batch {args.batch_size}")
    print(f"  plain TRL:        {plain['tokens_per_second']:>10,.0f} tokens/s ({plain['runtime_s']} s)")
    print(f"  mockingbird:      {mine['tokens_per_second']:>10,.0f} tokens/s ({mine['runtime_s']} s)")
    print(f"  difference:       {100 * report['overhead']:+.1f}% (positive: mockingbird is slower)")


if __name__ == "__main__":
    main()

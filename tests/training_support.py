"""Shared pieces of the training tests: the stack check, a tiny base model, preference files.

The preference data imitates what recruiters correct: the model's feedback (rejected) is
vague praise with an inflated score; the recruiter's version (chosen) is the rubric's specific
feedback on the same answer. Both are ``Feedback`` JSON of similar length, so a log-probability
comparison is about content, not length.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from chains import grading
from chains.bank import load_bank
from chains.schemas import Feedback

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
SYSTEM = "You are Mockingbird. Grade the answer and reply with one Feedback JSON object."


def require_stack() -> None:
    """The training stack is an optional extra: skip without it locally, fail loudly in CI."""
    for name in ("torch", "transformers", "trl", "peft", "datasets", "tokenizers"):
        try:
            importlib.import_module(name)
        except ImportError:
            message = f"{name} is not installed; install the training extra: pip install -e '.[train]'"
            if IN_CI:
                pytest.fail(message, pytrace=False)
            pytest.skip(message)


def _short(answer: str, sentences: int = 1) -> str:
    parts = answer.replace("\n", " ").split(". ")
    return ". ".join(parts[:sentences]).strip().rstrip(".") + "."


QUESTION_SPECIFIC = ("Covers:", "Not yet covered:", "The story does not show:", "Cover ", "This answer ")


def _general(items: list[str]) -> list[str]:
    """The first remark that reads the same for any question (key-point text is unseen in held-out pairs)."""
    return [next((i for i in items if not i.startswith(QUESTION_SPECIFIC)), items[0])] if items else []


def _compact(feedback: Feedback) -> str:
    return json.dumps(
        {
            "score": feedback.score,
            "strengths": _general(feedback.strengths),
            "weaknesses": _general(feedback.weaknesses),
            "suggestions": _general(feedback.suggestions),
            "summary": feedback.summary.split(". ")[0].rstrip(".") + ".",
        },
        ensure_ascii=False,
    )


PRAISE = (
    "Great job, this was a really good answer and you should feel confident about it. ",
    "Honestly it was very nice overall and there is not much to add here at all. ",
    "Keep it up, you are clearly doing well and the interviewers will like it a lot. ",
)


def _vague(score: int, length: int) -> str:
    """Generic praise padded to the length of the specific reply, so that a model cannot prefer the
    specific one for being shorter: a tiny untrained model did, in 14 of 16 held-out pairs."""
    reply = {"score": score, "strengths": ["Great answer, really well done overall!"], "weaknesses": [],
             "suggestions": ["Keep doing what you are doing."], "summary": ""}
    words = " ".join(PRAISE * 8).split()
    while len(json.dumps(reply)) < length and words:
        reply["summary"] = (reply["summary"] + " " + words.pop(0)).strip()
    return json.dumps(reply)


def answer_examples() -> list[dict[str, Any]]:
    """(question, answer, rubric feedback) for every strong and weak fixture answer."""
    bank = load_bank()
    examples = []
    for path in sorted((ROOT / "tests" / "fixtures" / "answer_pairs").glob("*.yaml")):
        for pair in yaml.safe_load(path.read_text(encoding="utf-8"))["pairs"]:
            question = bank.by_id[pair["question_id"]]
            for quality in ("strong", "weak"):
                answer = _short(pair[quality])
                examples.append(
                    {
                        "question": question,
                        "answer": answer,
                        "feedback": grading.grade(question, pair[quality]),
                        "quality": quality,
                    }
                )
    return examples


def prompt_for(question_text: str, answer: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Question: {question_text}\nAnswer: {answer}"},
    ]


def dpo_rows() -> list[dict[str, Any]]:
    rows = []
    for example in answer_examples():
        feedback = example["feedback"]
        chosen = _compact(feedback)
        rows.append(
            {
                "prompt": prompt_for(example["question"].text, example["answer"]),
                "chosen": [{"role": "assistant", "content": chosen}],
                "rejected": [
                    {"role": "assistant", "content": _vague(min(10, feedback.score + 4), len(chosen))}
                ],
            }
        )
    return rows


def kto_rows() -> list[dict[str, Any]]:
    rows = []
    for row in dpo_rows():
        rows.append({"prompt": row["prompt"], "completion": row["chosen"], "label": True})
        rows.append({"prompt": row["prompt"], "completion": row["rejected"], "label": False})
    return rows


def sft_rows() -> list[dict[str, Any]]:
    return [{"prompt": row["prompt"], "completion": row["chosen"]} for row in dpo_rows()]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def build_tiny_base(directory: Path) -> Path:
    """A 2-layer LLaMA (hidden size 64), tokenizer trained on the project's text, saved to ``directory``."""
    require_stack()
    import torch

    from tests.scratch_model import build_scratch_model

    torch.set_num_threads(2)
    extra = [row[key][0]["content"] for row in dpo_rows()[:20] for key in ("chosen", "rejected")]
    return build_scratch_model(directory, extra_texts=extra)

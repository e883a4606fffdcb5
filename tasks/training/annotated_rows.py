"""Training rows from the recruiter-annotated set, in the product's own feedback prompt.

Why: a model trained on a prompt the product never sends learns nothing the product can
use. Every prompt here is built by the real feedback chain (``chains.llm.feedback``: the
system file's compact text, the delimited and escaped user template), so a trained adapter
serves through the same chains, parsing and repair as any other provider.

The reply is the wire JSON the chain parses (``FeedbackOut``, the score last): the recruiter's
reason as the summary, then their score. The remark lists and the criteria stay empty: the grader's remarks quote
the key points at length, and the per-criterion scores are the offline grader's, not the
recruiter's, so a model would only learn to imitate code the product already runs (the provider's
guard fills empty criteria from that grader, ``chains.providers.base.guard``). A five- or seven-item
criteria list also nearly doubled the reply (~130 tokens instead of ~72, at most 104) and was where a briefly trained
135 M model looped: it repeated criteria until the token cap and never closed the JSON.

Only the annotated set's training split (by question, ``tasks.evaluation.annotated``) is ever
trained on; the held-out split is what the benchmark and the gate measure.
"""

from __future__ import annotations

import json
import random
from functools import cache
from typing import Any

from chains.contract import GradeRequest
from chains.llm.feedback import build
from chains.llm.wire import FeedbackOut
from chains.schemas import Question
from tasks.evaluation.annotated import AnnotatedAnswer, Split, load
from tasks.training.data import DataError, TrainingData

# What a model that recruiters correct tends to write: generic praise with an inflated score.
VAGUE = FeedbackOut(
    score=9,
    strengths=["Great answer, really well done overall!"],
    weaknesses=["Nothing major, maybe add a little more detail."],
    suggestions=["Keep doing what you are doing."],
    criteria=[],
    summary="Really good answer, you should feel confident about it.",
)


_TASKS = {kind: build(kind, 0) for kind in ("behavioral", "technical")}


def product_prompt(question: Question, answer: str) -> list[dict[str, str]]:
    """The messages the product's feedback chain sends a model trained here for this answer (the
    compact system text, as the ``local`` and ``tgi`` providers do; no few-shot exemplars)."""
    return _TASKS[question.kind].messages(GradeRequest(question=question, answer=answer), compact=True)


def reference_reply(item: AnnotatedAnswer) -> str:
    """The recruiter's verdict as the wire JSON the chain parses (score and reason are theirs)."""
    reply = FeedbackOut(score=item.score, strengths=[], weaknesses=[], suggestions=[], criteria=[], summary=item.reason)
    return reply.model_dump_json()


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


@cache
def _examples(split: Split) -> tuple[tuple[str, str, int], ...]:
    """(prompt JSON, reference reply, recruiter score) per annotated answer, built once per process:
    rendering the chain's prompt costs a few milliseconds per answer and every method reads the same set."""
    return tuple(
        (json.dumps(product_prompt(question, item.answer)), reference_reply(item), item.score)
        for item, question in load(split)
    )


def sft_rows(split: Split = "train") -> list[dict[str, Any]]:
    """``prompt`` / ``completion`` rows (the ``sft`` export shape), one per annotated answer."""
    return [{"prompt": json.loads(prompt), "completion": _assistant(reply)} for prompt, reply, _ in _examples(split)]


def dpo_rows(split: Split = "train") -> list[dict[str, Any]]:
    """Correction pairs: chosen = the recruiter's verdict, rejected = vague praise with an inflated score."""
    return [
        {
            "prompt": json.loads(prompt),
            "chosen": _assistant(reply),
            "rejected": _assistant(VAGUE.model_copy(update={"score": min(10, max(score + 3, 7))}).model_dump_json()),
        }
        for prompt, reply, score in _examples(split)
    ]


def kto_rows(split: Split = "train") -> list[dict[str, Any]]:
    """The pairs unpaired, as 👍 / 👎 labels (the ``trl-kto`` export shape)."""
    return [row for pair in dpo_rows(split) for row in _unpaired(pair)]


def _unpaired(pair: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"prompt": pair["prompt"], "completion": pair["chosen"], "label": True},
        {"prompt": pair["prompt"], "completion": pair["rejected"], "label": False},
    ]


ROWS = {"sft": sft_rows, "dpo": dpo_rows, "kto": kto_rows}


def heldout_question_texts() -> set[str]:
    """The held-out questions' texts: rows that ask one of them are never trained on."""
    return {question.text for _, question in load("heldout")}


def asks_heldout_question(row: dict[str, Any], texts: set[str]) -> bool:
    content = json.dumps(row["prompt"], ensure_ascii=False)
    return any(json.dumps(text, ensure_ascii=False)[1:-1] in content for text in texts)


# Held-out annotated answers a retrained TRL version is measured on (the gate's JSON validity, score
# MAE and, for DPO / KTO, preference accuracy), in the benchmark's order: the first N are the N that
# bench/bench_finetune.py generates for.
GATE_HELDOUT = 40


def heldout_sample(rows: list[Any], count: int, seed: int = 0) -> list[int]:
    """``count`` row indices in a fixed shuffled order, spread over roles (the set is stored role by role)."""
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    return order[:count]


def gate_heldout_rows(method: str) -> list[dict[str, Any]]:
    """The ``GATE_HELDOUT`` annotated held-out answers as ``method`` rows, in the benchmark's order.

    SFT: the recruiter's reply; DPO: the correction pair (the recruiter's verdict over vague praise,
    what ``bench_finetune`` measures preference accuracy on); KTO: that pair as a 👍 and a 👎 row,
    which ``evaluate.preference_pairs`` pairs again by prompt.
    """
    order = heldout_sample(sft_rows("heldout"), GATE_HELDOUT)
    if method == "sft":
        reference = sft_rows("heldout")
        return [reference[i] for i in order]
    pairs = dpo_rows("heldout")
    chosen = [pairs[i] for i in order]
    return chosen if method == "dpo" else [row for pair in chosen for row in _unpaired(pair)]


def with_annotated(data: TrainingData) -> TrainingData:
    """The export's rows, kept off the annotated set's held-out questions, and measured on them.

    Exported rows (recruiter corrections, 👍 / 👎 replies, pairs) that ask one of the annotated set's
    held-out questions move to the held-out side, so the benchmark and the gate always meet unseen
    questions. ``GATE_HELDOUT`` annotated held-out answers join the held-out side first, as rows of
    the data's method (``gate_heldout_rows``): the version's JSON validity and score MAE (what the gate
    compares with the incumbent) and, for DPO and KTO, its held-out preference accuracy are measured
    on them (the answers ``bench/bench_finetune.py`` generates for, and pairs of the kind it scores).
    SFT also trains on the annotated training split; DPO and KTO train on the export alone.
    """
    texts = heldout_question_texts()
    exported_train = [row for row in data.train if not asks_heldout_question(row, texts)]
    moved = [row for row in data.train if asks_heldout_question(row, texts)]
    annotated = sft_rows("train") if data.method == "sft" else []
    if not exported_train and not annotated:
        raise DataError(
            f"all {len(data.train)} training rows ask one of the annotated set's held-out questions, "
            "so nothing is left to train on; export more data (or retrain with --no-annotated)"
        )
    measured = gate_heldout_rows(data.method)
    snapshot = {
        **data.snapshot,
        "annotated_train": len(annotated),
        "annotated_heldout": len(measured),
        "moved_to_heldout": len(moved),
        "train": len(exported_train) + len(annotated),
        "heldout": len(data.heldout) + len(moved) + len(measured),
    }
    heldout = measured + data.heldout + moved
    return TrainingData(method=data.method, train=exported_train + annotated, heldout=heldout, snapshot=snapshot)

"""Training rows from the annotated set: the product's prompt, the recruiter's verdict, no held-out leak."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chains.llm.parse import parse
from chains.llm.wire import FeedbackOut
from tasks.evaluation.annotated import load
from tasks.training import annotated_rows
from tasks.training import data as training_data
from tests.prompt_support import QUESTION, stored_grading_prompt


def test_the_prompt_is_the_one_the_feedback_chain_sends() -> None:
    """The one a model trained here is sent: the chain's messages, with the compact system text."""
    from chains import prompts

    answer = "I shipped a migration that broke checkout <b>twice</b>; I rolled it back & wrote the runbook."
    stored, _ = stored_grading_prompt(answer, [])
    full = json.loads(stored)
    trained = annotated_rows.product_prompt(QUESTION, answer)
    assert trained == prompts.compact_messages(full) != full
    assert trained[0]["content"] == prompts.load("feedback_behavioral").compact and trained[1:] == full[1:]
    assert prompts.compact_messages(trained) == trained  # idempotent: rows compacted twice stay the same


def test_the_trl_backend_trains_every_row_on_the_compact_prompt() -> None:
    from tasks.training.data import TrainingData
    from tasks.training.trl_backend import compacted

    answer = "I rolled the release back and wrote the runbook."
    full = json.loads(stored_grading_prompt(answer, [])[0])
    reply = [{"role": "assistant", "content": "{}"}]
    data = TrainingData(method="sft", train=[{"prompt": full, "completion": reply}],
                        heldout=[{"prompt": "plain text prompt", "completion": "{}"}])  # fmt: skip
    out = compacted(data)
    assert out.train[0]["prompt"] == annotated_rows.product_prompt(QUESTION, answer)
    assert out.train[0]["completion"] == reply and out.heldout == data.heldout  # a plain prompt is left alone


def test_sft_rows_carry_the_recruiters_score_and_reason_as_the_wire_json() -> None:
    rows = annotated_rows.sft_rows("train")
    items = load("train")
    assert len(rows) == len(items) > 300
    for row, (item, _question) in zip(rows[:40], items[:40], strict=False):
        reply = parse(row["completion"][0]["content"], FeedbackOut)  # what the chain's parser accepts
        assert reply.value is not None and not reply.lenient
        assert (reply.value.score, reply.value.summary) == (item.score, item.reason)
        assert not reply.value.criteria  # the offline grader's, filled by the provider's guard, not learned
        assert item.answer.strip()[:40] in row["prompt"][-1]["content"].replace(
            "&amp;", "&"
        ).replace("&lt;", "<").replace("&gt;", ">")


def test_no_training_row_asks_a_heldout_question(tmp_path: Path) -> None:
    heldout = annotated_rows.heldout_question_texts()
    assert heldout and not any(
        annotated_rows.asks_heldout_question(row, heldout) for row in annotated_rows.dpo_rows("train")
    )
    # An exported correction about a held-out question is moved to the held-out side, not trained on.
    _item, question = load("heldout")[0]
    leak = {"prompt": annotated_rows.product_prompt(question, "We sharded it."), "completion": "{}"}
    other = {"prompt": annotated_rows.product_prompt(QUESTION, "I owned the rollback."), "completion": "{}"}
    path = tmp_path / "sft.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in [leak, other] * 3), encoding="utf-8")
    merged = annotated_rows.with_annotated(training_data.load(path, "sft", heldout_fraction=0.0))
    assert leak["prompt"] not in [row["prompt"] for row in merged.train]
    gate = annotated_rows.GATE_HELDOUT  # annotated held-out answers the version is measured on first
    assert [row["prompt"] for row in merged.heldout[gate:]] == [leak["prompt"]] * 3
    assert all(annotated_rows.asks_heldout_question(row, heldout) for row in merged.heldout[:gate])
    assert len(merged.train) == 3 + len(load("train"))
    assert merged.snapshot["moved_to_heldout"] == 3 and merged.snapshot["annotated_train"] == len(load("train"))
    # With nothing exported yet, SFT still trains on the annotated set.
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    alone = annotated_rows.with_annotated(training_data.load(empty, "sft", allow_empty=True))
    assert len(alone.train) == len(load("train")) and len(alone.heldout) == gate


@pytest.mark.parametrize("method", ["dpo", "kto"])
def test_preference_versions_are_measured_on_the_annotated_heldout_pairs(method: str, tmp_path: Path) -> None:
    # DPO / KTO train on the export alone, never on a held-out question, and are gated on held-out pairs.
    from tasks.training import evaluate

    _item, question = load("heldout")[0]
    replies = {"chosen": "{}", "rejected": "no"}
    leak = {"prompt": annotated_rows.product_prompt(question, "We sharded it."), **replies}
    other = {"prompt": annotated_rows.product_prompt(QUESTION, "I owned the rollback."), **replies}
    rows = [leak, other] * 3
    if method == "kto":
        rows = [{"prompt": r["prompt"], "completion": r[side], "label": side == "chosen"}
                for r in rows for side in ("chosen", "rejected")]  # fmt: skip
    path = tmp_path / f"{method}.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    merged = annotated_rows.with_annotated(training_data.load(path, method, heldout_fraction=0.0))  # type: ignore[arg-type]
    assert [row["prompt"] for row in merged.train] == [other["prompt"]] * len(merged.train) and merged.train
    gate = annotated_rows.GATE_HELDOUT
    pairs = evaluate.preference_pairs(merged.heldout, method)
    assert len(pairs) == gate + 3 and merged.snapshot["annotated_train"] == 0
    sft = annotated_rows.gate_heldout_rows("sft")  # the answers the SFT gate and the benchmark generate for
    assert [prompt for prompt, _, _ in pairs[:gate]] == [row["prompt"] for row in sft]
    assert all(chosen == row["completion"] for (_, chosen, _), row in zip(pairs, sft, strict=False))
    vague = annotated_rows.VAGUE.summary
    assert all(json.loads(rejected[0]["content"])["summary"] == vague for *_, rejected in pairs[:gate])
    # An export that asks nothing but held-out questions leaves nothing to train: said, not trained.
    only_leak = tmp_path / "leak.jsonl"
    leaked = [row for row in rows if row["prompt"] == leak["prompt"]]
    only_leak.write_text("".join(json.dumps(row) + "\n" for row in leaked), encoding="utf-8")
    with pytest.raises(training_data.DataError, match="nothing is left to train on"):
        annotated_rows.with_annotated(training_data.load(only_leak, method, heldout_fraction=0.0))  # type: ignore[arg-type]

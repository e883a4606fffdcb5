"""Known mistakes: each pattern matches a sentence asserting its mistake, never the correct statement."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chains import grading
from chains.bank import load_bank
from chains.grading import misconceptions

CLAIMS = yaml.safe_load(misconceptions.DATA.read_text(encoding="utf-8"))
EXAMPLES = yaml.safe_load((Path(__file__).parent / "fixtures" / "misconceptions.yaml").read_text(encoding="utf-8"))
CASES = [(qid, {**entry, **EXAMPLES[qid][i]}) for qid, entries in CLAIMS.items() for i, entry in enumerate(entries)]


def test_every_technical_bank_question_has_claims_and_examples() -> None:
    technical = {q.id for q in load_bank().questions if q.kind == "technical"}
    assert set(CLAIMS) == technical
    assert all(len(EXAMPLES[qid]) == len(entries) for qid, entries in CLAIMS.items())


@pytest.mark.parametrize(("question_id", "entry"), CASES, ids=[f"{q}-{i}" for i, (q, _) in enumerate(CASES)])
def test_a_claim_matches_its_assertions_and_nothing_correct(question_id: str, entry: dict) -> None:
    (claim,) = misconceptions.parse([entry])
    assert all(misconceptions.sentence_asserts(claim, s) for s in entry["asserting"])
    correct = entry["not_asserting"] + load_bank().by_id[question_id].key_points
    assert not any(misconceptions.sentence_asserts(claim, s) for s in correct)


def test_refuting_a_mistake_is_not_asserting_it() -> None:
    claim = misconceptions.parse([CASES[0][1]])[0]
    stated = CASES[0][1]["asserting"][0].rstrip(".")
    assert misconceptions.sentence_asserts(claim, stated)
    assert not misconceptions.sentence_asserts(claim, f"Some people think {stated[0].lower()}{stated[1:]}, but it's a "
                                                      "myth.")


def test_a_long_run_on_sentence_is_still_checked() -> None:
    question = load_bank().by_id["backend-001"]
    run_on = " and ".join(["indexing every column makes all queries faster"] * 800)  # one 40,000-character sentence
    found = misconceptions.asserted(question.id, run_on)
    assert [c.correction for c in found] == [CLAIMS[question.id][0]["correction"]]


def test_an_asserted_mistake_leads_the_feedback_and_caps_the_score() -> None:
    question = load_bank().by_id["frontend-001"]
    body = ("var is scoped to the whole function it is declared in, while let and const are scoped to their block, "
            "so a let inside an if is gone after the closing brace. A var is hoisted and starts as undefined, so "
            "reading it early gives undefined; let and const sit in the temporal dead zone until their line runs, "
            "and reading them early throws a ReferenceError. I default to const and use let for loop counters.")
    wrong = grading.grade(question, body + " Using const makes the object immutable, so nobody can change it.")
    right = grading.grade(question, body + " With const the binding cannot be reassigned, but an object's properties "
                          "can still change.")
    assert wrong.weaknesses[0] == f"This looks like a common mistake. {CLAIMS[question.id][0]['correction']}"
    assert not any("common mistake" in w for w in right.weaknesses)
    assert wrong.score <= grading.MISTAKE_CAP < right.score  # annotators scored every such answer 2-4

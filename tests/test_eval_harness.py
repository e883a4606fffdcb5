"""`mockingbird eval` on the embedded defaults, and the harness on hand-made providers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from chains.bank import load_bank
from chains.providers import CallRecord, GradeRequest, QuestionRequest, Result
from chains.providers.offline import OfflineProvider
from chains.schemas import Feedback, Question
from tasks.evaluation.harness import EvalItem, load_eval_set, run_eval


def test_the_held_out_set_is_large_and_annotated() -> None:
    items = load_eval_set()
    bank = load_bank()
    assert len(items) >= 60
    kinds = {bank.by_id[i.question_id].kind for i in items}
    roles = {bank.by_id[i.question_id].role for i in items}
    assert kinds == {"behavioral", "technical"} and len(roles) >= 12
    assert len({i.recruiter.score for i in items}) >= 6  # a real spread of quality


class Oracle(OfflineProvider):
    """Echoes the recruiter's own annotation: a perfect grader, to pin the accuracy metrics."""

    name = "oracle"

    def __init__(self, items: list[EvalItem]) -> None:
        super().__init__()
        self.by_answer = {i.answer: i.recruiter for i in items}

    def grade(self, request: GradeRequest) -> Result[Feedback]:
        note = self.by_answer[request.answer]
        feedback = Feedback(score=note.score, strengths=note.strengths, weaknesses=note.weaknesses,
                            suggestions=[], criteria={}, summary=note.summary)
        return Result(feedback, CallRecord(provider=self.name, model="oracle", prompt_version="v"))


class Parrot(OfflineProvider):
    """Asks the same question every time and fails JSON half the time."""

    name = "parrot"
    calls = 0

    def question(self, request: QuestionRequest) -> Result[Question]:
        question = load_bank().questions[0].model_copy(update={"role": request.role})
        return Result(question, CallRecord(provider=self.name, model="parrot", prompt_version="v"))

    def grade(self, request: GradeRequest) -> Result[Feedback]:
        self.calls += 1
        if self.calls % 2:
            raise ValueError("broken JSON")
        return super().grade(request)


def test_a_perfect_grader_scores_perfect_accuracy() -> None:
    items = load_eval_set()[:20]
    report = run_eval(Oracle(items), items=items, per_session=3, use_embeddings=False)
    assert report.accuracy.score_mae == 0 and report.accuracy.spearman == pytest.approx(1.0)
    assert report.accuracy.within_one == 1.0
    assert report.accuracy.strengths_overlap == pytest.approx(1.0)
    assert report.json_validity.first_try_rate == 1.0 and report.json_validity.delivered_rate == 1.0


def test_a_repetitive_broken_provider_scores_low_diversity_and_validity() -> None:
    items = load_eval_set()[:10]
    parrot = run_eval(Parrot(), items=items, per_session=4, use_embeddings=False)
    offline = run_eval(OfflineProvider(), items=items, per_session=4, use_embeddings=False)
    assert parrot.json_validity.delivered_rate == 0.5 and offline.json_validity.delivered_rate == 1.0
    assert parrot.diversity.distinct_2 < offline.diversity.distinct_2 / 3


def test_offline_rubric_agrees_with_recruiters_better_than_chance() -> None:
    report = run_eval(OfflineProvider(), per_session=2, use_embeddings=False)
    assert report.accuracy.spearman is not None and report.accuracy.spearman > 0.3
    assert report.accuracy.score_mae is not None and report.accuracy.score_mae < 3.5


def test_eval_cli_json_and_html_on_embedded_defaults(tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["eval", "--json", "--html", str(html), "--questions", "3"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["provider"] == "offline"
    assert report["json_validity"]["delivered_rate"] == 1.0
    assert report["diversity"]["distinct_1"] > 0.3
    relevance = report["relevance"]
    assert relevance is not None, report["notes"]
    assert relevance["role_accuracy"] > 0.25 and 0 < relevance["role_similarity"] < 1
    assert report["diversity"]["dispersion"] > 0.3
    page = html.read_text()
    assert page.startswith("<!doctype html>") and page.count("data:image/png;base64,") == 2
    assert "Feedback accuracy" in page
    assert "Agreement on the held-out annotated set" in page and "Offline remarks true" in page


def test_a_question_the_provider_cannot_give_ends_that_session_with_a_note() -> None:
    class RunsDry(OfflineProvider):
        def question(self, request: QuestionRequest) -> Result[Question]:
            if len(request.asked_ids) >= 2:
                from chains.providers import ProviderError

                raise ProviderError(f"no more {request.kind} questions for {request.role}")
            return super().question(request)

    report = run_eval(RunsDry(), items=load_eval_set()[:2], per_session=4, use_embeddings=False)
    assert report.diversity.questions == 2 * len(load_bank().roles) * 2  # two per session, none lost
    assert any("2 of 4 questions" in note for note in report.notes)


def test_a_dead_model_reports_no_diversity_rather_than_zero() -> None:
    class Dead(OfflineProvider):
        def question(self, request: QuestionRequest) -> Result[Question]:
            from chains.providers import ProviderError

            raise ProviderError("connection refused")

    report = run_eval(Dead(), items=load_eval_set()[:2], per_session=2, use_embeddings=False)
    assert report.diversity.model_dump() == {"questions": 0, "distinct_1": None, "distinct_2": None, "dispersion": None}
    assert len(report.notes) >= len(load_bank().roles)

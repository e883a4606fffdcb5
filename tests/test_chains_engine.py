"""End to end: the engine and the CLI on real providers (fake servers), with few-shot from the database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.app import build_engine
from bot.cli import app
from bot.config import get_settings
from bot.engine import Actor, InterviewEngine
from bot.store.db import Database
from bot.store.exemplars import ExemplarSource
from bot.store.models import Turn
from chains.providers.offline import OfflineProvider
from chains.schemas import Feedback
from tasks.pipeline.dispatch import InProcessSink
from tests.conftest import make_settings
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.llm_env import KEYS, env_for, fake_for
from tests.fakes.llm_server import MALFORMED, VALID, canned, dead_url
from tests.fakes.openai_server import FakeOpenAI

ANSWERS = [
    "At my last job deploys failed weekly. I wrote a checklist, automated the rollback; failures fell 80%.",
    "I'm Cara. When two teams fought over an API, I set up a design review, we agreed a contract in a week.",
    "I missed a deadline once because I underestimated testing; since then I plan a buffer of 20 percent.",
]


@pytest.fixture
def openai_fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=KEYS["openai"]) as server:
        yield server


def _turns(db: Database, session_id: int) -> list[Turn]:
    with db.session() as session:
        turns = session.scalars(select(Turn).where(Turn.session_id == session_id).order_by(Turn.index)).all()
        session.expunge_all()
        return list(turns)


def test_engine_records_how_each_feedback_was_made(
    database: Database, candidate: Actor, openai_fake: FakeOpenAI
) -> None:
    settings = make_settings(
        LLM_PROVIDER="openai", LLM_FALLBACKS="offline", **env_for("openai", openai_fake.base_url)
    )
    engine = build_engine(settings, db=database)
    started = engine.start(candidate, role="backend", kind="behavioral", level="mid", questions=2)
    assert started.question.question.startswith("Fake question")  # written by the model, not the bank
    assert started.question.question_id.startswith("llm-")  # type: ignore[union-attr]

    first = engine.answer(started.session.id, candidate, ANSWERS[0])
    assert first.graded is not None and first.graded.feedback.score == 7  # type: ignore[union-attr]
    openai_fake.script(MALFORMED, VALID)
    last = engine.answer(started.session.id, candidate, ANSWERS[1])
    assert last.report is not None and last.report.summary == canned("report")["summary"]
    assert last.report.average_score == 7.0  # facts stay the engine's

    graded = [t for t in _turns(database, started.session.id) if t.feedback]
    assert [(t.provider, t.prompt_version, t.valid_first_try, t.repaired, t.fell_back) for t in graded] == [
        ("openai", "feedback-behavioral-v2", True, False, False),
        ("openai", "feedback-behavioral-v2", False, True, False),
    ]
    assert graded[0].model == "gpt-4o-mini" and graded[0].latency_ms and graded[0].latency_ms > 0
    assert json.loads(graded[0].prompt or "[]")[0]["role"] == "system"
    assert json.loads(graded[0].raw_output or "{}")["score"] == 7


def test_a_serving_engine_builds_its_provider_at_startup_without_a_model_call(
    database: Database, candidate: Actor, openai_fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    import chains.providers.openai as openai_provider

    builds: list[object] = []
    real_build = openai_provider.OpenAIProvider
    monkeypatch.setattr(openai_provider, "OpenAIProvider", lambda *a, **k: builds.append(a) or real_build(*a, **k))
    settings = make_settings(LLM_PROVIDER="openai", LLM_FALLBACKS="offline", **env_for("openai", openai_fake.base_url))

    engine = build_engine(settings, db=database, serving=True)
    assert len(builds) == 1 and openai_fake.requests == []  # built, and nothing asked of the model

    started = engine.start(candidate, role="backend", kind="behavioral", level="mid", questions=1)
    graded = engine.answer(started.session.id, candidate, ANSWERS[0]).graded
    assert graded is not None and graded.provider == "openai"
    assert len(builds) == 1  # the interview used the provider built at startup
    assert build_engine(settings, db=database) and len(builds) == 1  # not serving: built on first use, as before


def test_warm_up_survives_a_provider_that_cannot_be_built(database: Database, candidate: Actor) -> None:
    settings = make_settings(LLM_PROVIDER="openai", LLM_FALLBACKS="offline", OPENAI_API_KEY="")
    engine = build_engine(settings, db=database, serving=True)
    started = engine.start(candidate, role="backend", kind="technical", level="mid", questions=1)
    assert not (started.question.question_id or "").startswith("llm-")  # the bank's, through the fallback


def test_engine_falls_back_to_offline_and_says_so(database: Database, candidate: Actor) -> None:
    settings = make_settings(
        LLM_PROVIDER="openai",
        LLM_FALLBACKS="offline",
        LLM_MAX_RETRIES=0,
        **env_for("openai", dead_url("/v1")),
    )
    engine = build_engine(settings, db=database)
    started = engine.start(candidate, role="backend", kind="behavioral", level="mid", questions=1)
    engine.answer(started.session.id, candidate, ANSWERS[0])
    (turn,) = _turns(database, started.session.id)
    assert (turn.provider, turn.fell_back, turn.prompt_version) == ("offline", True, "grader-v2")


def _seed(db: Database, candidate: Actor, recruiter: Actor) -> Feedback:
    """Backend/behavioral: one 👍 turn, one 👎 turn, one corrected (and 👍) turn; plus a frontend 👍 turn."""
    engine = InterviewEngine(db, OfflineProvider(), make_settings(), signals=InProcessSink(db))
    started = engine.start(candidate, role="backend", kind="behavioral", questions=3)
    turn_ids = [engine.answer(started.session.id, candidate, answer).graded.id for answer in ANSWERS]  # type: ignore[union-attr]
    engine.rate(turn_ids[0], candidate, 1)
    engine.rate(turn_ids[1], candidate, -1)
    corrected = Feedback(
        score=9,
        strengths=["Owned the conflict."],
        weaknesses=[],
        suggestions=["Name the metric."],
        criteria={"structure": 9},
        summary="Recruiter: a strong, owned story.",
    )
    engine.correct(turn_ids[2], recruiter, corrected)
    engine.rate(turn_ids[2], candidate, 1)
    other = engine.start(candidate, role="frontend", kind="behavioral", questions=1)
    engine.rate(engine.answer(other.session.id, candidate, ANSWERS[0]).graded.id, candidate, 1)  # type: ignore[union-attr]
    return corrected


def test_exemplars_are_corrections_then_thumbs_up_for_the_same_role_and_kind(
    database: Database, candidate: Actor, recruiter: Actor
) -> None:
    corrected = _seed(database, candidate, recruiter)
    exemplars = ExemplarSource(database)("backend", "behavioral")
    assert [answer for _, answer, _ in exemplars] == [ANSWERS[2], ANSWERS[0]]
    assert exemplars[0][2] == corrected
    assert ExemplarSource(database)("backend", "technical") == ()
    assert len(ExemplarSource(database)("frontend", "behavioral")) == 1
    assert ExemplarSource(database, limit=1)("backend", "behavioral")[0][2] == corrected


def test_candidate_names_are_redacted_from_exemplars(database: Database, recruiter: Actor) -> None:
    cara = Actor("console", "cara2", display_name="Cara Candidate")
    engine = InterviewEngine(database, OfflineProvider(), make_settings(), signals=InProcessSink(database))
    started = engine.start(cara, role="backend", kind="behavioral", questions=1)
    engine.rate(engine.answer(started.session.id, cara, ANSWERS[1]).graded.id, cara, 1)  # type: ignore[union-attr]
    (exemplar,) = ExemplarSource(database)("backend", "behavioral")
    assert exemplar[1].startswith("I'm [NAME].") and "Cara" not in exemplar[1]


def test_gemini_grading_is_prompt_tuned_with_stored_exemplars(
    database: Database, candidate: Actor, recruiter: Actor
) -> None:
    _seed(database, candidate, recruiter)
    with FakeGemini(api_key=KEYS["gemini"]) as fake:
        settings = make_settings(
            LLM_PROVIDER="gemini", LLM_FALLBACKS="", FEWSHOT_TOKEN_BUDGET=4000, **env_for("gemini", fake.base_url)
        )
        engine = build_engine(settings, db=database)
        started = engine.start(candidate, role="backend", kind="behavioral", questions=1)
        engine.answer(
            started.session.id, candidate, "A brand new answer about a migration I led last spring."
        )
    grading = next(
        r for r in fake.requests if "score" in r.body["generationConfig"]["responseJsonSchema"]["properties"]
    )
    roles = [c["role"] for c in grading.body["contents"]]
    assert roles == ["user", "model", "user", "model", "user"]
    shown = json.dumps(grading.body["contents"])
    assert "Recruiter: a strong, owned story." in shown
    assert ANSWERS[1][5:40] not in shown  # the 👎 answer is never an example


# ── the command line ────────────────────────────────────────────────────────────────
def _run(args: list[str], env: dict[str, str]):  # type: ignore[no-untyped-def]
    get_settings.cache_clear()
    return CliRunner().invoke(app, args, env=env)


def test_practice_runs_on_openai_from_the_command_line(tmp_path: Path, openai_fake: FakeOpenAI) -> None:
    answers = tmp_path / "answers.txt"
    answers.write_text("\n".join(ANSWERS[:2]) + "\n", encoding="utf-8")
    result = _run(
        ["practice", "--provider", "openai", "--role", "backend", "--kind", "technical", "--questions", "2",
         "--answers", str(answers), "--json"],
        {**env_for("openai", openai_fake.base_url), "LLM_FALLBACKS": ""},
    )
    assert result.exit_code == 0, result.output
    transcript = json.loads(result.stdout)
    assert [t["provider"] for t in transcript["turns"]] == ["openai", "openai"]
    assert all(t["question"].startswith("Fake question") for t in transcript["turns"])
    assert transcript["report"]["summary"] == canned("report")["summary"]


@pytest.mark.parametrize("provider", ["gemini", "tgi"])
def test_grade_runs_on_each_provider(provider: str) -> None:
    with fake_for(provider) as fake:
        result = _run(
            [
                "grade",
                "--provider",
                provider,
                "--question",
                "What is a database index?",
                "--answer",
                ANSWERS[0],
                "--kind",
                "technical",
                "--json",
            ],
            {**env_for(provider, fake.origin), "LLM_FALLBACKS": ""},
        )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"] == canned("feedback")["summary"]
    assert len(fake.requests) == 1


def test_grade_says_clearly_when_every_provider_fails() -> None:
    result = _run(
        ["grade", "--provider", "openai", "--question", "What is a database index?", "--answer", ANSWERS[0]],
        {**env_for("openai", dead_url("/v1")), "LLM_FALLBACKS": "gemini", "LLM_MAX_RETRIES": "0"},
    )
    output = " ".join(result.output.split())  # Rich wraps long lines
    assert result.exit_code == 1
    assert "every provider failed to grade the answer" in output
    assert "openai: cannot connect" in output and "gemini: GOOGLE_API_KEY is not set" in output


def test_follow_ups_and_the_report_come_from_the_model(
    database: Database, candidate: Actor, openai_fake: FakeOpenAI
) -> None:
    settings = make_settings(
        LLM_PROVIDER="openai",
        LLM_FALLBACKS="offline",
        FOLLOW_UPS="true",
        **env_for("openai", openai_fake.base_url),
    )
    engine = build_engine(settings, db=database)
    started = engine.start(candidate, role="backend", kind="technical", level="senior", questions=1)
    progress = engine.answer(started.session.id, candidate, ANSWERS[0])
    follow_up = progress.next_question
    assert follow_up is not None and follow_up.follow_up_of == progress.graded.id  # type: ignore[union-attr]
    assert follow_up.question_id.startswith("followup-")  # type: ignore[union-attr]
    assert follow_up.domain == started.question.domain  # the follow-up stays on the original topic
    sent = openai_fake.requests[-1].body
    assert sent["response_format"]["json_schema"]["name"] == "follow_up"
    assert "<feedback>" in sent["messages"][-1]["content"] and "<answer>" in sent["messages"][-1]["content"]
    done = engine.answer(started.session.id, candidate, ANSWERS[2])
    assert done.report is not None and done.report.answered == 2
    assert done.report.next_steps == canned("report")["next_steps"]


def test_an_unknown_provider_name_is_refused_not_silently_replaced(tmp_path: Path) -> None:
    answers = tmp_path / "answers.txt"
    answers.write_text("an answer\n", encoding="utf-8")
    result = _run(
        ["practice", "--provider", "opnai", "--answers", str(answers)], {"LLM_FALLBACKS": "offline"}
    )
    output = " ".join(result.output.split())
    assert result.exit_code == 2
    assert "unknown provider 'opnai'; choose one of: gemini, local, offline, openai, tgi" in output


def test_a_single_provider_failing_reaches_the_candidate_as_a_friendly_message(
    database: Database, candidate: Actor
) -> None:
    from bot.engine import ProviderUnavailable

    settings = make_settings(
        LLM_PROVIDER="openai", LLM_FALLBACKS="", LLM_MAX_RETRIES=0, **env_for("openai", dead_url("/v1"))
    )
    engine = build_engine(settings, db=database)
    with pytest.raises(ProviderUnavailable, match="couldn't prepare the next question"):
        engine.start(candidate, role="backend", kind="behavioral", level="mid", questions=1)

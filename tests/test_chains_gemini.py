"""Gemini specifics: the google-genai wire format, and few-shot prompt-tuning within the token budget."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from chains import prompts, providers
from chains.bank import load_bank
from chains.llm.schema import strict_json_schema
from chains.llm.wire import FeedbackOut
from chains.providers import GradeRequest
from chains.schemas import Feedback, Question
from tests.conftest import make_settings
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.llm_env import KEYS, env_for

SCHEMA = strict_json_schema(FeedbackOut)
ANSWER = "When our release slipped, I split the scope, told the client early and we shipped the core on time."


@pytest.fixture
def fake() -> Iterator[FakeGemini]:
    with FakeGemini(api_key=KEYS["gemini"]) as server:
        yield server


@pytest.fixture(scope="module")
def question() -> Question:
    return next(q for q in load_bank().questions if q.kind == "behavioral" and q.role == "backend")


def exemplar(n: int, text: str) -> tuple[str, str, Feedback]:
    feedback = Feedback(
        score=9 - n % 3,
        strengths=[f"Strength {n}."],
        weaknesses=[f"Weakness {n}."],
        suggestions=[f"Suggestion {n}."],
        criteria={"structure": 8},
        summary=f"Summary {n}.",
    )
    return (
        text,
        f"Exemplar answer {n}: I led the migration and cut costs by {10 + n}%. Mail me at a{n}@x.io",
        feedback,
    )


def build(fake: FakeGemini, **extra: object):  # type: ignore[no-untyped-def]
    return providers.build(
        make_settings(
            LLM_PROVIDER="gemini", LLM_FALLBACKS="", **{**env_for("gemini", fake.base_url), **extra}
        )
    )


def test_wire_format(fake: FakeGemini, question: Question) -> None:
    build(fake).grade(GradeRequest(question=question, answer=ANSWER))
    request = fake.requests[0]
    assert request.path == "/v1beta/models/gemini-2.0-flash:generateContent"
    assert request.headers["x-goog-api-key"] == KEYS["gemini"]
    assert fake.system_prompts() == [prompts.load("feedback_behavioral").system]
    assert [c["role"] for c in request.body["contents"]] == ["user"]


def test_exemplars_become_user_and_model_turns(fake: FakeGemini, question: Question) -> None:
    exemplars = (
        exemplar(1, "Tell me about a time you disagreed with a product decision."),
        exemplar(2, question.text),
    )  # the same question ranks first
    build(fake, FEWSHOT_TOKEN_BUDGET=5000).grade(
        GradeRequest(question=question, answer=ANSWER, exemplars=exemplars)
    )
    contents = fake.requests[0].body["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user", "model", "user"]
    first_user, first_model = contents[0]["parts"][0]["text"], contents[1]["parts"][0]["text"]
    assert "Exemplar answer 2" in first_user and "<answer>" in first_user
    assert "[EMAIL]" in first_user and "a2@x.io" not in first_user
    assert json.loads(first_model)["summary"] == "Summary 2."
    assert json.loads(first_model)["criteria"] == [{"name": "structure", "score": 8}]
    assert ANSWER in contents[-1]["parts"][0]["text"]


def test_the_token_budget_limits_exemplars(fake: FakeGemini, question: Question) -> None:
    exemplars = tuple(exemplar(n, f"Tell me about a time you handled problem number {n}.") for n in range(6))
    provider = build(fake, FEWSHOT_TOKEN_BUDGET=450)
    provider.grade(GradeRequest(question=question, answer=ANSWER, exemplars=exemplars))
    turns = len(fake.requests[0].body["contents"])
    assert 3 <= turns < 1 + 2 * len(exemplars)  # at least one exemplar fits, not all of them
    provider = build(fake, FEWSHOT_TOKEN_BUDGET=0)
    provider.grade(GradeRequest(question=question, answer=ANSWER, exemplars=exemplars))
    assert len(fake.requests[1].body["contents"]) == 1


def test_the_fake_streams_and_refuses_as_the_gemini_api_does(fake: FakeGemini) -> None:
    from google import genai
    from google.genai import errors, types

    def client(version: str) -> genai.Client:
        options = types.HttpOptions(base_url=fake.base_url, api_version=version)
        return genai.Client(api_key=KEYS["gemini"], http_options=options)

    config = types.GenerateContentConfig(response_mime_type="application/json", response_json_schema=SCHEMA)
    beta, v1 = client("v1beta"), client("v1")  # held: a client closes its connections when collected
    chunks = beta.models.generate_content_stream(model="gemini-2.0-flash", contents="Hi", config=config)
    text = "".join(chunk.text or "" for chunk in chunks)
    assert fake.requests[-1].path.endswith(":streamGenerateContent?alt=sse") and json.loads(text)["score"] == 7
    with pytest.raises(errors.ClientError) as refused:  # structured output is served on v1beta only
        v1.models.generate_content(model="gemini-2.0-flash", contents="Hi", config=config)
    assert refused.value.code == 400

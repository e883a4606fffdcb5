"""OpenAI specifics: strict tool calls as the alternative structured output, keys, fine-tuned models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chains import grading, providers
from chains.bank import load_bank
from chains.contract import CallRecord, Result
from chains.providers import GradeRequest, ProviderError
from chains.providers.base import guard
from chains.schemas import Feedback, Question
from tests.conftest import make_settings
from tests.fakes.llm_env import env_for
from tests.fakes.llm_server import MALFORMED, VALID, canned
from tests.fakes.openai_server import FakeOpenAI

ANSWER = "I would add an index on the foreign key, measure p95 before and after, and watch write latency."


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key="sk-test-not-a-secret") as server:
        yield server


@pytest.fixture(scope="module")
def question() -> Question:
    return next(q for q in load_bank().questions if q.kind == "technical")


def build(fake: FakeOpenAI, **extra: object):  # type: ignore[no-untyped-def]
    return providers.build(
        make_settings(
            LLM_PROVIDER="openai",
            LLM_FALLBACKS="",
            LLM_MAX_RETRIES=0,
            **{**env_for("openai", fake.base_url), **extra},
        )
    )


def test_function_calling_mode_uses_a_strict_forced_tool(fake: FakeOpenAI, question: Question) -> None:
    fake.script(VALID)
    result = build(fake, OPENAI_STRUCTURED_OUTPUT="function_calling").grade(
        GradeRequest(question=question, answer=ANSWER)
    )
    body = fake.requests[0].body
    assert "response_format" not in body
    tool = body["tools"][0]["function"]
    assert tool["name"] == "feedback" and tool["strict"] is True
    assert tool["parameters"]["additionalProperties"] is False
    assert body["tool_choice"] == {"type": "function", "function": {"name": "feedback"}}
    assert result.value.score == canned("feedback")["score"] and result.call.valid_first_try


def test_malformed_tool_arguments_are_repaired(fake: FakeOpenAI, question: Question) -> None:
    fake.script(MALFORMED, VALID)
    result = build(fake, OPENAI_STRUCTURED_OUTPUT="function_calling").grade(
        GradeRequest(question=question, answer=ANSWER)
    )
    assert result.call.repaired and not result.call.valid_first_try
    assert len(fake.requests) == 2


def test_fine_tuned_model_names_pass_through(fake: FakeOpenAI, question: Question) -> None:
    model = "ft:gpt-4o-mini-2024-07-18:mockingbird::dpo123"
    result = build(fake, OPENAI_MODEL=model).grade(GradeRequest(question=question, answer=ANSWER))
    assert fake.requests[0].body["model"] == model
    assert result.call.model == model


def test_a_rejected_key_is_reported_without_the_key(fake: FakeOpenAI, question: Question) -> None:
    with pytest.raises(ProviderError) as failure:
        build(fake, OPENAI_API_KEY="sk-wrong-key-123").grade(GradeRequest(question=question, answer=ANSWER))
    assert "API key was rejected (HTTP 401)" in str(failure.value)
    assert "sk-wrong-key-123" not in str(failure.value)
    assert fake.requests[0].headers["authorization"] == "Bearer sk-wrong-key-123"
    assert len(fake.requests) == 1  # a 401 is not retried


def test_unknown_structured_output_mode_is_a_configuration_error(
    fake: FakeOpenAI, question: Question
) -> None:
    with pytest.raises(
        ProviderError, match="OPENAI_STRUCTURED_OUTPUT must be json_schema or function_calling"
    ):
        build(fake, OPENAI_STRUCTURED_OUTPUT="yaml").grade(GradeRequest(question=question, answer=ANSWER))
    assert fake.requests == []


def test_the_sessions_registry_variant_overrides_the_configured_model(fake: FakeOpenAI,
                                                                      question: Question) -> None:
    provider = build(fake)
    variant = "ft:gpt-4o-mini-2024-07-18:mockingbird::candidate7"
    fake.script(VALID, VALID, MALFORMED, VALID)
    chosen = provider.grade(GradeRequest(question=question, answer=ANSWER, model=variant))
    default = provider.grade(GradeRequest(question=question, answer=ANSWER))
    repaired = provider.grade(GradeRequest(question=question, answer=ANSWER, model=variant))
    models = [r.body["model"] for r in fake.requests]
    assert models[0] == variant and models[1] != variant
    assert models[2:] == [variant, variant]  # the repair call goes to the same variant
    assert chosen.call.model == variant and default.call.model == models[1] and repaired.call.repaired


def test_a_streamed_request_is_the_plain_one_with_stream_on(fake: FakeOpenAI, question: Question) -> None:
    """The stream is read through the SDK's own client, not LangChain's: same model (the session's
    variant too), messages, temperature, response format and key; only ``stream`` differs."""
    provider = build(fake)
    variant = "ft:gpt-4o-mini-2024-07-18:mockingbird::candidate7"
    fake.script(VALID, VALID)
    shown: list[str] = []
    streamed = provider.grade(GradeRequest(question=question, answer=ANSWER, model=variant, on_text=shown.append))
    plain = provider.grade(GradeRequest(question=question, answer=ANSWER, model=variant))
    first, second = (r.body for r in fake.requests)
    assert first.pop("stream") is True and second.pop("stream", False) is False
    assert first == second and first["model"] == variant
    assert fake.requests[0].headers["authorization"] == fake.requests[1].headers["authorization"]
    assert shown and streamed.value == plain.value and streamed.call.valid_first_try


def praised(fake: FakeOpenAI, question: Question, answer: str) -> Result[Feedback]:
    """The fake model's canned feedback, which scores above both caps, for this answer."""
    assert canned("feedback")["score"] > grading.MISTAKE_CAP > grading.NON_ANSWER_CAP
    fake.script(VALID)
    return build(fake).grade(GradeRequest(question=question, answer=answer))


def test_the_rubric_caps_a_model_that_praises_an_off_topic_answer(fake: FakeOpenAI) -> None:
    question = load_bank().by_id["backend-027"]
    result = praised(fake, question, "Last spring I organised the sourdough stall for our school bake sale. I baked "
                     "40 loaves over two days, planned the oven schedule and priced each loaf at $6. We sold out in 2 "
                     "hours.")
    assert result.value.score == 3 and result.call.guardrail == "off-topic"
    assert result.value.weaknesses[0].startswith("This answer does not address the question")
    assert result.value.strengths == []
    sent = fake.requests[0].body["messages"][-1]["content"]
    assert question.key_points[0] in sent  # the prompt carries the key points


def test_the_guardrail_leaves_an_on_topic_answer_to_the_model(fake: FakeOpenAI, question: Question) -> None:
    fake.script(VALID)
    result = build(fake).grade(GradeRequest(question=question, answer=ANSWER + " " + " ".join(question.key_points)))
    assert result.value.score == canned("feedback")["score"] and result.call.guardrail is None
    assert result.value.outline == question.key_points


def test_a_reply_without_criteria_gets_the_offline_graders(question: Question) -> None:
    # Fine-tuned local models are trained to leave the criteria out (they are the grader's, not the recruiters').
    from chains import grading

    request = GradeRequest(question=question, answer=ANSWER + " " + " ".join(question.key_points))
    call = CallRecord(provider="local", model="m", prompt_version="v")
    bare = guard(request, Result(Feedback(score=7, summary="Clear and measured."), call))
    assert bare.value.criteria == grading.grade(question, request.answer).criteria != {}
    kept = guard(request, Result(Feedback(score=7, summary="Fine.", criteria={"depth": 4}), call))
    assert kept.value.criteria == {"depth": 4}


def test_the_rubric_caps_a_model_that_passes_a_known_mistake(fake: FakeOpenAI) -> None:
    result = praised(fake, load_bank().by_id["frontend-001"], "var is function-scoped and let and const are "
                     "block-scoped; reading a let before its line throws. Using const makes the object immutable, so "
                     "nobody can change it.")
    assert result.value.score == grading.MISTAKE_CAP and result.call.guardrail == "known-mistake"
    assert result.value.weaknesses[0].startswith("This looks like a common mistake.")

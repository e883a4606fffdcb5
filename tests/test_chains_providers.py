"""Every LLM provider, through its real SDK, against a fake server speaking its wire protocol.

The same matrix runs for OpenAI (langchain-openai), Gemini (langchain-google-genai on
google-genai) and TGI (huggingface_hub's InferenceClient): valid, fenced and wrapped JSON,
malformed JSON (repair call), schema-violating JSON, 429 then success, 500, a hang past the
timeout, a dead provider and the fallback to the next one; and streamed feedback (#20 item 3):
text in order, then validated; a stream ending in invalid JSON repaired; retried only before its
first chunk; a stream cut mid-way failing over.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from itertools import pairwise

import pytest

from chains import prompts, providers
from chains.bank import load_bank
from chains.providers import AllProvidersFailed, GradeRequest, ProviderError, QuestionRequest
from chains.schemas import Question
from tests.conftest import make_settings
from tests.fakes.llm_env import base_url_of, env_for, fake_for
from tests.fakes.llm_server import (
    CUT,
    DROP,
    FENCED,
    HANG,
    MALFORMED,
    PROSE,
    RATE_LIMITED,
    SERVER_ERROR,
    VALID,
    VIOLATING,
    FakeLLMServer,
    canned,
    dead_url,
)

PROVIDERS = ["openai", "gemini", "tgi"]
ANSWER = (
    "At my last company our checkout API slowed to 2 seconds at peak. I profiled it, added an index on "
    "orders.customer_id and cached the catalogue, and p95 latency dropped to 300 ms."
)


@pytest.fixture(params=PROVIDERS)
def name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def fake(name: str) -> Iterator[FakeLLMServer]:
    with fake_for(name) as server:
        yield server


@pytest.fixture(scope="module")
def question() -> Question:
    return next(q for q in load_bank().questions if q.kind == "technical" and q.role == "backend")


def settings_for(name: str, url: str, **extra: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = {
        "LLM_PROVIDER": name,
        "LLM_FALLBACKS": "",
        "LLM_TIMEOUT_S": 5,
        "LLM_MAX_RETRIES": 1,
        **env_for(name, url),
        **extra,
    }
    return make_settings(**values)


def grade(  # type: ignore[no-untyped-def]
    name: str,
    fake: FakeLLMServer,
    question: Question,
    answer: str = ANSWER,
    on_text: Callable[[str], None] | None = None,
    **extra: object,
):
    settings = settings_for(name, base_url_of(name, fake.origin), **extra)
    return providers.build(settings).grade(GradeRequest(question=question, answer=answer, on_text=on_text))


def test_valid_json_is_valid_first_try(name: str, fake: FakeLLMServer, question: Question) -> None:
    result = grade(name, fake, question)
    assert result.value.model_dump() == {**canned("feedback"), "criteria": {"structure": 8, "specificity": 6},
                                         "outline": question.key_points}
    call = result.call
    # TGI is configured with an adapter (one trained here): it gets the compact system text
    compact = "+compact" if name == "tgi" else ""
    assert (call.provider, call.prompt_version) == (name, "feedback-technical-v2" + compact)
    assert call.model in {"gpt-4o-mini", "gemini-2.0-flash", "mockingbird-dpo-1"}
    assert (call.valid_first_try, call.repaired, call.fell_back) == (True, False, False)
    assert call.latency_ms > 0 and json.loads(call.raw_output)["score"] == 7
    prompt = prompts.load("feedback_technical")
    assert json.loads(call.prompt)[0] == {  # the call records the system text that was sent
        "role": "system",
        "content": prompt.compact if compact else prompt.system,
    }
    assert len(fake.requests) == 1


def test_native_structured_output_is_requested(name: str, fake: FakeLLMServer, question: Question) -> None:
    grade(name, fake, question)
    body = fake.requests[0].body
    if name == "openai":
        schema = body["response_format"]["json_schema"]
        assert body["response_format"]["type"] == "json_schema" and schema["strict"] is True
        schema = schema["schema"]
    elif name == "gemini":
        assert body["generationConfig"]["responseMimeType"] == "application/json"
        schema = body["generationConfig"]["responseJsonSchema"]
    else:
        assert body["response_format"]["type"] == "json"
        schema = body["response_format"]["value"]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {
        "score",
        "strengths",
        "weaknesses",
        "suggestions",
        "criteria",
        "summary",
    }
    assert schema["properties"]["criteria"]["items"]["additionalProperties"] is False


@pytest.mark.parametrize("reply", [FENCED, PROSE], ids=["code-fence", "trailing-text"])
def test_lenient_parse_recovers_without_a_second_call(
    name: str, fake: FakeLLMServer, question: Question, reply
) -> None:  # type: ignore[no-untyped-def]
    fake.script(reply)
    result = grade(name, fake, question)
    assert result.value.score == 7
    assert (result.call.valid_first_try, result.call.repaired) == (False, True)
    assert len(fake.requests) == 1


def _last_user_text(name: str, body: dict) -> str:  # type: ignore[type-arg]
    if name == "gemini":
        return body["contents"][-1]["parts"][0]["text"]
    return body["messages"][-1]["content"]


def test_malformed_json_gets_one_repair_call(name: str, fake: FakeLLMServer, question: Question) -> None:
    fake.script(MALFORMED, VALID)
    result = grade(name, fake, question)
    assert result.value.score == 7
    assert (result.call.valid_first_try, result.call.repaired, result.call.fell_back) == (False, True, False)
    assert len(fake.requests) == 2
    repair = _last_user_text(name, fake.requests[1].body)
    assert "could not be used: not valid JSON" in repair
    assert "not valid JSON" in result.call.errors[0]


def test_schema_violation_is_repaired_with_the_problem_quoted(
    name: str, fake: FakeLLMServer, question: Question
) -> None:
    fake.script(VIOLATING, VALID)
    result = grade(name, fake, question)
    assert result.call.repaired and not result.call.valid_first_try
    repair = _last_user_text(name, fake.requests[1].body)
    assert "schema violation" in repair and "score" in repair


def test_invalid_twice_falls_back_to_the_next_provider(
    name: str, fake: FakeLLMServer, question: Question
) -> None:
    fake.script(VIOLATING, MALFORMED)
    result = grade(name, fake, question, LLM_FALLBACKS="offline")
    assert result.call.provider == "offline" and result.call.fell_back
    assert any(f"{name}: invalid output twice" in e for e in result.call.errors)
    assert len(fake.requests) == 2  # one repair call, never more


def test_rate_limit_then_success_is_retried(name: str, fake: FakeLLMServer, question: Question) -> None:
    fake.script(RATE_LIMITED, VALID)
    result = grade(name, fake, question)
    assert result.call.provider == name and result.call.valid_first_try
    assert len(fake.requests) == 2


def test_server_error_then_success_is_retried(name: str, fake: FakeLLMServer, question: Question) -> None:
    fake.script(SERVER_ERROR, VALID)
    assert grade(name, fake, question).call.provider == name
    assert len(fake.requests) == 2


def test_persistent_server_error_says_so(name: str, fake: FakeLLMServer, question: Question) -> None:
    fake.default = SERVER_ERROR
    with pytest.raises(ProviderError, match=r"HTTP 500"):
        grade(name, fake, question, LLM_MAX_RETRIES=1)
    assert len(fake.requests) == 2  # the first try and LLM_MAX_RETRIES=1 retry


def test_hang_past_the_timeout_fails_over(name: str, fake: FakeLLMServer, question: Question) -> None:
    fake.default = HANG
    started = time.monotonic()
    result = grade(name, fake, question, LLM_TIMEOUT_S=0.3, LLM_MAX_RETRIES=0, LLM_FALLBACKS="offline")
    assert time.monotonic() - started < 3
    assert result.call.provider == "offline" and result.call.fell_back
    assert any(f"{name}: timed out after 0.3 s" in e for e in result.call.errors)


def test_dead_provider_falls_back_to_the_next_one(name: str, question: Question) -> None:
    order = [p for p in PROVIDERS if p != name]
    with fake_for(order[0]) as backup:
        settings = make_settings(
            LLM_PROVIDER=name,
            LLM_FALLBACKS=f"{order[0]},offline",
            LLM_MAX_RETRIES=0,
            **env_for(name, base_url_of(name, dead_url())),
            **env_for(order[0], base_url_of(order[0], backup.origin)),
        )
        result = providers.build(settings).grade(GradeRequest(question=question, answer=ANSWER))
    assert result.call.provider == order[0] and result.call.fell_back
    assert result.call.errors[0].startswith(f"{name}: cannot connect")
    assert len(backup.requests) == 1


def test_missing_configuration_fails_over_like_a_dead_provider(name: str, question: Question) -> None:
    settings = make_settings(LLM_PROVIDER=name, LLM_FALLBACKS="offline")
    result = providers.build(settings).grade(GradeRequest(question=question, answer=ANSWER))
    variable = {"openai": "OPENAI_API_KEY", "gemini": "GOOGLE_API_KEY", "tgi": "TGI_URL"}[name]
    assert result.call.provider == "offline"
    assert result.call.errors == [f"{name}: {variable} is not set"]


def test_every_provider_failing_gives_one_clear_message(name: str, question: Question) -> None:
    other = "gemini" if name == "openai" else "openai"
    missing = {"openai": "OPENAI_API_KEY", "gemini": "GOOGLE_API_KEY"}[other]
    settings = make_settings(
        LLM_PROVIDER=name,
        LLM_FALLBACKS=other,
        LLM_MAX_RETRIES=0,
        **env_for(name, base_url_of(name, dead_url())),
    )
    with pytest.raises(AllProvidersFailed) as failure:
        providers.build(settings).grade(GradeRequest(question=question, answer=ANSWER))
    message = str(failure.value)
    assert message.startswith("every provider failed to grade the answer: ")
    assert f"{name}: cannot connect" in message and f"{other}: {missing} is not set" in message
    assert not any(key in message for key in ("sk-test", "gm-test", "hf-test"))


def test_question_generation_avoids_asked_questions(name: str, fake: FakeLLMServer) -> None:
    settings = settings_for(name, base_url_of(name, fake.origin))
    provider = providers.build(settings)
    first = provider.question(QuestionRequest(role="backend", kind="technical", level="senior", seed=1)).value
    assert first.role == "backend" and first.kind == "technical" and first.level == "senior"
    assert first.id.startswith("llm-") and len(first.key_points) == 3
    second = provider.question(
        QuestionRequest(
            role="backend",
            kind="technical",
            level="senior",
            asked_texts=(first.text,),
            asked_domains=(first.domain,),
        )
    ).value
    assert second.text != first.text
    asked = _last_user_text(name, fake.requests[1].body)
    assert "<asked>" in asked and first.text in asked
    bank_domains = {q.domain for q in load_bank().select("backend", "technical", "senior")}
    domain_line = _last_user_text(name, fake.requests[0].body).split("Domain: ")[1].split(".")[0]
    assert domain_line in bank_domains


def test_a_dropped_connection_is_retried(name: str, fake: FakeLLMServer, question: Question) -> None:
    fake.script(DROP, VALID)
    result = grade(name, fake, question)
    assert result.call.provider == name and result.value.score == 7
    assert len(fake.requests) == 2


# ── streamed feedback ──────────────────────────────────────────────────────────────────
def constrained(fake: FakeLLMServer, index: int) -> bool:
    """Whether request ``index`` carried the provider's schema (response format, schema, grammar)."""
    request = fake.requests[index]
    return fake.schema_of(str(fake.route(request.path.split("?", 1)[0])), request.body) is not None


def test_streamed_feedback_shows_its_text_in_order_then_validates(
    name: str, fake: FakeLLMServer, question: Question
) -> None:
    fake.script(VALID)
    shown: list[str] = []
    result = grade(name, fake, question, on_text=shown.append)
    assert [fake.streamed(r) for r in fake.requests] == [True] and constrained(fake, 0)
    expected = canned("feedback")
    assert len(shown) > 3 and shown[0].startswith("Score: 7/10")
    assert all(later.startswith(earlier.rsplit("\n", 1)[0]) for earlier, later in pairwise(shown))
    assert expected["summary"] in shown[-1] and "• Clear structure." in shown[-1]
    assert result.value.summary == expected["summary"] and result.call.valid_first_try
    assert result.call.raw_output.startswith('{"score": 7') and result.call.provider == name


def test_a_stream_that_breaks_off_into_invalid_json_goes_through_the_same_repair(
    name: str, fake: FakeLLMServer, question: Question
) -> None:
    fake.script(MALFORMED, VALID)
    shown: list[str] = []
    result = grade(name, fake, question, on_text=shown.append)
    assert shown and canned("feedback")["summary"] not in shown[-1]  # the stream stopped half-way
    assert [fake.streamed(r) for r in fake.requests] == [True, False]  # the repair is one call
    assert constrained(fake, 1)
    assert result.call.repaired and not result.call.valid_first_try
    assert result.value.summary == canned("feedback")["summary"]


def test_an_error_before_the_first_chunk_is_retried(name: str, fake: FakeLLMServer, question: Question) -> None:
    fake.script(RATE_LIMITED, VALID)
    shown: list[str] = []
    result = grade(name, fake, question, on_text=shown.append)
    assert [fake.streamed(r) for r in fake.requests] == [True, True]
    assert result.call.valid_first_try and canned("feedback")["summary"] in shown[-1]


def test_a_stream_cut_mid_way_is_not_retried_and_falls_back(name: str, fake: FakeLLMServer, question: Question) -> None:
    fake.script(CUT)
    shown: list[str] = []
    result = grade(name, fake, question, on_text=shown.append, LLM_MAX_RETRIES=2, LLM_FALLBACKS="offline")
    assert len(fake.requests) == 1 and shown  # text had been shown: a retry would write a second reply after it
    assert result.call.provider == "offline" and result.call.fell_back
    assert "dropped" in result.call.errors[0]


def test_without_a_reader_the_reply_is_not_streamed(name: str, fake: FakeLLMServer, question: Question) -> None:
    fake.script(VALID)
    grade(name, fake, question)
    assert [fake.streamed(r) for r in fake.requests] == [False] and constrained(fake, 0)

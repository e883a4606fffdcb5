"""Streamed feedback through each provider's real SDK (#20 item 3): OpenAI's json_schema stream,
Gemini's ``streamGenerateContent?alt=sse`` with its response schema, TGI's Messages API stream with
its JSON grammar. The preview shows the text as it arrives; the whole reply then takes the chain's
one parse / validate / repair path, and a stream that breaks off fails over like any other error."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

import pytest

from chains import providers
from chains.bank import load_bank
from chains.providers import GradeRequest, Provider
from chains.schemas import Question
from tests.conftest import make_settings
from tests.fakes.llm_env import env_for, fake_for
from tests.fakes.llm_server import CUT, MALFORMED, RATE_LIMITED, VALID, FakeLLMServer, canned

ANSWER = "I would add an index on the foreign key, measure p95 before and after, and watch write latency."


@pytest.fixture(params=["openai", "gemini", "tgi"])
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fake(name: str) -> Iterator[FakeLLMServer]:
    with fake_for(name) as server:
        yield server


@pytest.fixture(scope="module")
def question() -> Question:
    return next(q for q in load_bank().questions if q.kind == "technical")


def build(name: str, fake: FakeLLMServer, retries: int = 0, fallbacks: str = "") -> Provider:
    url: str = fake.base_url  # type: ignore[attr-defined]
    return providers.build(
        make_settings(LLM_PROVIDER=name, LLM_FALLBACKS=fallbacks, LLM_MAX_RETRIES=retries, **env_for(name, url))
    )


def constrained(fake: FakeLLMServer, index: int) -> bool:
    request = fake.requests[index]
    return fake.schema_of(str(fake.route(request.path.split("?", 1)[0])), request.body) is not None


def test_streamed_feedback_shows_its_text_in_order_then_validates(
    name: str, fake: FakeLLMServer, question: Question
) -> None:
    fake.script(VALID)
    shown: list[str] = []
    result = build(name, fake).grade(GradeRequest(question=question, answer=ANSWER, on_text=shown.append))
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
    result = build(name, fake).grade(GradeRequest(question=question, answer=ANSWER, on_text=shown.append))
    assert shown and canned("feedback")["summary"] not in shown[-1]  # the stream stopped half-way
    assert [fake.streamed(r) for r in fake.requests] == [True, False]  # the repair is one call
    assert constrained(fake, 1)
    assert result.call.repaired and not result.call.valid_first_try
    assert result.value.summary == canned("feedback")["summary"]


def test_an_error_before_the_first_chunk_is_retried(name: str, fake: FakeLLMServer, question: Question) -> None:
    fake.script(RATE_LIMITED, VALID)
    shown: list[str] = []
    result = build(name, fake, retries=1).grade(GradeRequest(question=question, answer=ANSWER, on_text=shown.append))
    assert [fake.streamed(r) for r in fake.requests] == [True, True]
    assert result.call.valid_first_try and canned("feedback")["summary"] in shown[-1]


def test_a_stream_cut_mid_way_is_not_retried_and_falls_back(name: str, fake: FakeLLMServer, question: Question) -> None:
    fake.script(CUT)
    shown: list[str] = []
    result = build(name, fake, retries=2, fallbacks="offline").grade(
        GradeRequest(question=question, answer=ANSWER, on_text=shown.append)
    )
    assert len(fake.requests) == 1 and shown  # text had been shown: a retry would write a second reply after it
    assert result.call.provider == "offline" and result.call.fell_back
    assert "dropped" in result.call.errors[0]


def test_without_a_reader_the_reply_is_not_streamed(name: str, fake: FakeLLMServer, question: Question) -> None:
    fake.script(VALID)
    build(name, fake).grade(GradeRequest(question=question, answer=ANSWER))
    assert [fake.streamed(r) for r in fake.requests] == [False] and constrained(fake, 0)

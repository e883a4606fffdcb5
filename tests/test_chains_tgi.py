"""TGI specifics: the LoRA adapter per request, the JSON grammar, ``/generate`` for template-less models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chains import prompts, providers
from chains.bank import load_bank
from chains.providers import GradeRequest
from chains.schemas import Question
from tests.conftest import make_settings
from tests.fakes.llm_env import KEYS
from tests.fakes.llm_server import MALFORMED, VALID
from tests.fakes.tgi_server import FakeTGI

ANSWER = (
    "A cache sits in front of the database; I would invalidate on write and set a short TTL as a backstop."
)


@pytest.fixture(scope="module")
def question() -> Question:
    return next(q for q in load_bank().questions if q.kind == "technical")


@pytest.fixture
def fake() -> Iterator[FakeTGI]:
    with FakeTGI(api_key=KEYS["tgi"]) as server:
        yield server


def build(url: str, **extra: object):  # type: ignore[no-untyped-def]
    values = {"LLM_PROVIDER": "tgi", "LLM_FALLBACKS": "", "TGI_URL": url, "TGI_API_KEY": KEYS["tgi"], **extra}
    return providers.build(make_settings(**values))


def test_adapter_and_grammar_on_the_messages_api(fake: FakeTGI, question: Question) -> None:
    result = build(fake.base_url, TGI_ADAPTER_ID="mockingbird-dpo-7").grade(
        GradeRequest(question=question, answer=ANSWER)
    )
    request = fake.requests[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEYS['tgi']}"
    assert fake.adapters() == ["mockingbird-dpo-7"]
    assert request.body["response_format"]["type"] == "json"
    assert request.body["messages"][0] == {  # an adapter trained here gets the prompt it was trained on
        "role": "system",
        "content": prompts.load("feedback_technical").compact,
    }
    assert result.call.model == "mockingbird-dpo-7" and result.call.valid_first_try
    assert result.call.prompt_version == "feedback-technical-v2+compact"


def test_no_adapter_means_the_base_model(fake: FakeTGI, question: Question) -> None:
    result = build(fake.base_url).grade(GradeRequest(question=question, answer=ANSWER))
    assert fake.adapters() == ["tgi"]
    assert result.call.model == "tgi-base"
    full = prompts.load("feedback_technical")  # the base alone may be any open model: the full rubric
    assert fake.requests[0].body["messages"][0]["content"] == full.system
    assert result.call.prompt_version == full.version


def test_a_model_without_chat_template_uses_generate(question: Question) -> None:
    with FakeTGI(api_key=KEYS["tgi"], chat_template=False) as fake:
        provider = build(fake.base_url, TGI_ADAPTER_ID="mockingbird-dpo-7")
        fake.script(MALFORMED, VALID)
        first = provider.grade(GradeRequest(question=question, answer=ANSWER))
        second = provider.grade(GradeRequest(question=question, answer=ANSWER))
    paths = [r.path.rstrip("/") or "/" for r in fake.requests]
    assert paths[0] == "/v1/chat/completions" and set(paths[1:]) <= {"/", "/generate"} and len(paths) == 4
    generate = fake.requests[1].body
    assert generate["parameters"]["adapter_id"] == "mockingbird-dpo-7"
    assert generate["parameters"]["grammar"]["type"] == "json"
    assert generate["inputs"].startswith("### System:\n" + prompts.load("feedback_technical").compact)
    assert generate["inputs"].endswith("### Assistant:\n")
    assert first.call.repaired and second.call.valid_first_try


def test_the_local_hugging_face_token_never_leaves_without_a_key(
    fake: FakeTGI, question: Question, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_local_secret_token")
    fake.api_key = None
    build(fake.base_url, TGI_API_KEY="").grade(GradeRequest(question=question, answer=ANSWER))
    assert "hf_local_secret_token" not in str(fake.requests[0].headers)
    assert fake.requests[0].headers.get("authorization", "") == ""


def test_the_sessions_registry_variant_selects_its_lora_adapter(fake: FakeTGI, question: Question) -> None:
    provider = build(fake.base_url, TGI_ADAPTER_ID="mockingbird-live")
    live = provider.grade(GradeRequest(question=question, answer=ANSWER))
    candidate = provider.grade(GradeRequest(question=question, answer=ANSWER, model="mockingbird-candidate"))
    assert fake.adapters() == ["mockingbird-live", "mockingbird-candidate"]
    assert (live.call.model, candidate.call.model) == ("mockingbird-live", "mockingbird-candidate")


def test_a_model_without_chat_template_streams_from_generate(question: Question) -> None:
    with FakeTGI(api_key=KEYS["tgi"], chat_template=False) as fake:
        shown: list[str] = []
        result = build(fake.base_url).grade(GradeRequest(question=question, answer=ANSWER, on_text=shown.append))
    chat, generate = fake.requests
    assert chat.path == "/v1/chat/completions" and chat.body["stream"] is True
    assert generate.body["stream"] is True and generate.body["parameters"]["details"] is True
    assert generate.body["parameters"]["grammar"]["type"] == "json"
    assert len(shown) > 3 and result.call.valid_first_try
    assert "</s>" not in result.call.raw_output  # the end-of-sequence token is special, not text


def test_the_fake_refuses_what_tgi_refuses_when_streaming(fake: FakeTGI) -> None:
    from huggingface_hub import InferenceClient
    from huggingface_hub.errors import ValidationError

    client = InferenceClient(base_url=fake.base_url, token=KEYS["tgi"])
    tokens = client.text_generation("Hi", stream=True, details=True, max_new_tokens=5)
    assert [t.token.special for t in tokens][-1] is True  # TGI ends with the end-of-sequence token
    with pytest.raises(ValidationError, match="best_of"):
        client.text_generation("Hi", stream=True, best_of=2, max_new_tokens=5)

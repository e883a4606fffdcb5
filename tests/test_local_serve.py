"""The loopback TGI-wire server (chains.local.serve) against the project's real ``tgi`` provider.

The model here is a stand-in that returns canned feedback JSON, so the test costs no CPU; the same
server with SmolLM2 and a trained LoRA adapter runs in bench/bench_tgi_local.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chains import providers
from chains.bank import load_bank
from chains.contract import GradeRequest
from chains.local.generate import Generation
from chains.local.serve import TGIServer, start
from tests.conftest import make_settings

FEEDBACK = {"score": 3, "strengths": ["Names the rollback."], "weaknesses": ["No numbers."],
            "suggestions": ["Say how long the outage lasted."], "criteria": [{"name": "depth", "score": 5}],
            "summary": "A clear start; add the measured result."}


class CannedModel:
    """What the server needs of a ``LocalModel``: named adapters and ``generate``; records each call."""

    base_dir = Path("SmolLM2-stand-in")

    def __init__(self) -> None:
        self.adapters = {"mb-trl-sft-1": Path("unused")}
        self.calls: list[dict[str, Any]] = []

    def generate(self, prompt: str, **options: Any) -> Generation:
        self.calls.append({"prompt": prompt, **options})
        return Generation(json.dumps(FEEDBACK), new_tokens=40, seconds=0.01, constrained=True)


@pytest.fixture
def served() -> Iterator[tuple[TGIServer, CannedModel]]:
    model = CannedModel()
    server = start(model)  # type: ignore[arg-type]
    yield server, model
    server.shutdown()
    server.server_close()


def test_the_tgi_provider_moves_to_generate_and_sends_its_grammar_and_adapter(
    served: tuple[TGIServer, CannedModel],
) -> None:
    server, model = served
    settings = make_settings(LLM_PROVIDER="tgi", TGI_URL=server.url, TGI_ADAPTER_ID="mb-trl-sft-1", LLM_FALLBACKS="")
    question = next(iter(load_bank().by_id.values()))
    result = providers.build(settings).grade(GradeRequest(question=question, answer="I rolled back the deploy."))
    assert result.call.provider == "tgi" and result.call.valid_first_try and result.value.score == 3
    assert server.adapters_seen == ["mb-trl-sft-1"]
    (call,) = model.calls
    assert call["adapter"] == "mb-trl-sft-1" and call["schema"]["properties"]["score"]["type"] == "integer"
    assert call["prompt"].endswith("### Assistant:\n") and 0 < call["temperature"] and call["max_new_tokens"] > 0


@pytest.mark.parametrize(
    ("parameters", "error"),
    [
        ({"temperature": 0}, "strictly positive"),
        ({"adapter_id": "mb-never-trained"}, "not loaded"),
        ({"grammar": {"type": "regex", "value": "[0-9]+"}}, "JSON grammar"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
    ],
)
def test_what_tgi_refuses_is_refused_with_422(
    served: tuple[TGIServer, CannedModel], parameters: dict[str, Any], error: str
) -> None:
    server, model = served
    reply = httpx.post(f"{server.url}/generate", json={"inputs": "Grade this.", "parameters": parameters})
    assert reply.status_code == 422 and error in reply.json()["error"]
    assert model.calls == [] and server.adapters_seen == []


def test_the_messages_api_answers_like_tgi_without_a_chat_template(served: tuple[TGIServer, CannedModel]) -> None:
    server, _ = served
    reply = httpx.post(f"{server.url}/v1/chat/completions", json={"model": "tgi", "messages": []})
    assert reply.status_code == 422 and reply.json()["error_type"] == "template_error"
    compat = httpx.post(f"{server.url}/", json={"inputs": "Grade this.", "parameters": {"max_new_tokens": 8}})
    assert compat.json() == [{"generated_text": json.dumps(FEEDBACK)}]  # TGI's compat route answers a list

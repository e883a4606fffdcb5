"""Point a provider's settings at a fake LLM server (the environment a deployment would set)."""

from __future__ import annotations

from tests.fakes.gemini_server import FakeGemini
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.tgi_server import FakeTGI

KEYS = {"openai": "sk-test-not-a-secret", "gemini": "gm-test-not-a-secret", "tgi": "hf-test-not-a-secret"}
FAKES: dict[str, type[FakeLLMServer]] = {"openai": FakeOpenAI, "gemini": FakeGemini, "tgi": FakeTGI}


def fake_for(provider: str, **kwargs: object) -> FakeLLMServer:
    return FAKES[provider](api_key=KEYS[provider], **kwargs)  # type: ignore[arg-type]


def env_for(provider: str, base_url: str) -> dict[str, str]:
    """The variables that send ``provider`` to ``base_url`` (a fake's, or a dead port)."""
    if provider == "openai":
        return {"OPENAI_API_KEY": KEYS["openai"], "OPENAI_BASE_URL": base_url, "OPENAI_MODEL": "gpt-4o-mini"}
    if provider == "gemini":
        return {
            "GOOGLE_API_KEY": KEYS["gemini"],
            "GEMINI_BASE_URL": base_url,
            "GEMINI_MODEL": "gemini-2.0-flash",
        }
    if provider == "tgi":
        return {"TGI_URL": base_url, "TGI_API_KEY": KEYS["tgi"], "TGI_ADAPTER_ID": "mockingbird-dpo-1"}
    raise ValueError(provider)


def base_url_of(provider: str, origin: str) -> str:
    """What a user would configure for a server at ``origin`` (OpenAI's base URL ends in /v1)."""
    return f"{origin}/v1" if provider == "openai" else origin

"""A fake Gemini API (Google AI, v1beta): ``POST /v1beta/models/{model}:generateContent``.

Reads the key from ``x-goog-api-key``, the schema from ``generationConfig`` and answers
with ``candidates[0].content.parts[0].text``; errors use Google's ``{"error": {code, message, status}}``.
"""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.llm_server import FakeLLMServer, Recorded

_PATH = re.compile(r"^/(v1beta|v1)/models/(?P<model>[^/:]+):generateContent$")
STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class FakeGemini(FakeLLMServer):
    api_key_header = "x-goog-api-key"

    @property
    def base_url(self) -> str:
        return self.origin

    def route(self, path: str) -> str | None:
        match = _PATH.match(path)
        return match["model"] if match else None

    def schema_of(self, endpoint: str, body: Any) -> dict[str, Any] | None:
        config = body.get("generationConfig") or {}
        return config.get("responseJsonSchema") or config.get("responseSchema")

    def success(self, endpoint: str, request: Recorded, content: str) -> Any:
        return {
            "candidates": [
                {
                    "content": {"parts": [{"text": content}], "role": "model"},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {"promptTokenCount": 50, "candidatesTokenCount": 40, "totalTokenCount": 90},
            "modelVersion": endpoint,
        }

    def error(self, endpoint: str, code: int) -> Any:
        message = (
            "API key not valid. Please pass a valid API key." if code in (401, 403) else f"Fake error {code}."
        )
        return {"error": {"code": code, "message": message, "status": STATUS.get(code, "UNKNOWN")}}

    def system_prompts(self) -> list[str]:
        return [
            "".join(p.get("text", "") for p in r.body["systemInstruction"]["parts"])
            for r in self.requests
            if r.body.get("systemInstruction")
        ]

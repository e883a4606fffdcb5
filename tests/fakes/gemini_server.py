"""A fake Gemini API (Google AI, v1beta): ``POST /v1beta/models/{model}:generateContent``.

Reads the key from ``x-goog-api-key``, the schema from ``generationConfig`` and answers
with ``candidates[0].content.parts[0].text``; errors use Google's ``{"error": {code, message, status}}``.
``:streamGenerateContent`` answers the same content in pieces (``chunk_chars`` characters), one
``GenerateContentResponse`` each: server-sent events with ``?alt=sse`` (what google-genai asks for),
else one JSON array, as the real API does. As the real API, v1 refuses ``responseJsonSchema``
(structured output is served on v1beta).
"""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.llm_server import FakeLLMServer, Recorded, Reply

_PATH = re.compile(r"^/(v1beta|v1)/models/(?P<model>[^/:]+):(generateContent|streamGenerateContent)$")
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

    def streamed(self, request: Recorded) -> bool:
        return ":streamGenerateContent" in request.path

    def next_reply(self, request: Recorded) -> Reply:
        config = (request.body or {}).get("generationConfig") or {}
        if request.path.startswith("/v1/") and "responseJsonSchema" in config:
            return Reply("status", status=400)  # "Unknown name responseJsonSchema" on v1
        return super().next_reply(request)

    def _response(self, endpoint: str, text: str, *, last: bool = True) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
        if last:
            candidate["finishReason"] = "STOP"
        return {
            "candidates": [candidate],
            "usageMetadata": {"promptTokenCount": 50, "candidatesTokenCount": 40, "totalTokenCount": 90},
            "modelVersion": endpoint,
        }

    def _chunks(self, endpoint: str, content: str) -> list[Any]:
        pieces = self.pieces(content)
        return [self._response(endpoint, piece, last=i == len(pieces) - 1) for i, piece in enumerate(pieces)]

    def success(self, endpoint: str, request: Recorded, content: str) -> Any:
        if self.streamed(request):
            return self._chunks(endpoint, content)  # without alt=sse: the whole stream as one JSON array
        return self._response(endpoint, content)

    def stream_events(self, endpoint: str, request: Recorded, content: str) -> list[Any] | None:
        sse = "alt=sse" in request.path.partition("?")[2].split("&")
        return self._chunks(endpoint, content) if self.streamed(request) and sse else None

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

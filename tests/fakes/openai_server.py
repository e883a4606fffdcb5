"""A fake OpenAI Chat Completions API: ``POST /v1/chat/completions``.

Replies with ``message.content`` for ``response_format`` requests and with a tool call
(``message.tool_calls[0].function.arguments``) when the request offers tools, as the real
API does for strict function calling. Errors use OpenAI's ``{"error": {...}}`` body.
A ``"stream": true`` request gets the same content as ``chat.completion.chunk`` server-sent
events, ``chunk_chars`` characters each, ending with ``[DONE]`` (content replies only).
"""

from __future__ import annotations

from typing import Any

from tests.fakes.llm_server import FakeLLMServer, Recorded

ERROR_TYPES = {401: "invalid_request_error", 429: "rate_limit_exceeded", 500: "server_error"}


class FakeOpenAI(FakeLLMServer):
    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def route(self, path: str) -> str | None:
        return "chat" if path.rstrip("/").endswith("/chat/completions") else None

    def schema_of(self, endpoint: str, body: Any) -> dict[str, Any] | None:
        if body.get("tools"):
            return body["tools"][0]["function"]["parameters"]
        return (body.get("response_format") or {}).get("json_schema", {}).get("schema")

    def success(self, endpoint: str, request: Recorded, content: str) -> Any:
        body = request.body
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
        finish = "stop"
        if body.get("tools"):
            name = body["tools"][0]["function"]["name"]
            message = {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "tool_calls": [
                    {"id": "call_fake1", "type": "function", "function": {"name": name, "arguments": content}}
                ],
            }
            finish = "tool_calls"
        return {
            "id": f"chatcmpl-fake{len(self.requests)}",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": body.get("model", "fake"),
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 40, "total_tokens": 90},
        }

    def stream_events(self, endpoint: str, request: Recorded, content: str) -> list[Any] | None:
        body = request.body
        if not self.streamed(request):
            return None
        if body.get("tools"):
            raise NotImplementedError("the fake streams content replies only")

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": f"chatcmpl-fake{len(self.requests)}",
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": body.get("model", "fake"),
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }

        return [
            chunk({"role": "assistant", "content": ""}),
            *(chunk({"content": piece}) for piece in self.pieces(content)),
            chunk({}, "stop"),
            "[DONE]",
        ]

    def streamed(self, request: Recorded) -> bool:
        return bool(request.body.get("stream"))

    def error(self, endpoint: str, code: int) -> Any:
        message = "Incorrect API key provided." if code == 401 else f"Fake error {code}."
        return {
            "error": {
                "message": message,
                "type": ERROR_TYPES.get(code, "server_error"),
                "param": None,
                "code": "invalid_api_key" if code == 401 else None,
            }
        }

    def system_prompts(self) -> list[str]:
        return [m["content"] for r in self.requests for m in r.body["messages"] if m["role"] == "system"]

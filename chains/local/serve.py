"""A loopback server that speaks Text Generation Inference's wire protocol over ``LocalModel``.

It answers what the ``tgi`` provider sends to a TGI serving a model without a chat template:
``POST /generate`` (and TGI's compat route ``POST /``) with ``inputs`` and ``parameters``, where
``parameters.grammar`` is ``{"type": "json", "value": schema}`` and ``parameters.adapter_id`` names
one of the LoRA adapters it was started with (TGI's ``--lora-adapters name=path``). The Messages
API answers 422 "Template error" as TGI does for such a model, so the client moves to ``/generate``.
What TGI refuses is refused the same way (422 with ``error`` and ``error_type``): a temperature that
is not strictly positive, an unknown adapter, a grammar other than JSON, a missing ``inputs``.

It exists to exercise the served path with real weights on one machine (bench/bench_tgi_local.py);
it is not a production server (one request at a time, no batching, no streaming).
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from chains.local.generate import LocalModel

log = logging.getLogger(__name__)
MAX_NEW_TOKENS = 1024  # TGI's --max-new-tokens default is lower; the client asks for at most this


class Refused(ValueError):
    """A request TGI would answer with 422."""

    def __init__(self, message: str, kind: str = "validation") -> None:
        super().__init__(message)
        self.kind = kind


def answer(model: LocalModel, body: Any) -> dict[str, Any]:
    """The ``/generate`` reply for one request body, or ``Refused``."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), str) or not body["inputs"]:
        raise Refused("`inputs` must be a non-empty string")
    parameters = body.get("parameters") or {}
    temperature = parameters.get("temperature")
    if temperature is not None and not temperature > 0:
        raise Refused("`temperature` must be strictly positive")
    adapter = parameters.get("adapter_id") or None
    if adapter is not None and adapter not in model.adapters:
        raise Refused(f"adapter {adapter!r} is not loaded (started with: {', '.join(model.adapters) or 'none'})")
    grammar = parameters.get("grammar")
    if grammar is not None and (grammar.get("type") != "json" or not isinstance(grammar.get("value"), dict)):
        raise Refused("only a JSON grammar with a schema object is served here", "grammar")
    max_new = parameters.get("max_new_tokens")
    max_new = 100 if max_new is None else max_new  # TGI's default
    if not isinstance(max_new, int) or not 0 < max_new <= MAX_NEW_TOKENS:
        raise Refused(f"`max_new_tokens` must be between 1 and {MAX_NEW_TOKENS}")
    generation = model.generate(
        body["inputs"],
        schema=grammar["value"] if grammar else None,
        adapter=adapter,
        max_new_tokens=max_new,
        temperature=float(temperature or 0.0),
        seed=int(parameters.get("seed") or 0),
    )
    reply: dict[str, Any] = {"generated_text": generation.text}
    if parameters.get("details"):
        reply["details"] = {"finish_reason": "length" if generation.new_tokens >= max_new else "eos_token",
                            "generated_tokens": generation.new_tokens, "seed": parameters.get("seed")}
    return reply


def send_json(handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
    """Answer ``payload`` as JSON, with its length (so a keep-alive client knows where it ends)."""
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class Handler(BaseHTTPRequestHandler):
    server: TGIServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/health":
            send_json(self, 200, {})
        elif self.path == "/info":
            send_json(self, 200, {"model_id": self.server.model.base_dir.name, "max_total_tokens": 8192,
                             "adapters": sorted(self.server.model.adapters)})
        else:
            send_json(self, 404, {"error": "not found", "error_type": "not_found"})

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except json.JSONDecodeError:
            send_json(self, 422, {"error": "the body is not JSON", "error_type": "validation"})
            return
        if path.rstrip("/").endswith("/chat/completions"):
            send_json(self, 422, {"error": "Template error: template not found", "error_type": "template_error"})
            return
        if path not in ("/", "/generate"):
            send_json(self, 404, {"error": "not found", "error_type": "not_found"})
            return
        if isinstance(body, dict) and body.get("stream"):
            send_json(self, 422, {"error": "streaming is not served here", "error_type": "validation"})
            return
        try:
            reply = answer(self.server.model, body)
        except Refused as exc:
            send_json(self, 422, {"error": str(exc), "error_type": exc.kind})
            return
        self.server.adapters_seen.append((body.get("parameters") or {}).get("adapter_id"))
        send_json(self, 200, [reply] if path == "/" else reply)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s " + format, self.address_string(), *args)


class TGIServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, model: LocalModel, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), Handler)
        self.model = model
        self.adapters_seen: list[str | None] = []  # per answered request, for checks and benchmarks

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


def start(model: LocalModel, host: str = "127.0.0.1", port: int = 0) -> TGIServer:
    """Serve ``model`` (with the adapters already added) on a background thread; ``.shutdown()`` stops it."""
    server = TGIServer(model, host, port)
    threading.Thread(target=server.serve_forever, name="tgi-local", daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> None:
    """``python -m chains.local.serve --base smollm2 --lora-adapters name=path[,name=path]``."""
    from chains.local import base_cache_dir, resolve_base
    from chains.local.generate import load

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="smollm2", help="HF directory, .gguf file or a packaged model name")
    parser.add_argument("--lora-adapters", default="", help="name=path pairs, comma-separated")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--data-dir", type=Path, default=None, help="where converted bases are cached")
    options = parser.parse_args(argv)
    model = load(resolve_base(options.base, base_cache_dir(options.data_dir)))
    for pair in filter(None, options.lora_adapters.split(",")):
        name, _, path = pair.partition("=")
        model.add_adapter(name.strip(), Path(path.strip()))
    server = TGIServer(model, "127.0.0.1", options.port)
    print(f"serving {model.base_dir.name} on {server.url} (adapters: {', '.join(model.adapters) or 'none'})")
    server.serve_forever()


if __name__ == "__main__":
    main()

"""A fake of OpenAI's files + fine-tuning jobs API (and chat completions for the tuned model), on loopback.

Driven through the real ``openai`` SDK. It behaves like the service where the backend depends
on it: uploads are multipart with ``purpose``; a job walks ``validating_files`` -> ``queued`` ->
``running`` -> ``succeeded`` one step per retrieve; a preference file with a bad line fails the
job with ``invalid_training_file``, as the real validator does; the fine-tuned model answers a
prompt it was trained on with that row's preferred output (a model that learned perfectly) and
anything else with ``fallback_reply``. Every request is recorded.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any

from chains.local.serve import send_json
from tests.fakes.loopback import LoopbackServer, Recorded

STEPS = ("validating_files", "queued", "running", "succeeded")


@dataclass
class FakeJob:
    id: str
    model: str
    training_file: str
    validation_file: str | None
    method: dict[str, Any]
    suffix: str | None
    seed: int
    created_at: int
    step: int = 0
    error: dict[str, Any] | None = None
    retrieves: int = 0
    events: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "failed" if self.error and self.step >= 1 else STEPS[self.step]

    @property
    def fine_tuned_model(self) -> str | None:
        if self.status != "succeeded":
            return None
        return f"ft:{self.model}:mockingbird:{self.suffix or 'model'}:{self.id[-8:]}"

    def payload(self, trained_tokens: int) -> dict[str, Any]:
        finished = self.status in ("succeeded", "failed")
        kind = self.method.get("type", "supervised")
        return {
            "object": "fine_tuning.job",
            "id": self.id,
            "created_at": self.created_at,
            "model": self.model,
            "organization_id": "org-fake",
            "training_file": self.training_file,
            "validation_file": self.validation_file,
            "status": self.status,
            "seed": self.seed,
            "fine_tuned_model": self.fine_tuned_model,
            "finished_at": self.created_at + 60 if finished else None,
            "trained_tokens": trained_tokens if self.status == "succeeded" else None,
            "result_files": [],
            "hyperparameters": {"n_epochs": "auto", "batch_size": "auto", "learning_rate_multiplier": "auto"},
            "method": self.method if kind in self.method else {"type": kind, kind: {"hyperparameters": {}}},
            "error": self.error,
            "suffix": self.suffix,
        }


class FakeOpenAIFineTuning(LoopbackServer):
    def __init__(self, api_key: str = "sk-test-finetune", *, steps_per_status: int = 1) -> None:
        self.api_key = api_key
        self.steps_per_status = steps_per_status
        self.requests: list[Recorded] = []
        self.files: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, FakeJob] = {}
        self.fail_next_job: str | None = None  # a message: the next job fails while "running"
        self.fallback_reply = json.dumps(
            {
                "score": 5,
                "strengths": [],
                "weaknesses": [],
                "suggestions": [],
                "criteria": [],
                "summary": "A fallback reply from the fake model.",
            }
        )
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._listen(type("Handler", (_Handler,), {"fake": self}))

    # ── lifecycle ───────────────────────────────────────────────────────────────────
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def paths(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests]

    # ── behaviour ───────────────────────────────────────────────────────────────────
    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):012d}"

    def upload(self, filename: str, purpose: str, content: bytes) -> tuple[int, Any]:
        if purpose not in ("fine-tune", "batch", "assistants", "vision", "user_data"):
            return 400, _error(f"Invalid purpose {purpose!r}.", "invalid_request_error", "purpose")
        file_id = self._new_id("file")
        record = {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "content": content,
        }
        with self._lock:
            self.files[file_id] = record
        return 200, {k: v for k, v in record.items() if k != "content"}

    def lines(self, file_id: str) -> list[dict[str, Any]]:
        return [
            json.loads(line) for line in self.files[file_id]["content"].decode().splitlines() if line.strip()
        ]

    def _check_file(self, file_id: str, kind: str) -> str | None:
        """The reason a training file is unusable for ``kind``, as the service's validator says it."""
        try:
            rows = self.lines(file_id)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return f"File {file_id} is not valid JSONL."
        for number, row in enumerate(rows, start=1):
            if kind == "dpo":
                ok = (
                    isinstance(row.get("input"), dict)
                    and isinstance(row["input"].get("messages"), list)
                    and isinstance(row.get("preferred_output"), list)
                    and isinstance(row.get("non_preferred_output"), list)
                )
            else:
                ok = isinstance(row.get("messages"), list)
            if not ok:
                return f"Invalid file format. Line {number}: missing the fields a {kind} example needs."
        if len(rows) < 10:
            return f"Training file has {len(rows)} example(s), but must have at least 10 examples."
        return None

    def create_job(self, body: dict[str, Any]) -> tuple[int, Any]:
        for key in ("model", "training_file"):
            if not body.get(key):
                return 400, _error(f"Missing required parameter: '{key}'.", "invalid_request_error", key)
        for key in ("training_file", "validation_file"):
            if body.get(key) and body[key] not in self.files:
                return 400, _error(f"File not found: {body[key]}", "invalid_request_error", key)
        method = body.get("method") or {"type": "supervised", "supervised": {}}
        kind = method.get("type")
        if kind not in ("supervised", "dpo"):
            return 400, _error(f"Unsupported method type {kind!r}.", "invalid_request_error", "method")
        job = FakeJob(
            id=self._new_id("ftjob"),
            model=body["model"],
            training_file=body["training_file"],
            validation_file=body.get("validation_file"),
            method=method,
            suffix=body.get("suffix"),
            seed=body.get("seed") or 42,
            created_at=int(time.time()),
        )
        reason = self._check_file(job.training_file, kind)
        if reason:
            job.error = {"code": "invalid_training_file", "message": reason, "param": "training_file"}
        elif self.fail_next_job:
            job.error = {"code": "server_error", "message": self.fail_next_job, "param": None}
            self.fail_next_job = None
        with self._lock:
            self.jobs[job.id] = job
        return 200, job.payload(0)

    def retrieve_job(self, job_id: str) -> tuple[int, Any]:
        job = self.jobs.get(job_id)
        if job is None:
            return 404, _error(f"No such fine-tuning job: {job_id}", "invalid_request_error", "id")
        with self._lock:
            job.retrieves += 1
            if job.status not in ("succeeded", "failed") and job.retrieves % self.steps_per_status == 0:
                job.step += 1
        return 200, job.payload(trained_tokens=len(self.files[job.training_file]["content"]) // 4)

    def tuned_models(self) -> dict[str, FakeJob]:
        return {job.fine_tuned_model: job for job in self.jobs.values() if job.fine_tuned_model}

    def chat(self, body: dict[str, Any]) -> tuple[int, Any]:
        model = body.get("model")
        job = self.tuned_models().get(model)
        if job is None and not str(model).startswith("gpt-"):
            return 404, _error(
                f"The model `{model}` does not exist or you do not have access to it.",
                "invalid_request_error",
                "model",
            )
        content = self.fallback_reply
        if job is not None:
            for file_id in (job.training_file, job.validation_file):
                for row in self.lines(file_id) if file_id else []:
                    prompt = row.get("input", {}).get("messages") or row.get("messages", [])[:-1]
                    if prompt == body.get("messages"):
                        reply = row.get("preferred_output") or row.get("messages", [])[-1:]
                        content = reply[0]["content"]
        return 200, {
            "id": self._new_id("chatcmpl"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "logprobs": None,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }


def _error(message: str, kind: str, param: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": None}}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAIFineTuning
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        return

    def _authorised(self) -> bool:
        if self.headers.get("authorization") == f"Bearer {self.fake.api_key}":
            return True
        send_json(self, 401, _error("Incorrect API key provided.", "invalid_request_error", None))
        return False

    def _record(self, body: Any) -> None:
        self.fake.requests.append(
            Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self._record(None)
        if not self._authorised():
            return
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[:3] == ["v1", "fine_tuning", "jobs"] and len(parts) == 4:
            send_json(self, *self.fake.retrieve_job(parts[3]))
        elif parts[:2] == ["v1", "files"] and len(parts) == 3 and parts[2] in self.fake.files:
            send_json(self, 200, {k: v for k, v in self.fake.files[parts[2]].items() if k != "content"})
        else:
            send_json(self, 404, _error(f"Unknown path {self.path}", "invalid_request_error", None))

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        content_type = self.headers.get("content-type", "")
        path = self.path.split("?")[0].rstrip("/")
        if content_type.startswith("multipart/form-data"):
            message = BytesParser(policy=HTTP).parsebytes(
                f"Content-Type: {content_type}\r\n\r\n".encode() + raw
            )
            fields: dict[str, Any] = {}
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                fields[name] = (part.get_filename(), part.get_payload(decode=True))
            self._record(
                {
                    "purpose": fields.get("purpose", (None, b""))[1].decode(),
                    "filename": fields.get("file", ("", b""))[0],
                }
            )
            if not self._authorised():
                return
            if path != "/v1/files" or "file" not in fields:
                send_json(self, 
                    400, _error("Expected a file upload to /v1/files.", "invalid_request_error", "file")
                )
                return
            filename, content = fields["file"]
            send_json(self, 
                *self.fake.upload(
                    filename or "upload.jsonl", fields.get("purpose", (None, b""))[1].decode(), content
                )
            )
            return
        body = json.loads(raw or b"{}")
        self._record(body)
        if not self._authorised():
            return
        if path == "/v1/fine_tuning/jobs":
            send_json(self, *self.fake.create_job(body))
        elif path == "/v1/chat/completions":
            send_json(self, *self.fake.chat(body))
        else:
            send_json(self, 404, _error(f"Unknown path {self.path}", "invalid_request_error", None))

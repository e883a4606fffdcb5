"""A worker consumer that dead-letters messages Celery cannot even turn into a task call.

Celery logs and drops a message it cannot decode, or one naming a task it does not know; with
this consumer (``worker_consumer`` in ``tasks.pipeline.app``) such a message is also stored in
the dead-letter table with the reason, so an operator can see it (``mockingbird dead-letters``).
"""

from __future__ import annotations

import logging
from typing import Any

from celery.worker.consumer import Consumer

from tasks.pipeline import deadletter
from tasks.pipeline.runtime import database

log = logging.getLogger(__name__)


def _body(message: Any, body: Any = None) -> Any:
    if body is not None:
        return body
    try:
        return message.decode()
    except Exception:  # the body is what could not be decoded
        return getattr(message, "body", b"")


def _payload(body: Any) -> Any:
    """The task's own payload when the body is a protocol-2 ``[args, kwargs, embed]`` for one dict."""
    if isinstance(body, list | tuple) and len(body) == 3 and isinstance(body[0], list | tuple):
        args, kwargs = body[0], body[1]
        if len(args) == 1 and not kwargs:
            return args[0]
        return {"args": list(args), "kwargs": kwargs}
    return body


def _store(task: str, body: Any, reason: str) -> None:
    try:
        deadletter.record(database(), task, _payload(body), reason)
    except Exception:  # never let a broken database stop the consumer
        log.exception("could not store a dead letter (%s)", reason)


class DeadLetterConsumer(Consumer):  # type: ignore[misc]
    def on_decode_error(self, message: Any, exc: Exception) -> None:
        name = (getattr(message, "headers", None) or {}).get("task") or "(undecodable)"
        _store(str(name), _body(message), f"undecodable message ({message.content_type}): {exc}")
        super().on_decode_error(message, exc)

    def on_unknown_message(self, body: Any, message: Any) -> None:
        _store("(unknown)", _body(message, body), "not a Celery task message")
        super().on_unknown_message(body, message)

    def on_unknown_task(self, body: Any, message: Any, exc: Exception) -> None:
        name = (getattr(message, "headers", None) or {}).get("task", "(unknown)")
        _store(str(name), _body(message, body), f"unknown task {name!r}: no such task is registered")
        super().on_unknown_task(body, message, exc)

    def on_invalid_task(self, body: Any, message: Any, exc: Exception) -> None:
        name = (getattr(message, "headers", None) or {}).get("task", "(invalid)")
        _store(str(name), _body(message, body), f"invalid task message: {exc}")
        super().on_invalid_task(body, message, exc)

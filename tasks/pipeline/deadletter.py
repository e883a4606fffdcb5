"""The dead-letter table: payloads that can never succeed, kept with a reason a person can act on.

A poison message must not block the queue or vanish: the task acknowledges it and stores it
here. Payloads that mention someone who has since asked to be forgotten are dropped instead.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from bot.store.db import Database
from bot.store.models import DeadLetter
from bot.store.privacy import forgotten_at, people_in

log = logging.getLogger(__name__)

MAX_REASON = 4000


def describe_validation(error: ValidationError) -> str:
    """``value: Input should be less than or equal to 1; rater: Field required``."""
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "payload"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def reason_for(exc: BaseException) -> str:
    """A short, specific reason: what was wrong, not a stack trace."""
    cause = exc.__cause__
    if isinstance(cause, ValidationError):
        title = cause.title.replace("Payload", " payload").lower()
        return f"malformed {title}: {describe_validation(cause)}"[:MAX_REASON]
    if isinstance(exc, ValidationError):
        return f"malformed payload: {describe_validation(exc)}"[:MAX_REASON]
    text = str(exc) or type(exc).__name__
    prefix = "" if type(exc).__name__ == "PoisonPayload" else f"{type(exc).__name__}: "
    return f"{prefix}{text}"[:MAX_REASON]


def as_json_payload(payload: Any) -> dict[str, Any]:
    """Whatever arrived, as a JSON object the table can hold."""
    if isinstance(payload, bytes | bytearray):
        return {"raw": bytes(payload[:10_000]).decode("utf-8", errors="replace")}
    if not isinstance(payload, dict):
        payload = {"value": payload}
    try:
        return json.loads(json.dumps(payload, default=repr))
    except (TypeError, ValueError):
        return {"repr": repr(payload)[:10_000]}


def record(db: Database, task: str, payload: Any, reason: str) -> int | None:
    """Store one dead letter. Returns its id, or None when dropped (a forgotten person's data)."""
    with db.session() as session:
        return add(session, task, payload, reason)


def add(session: Session, task: str, payload: Any, reason: str) -> int | None:
    """``record`` inside a transaction the caller already holds."""
    body = as_json_payload(payload)
    for platform, user_id in set(people_in(body)):
        if forgotten_at(session, platform, user_id) is not None:
            log.info("dropped a %s message about a person who asked to be forgotten", task)
            return None
    row = DeadLetter(task=task[:80], payload=body, reason=reason[:MAX_REASON])
    session.add(row)
    session.flush()
    log.warning("dead letter %s for %s: %s", row.id, task, reason)
    return row.id

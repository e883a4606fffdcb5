"""The ``sft`` export: instruction fine-tuning rows, question + answer -> the recruiter-approved feedback.

Each row is a recruiter correction: the grading prompt the model saw (system + user, as the
feedback chain sends it) and, as the completion, the recruiter's version of the feedback in
the JSON wire form. Training on it teaches both the judgement and the JSON shape. Rows are
streamed from the database and redacted like every other export (``tasks.redact``); the file
appears complete or not at all.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from bot.store.db import Database
from bot.store.models import Correction, InterviewSession, PreferencePair, User
from chains.redact import redact

FORMAT = "sft"
STREAM_ROWS = 1000


def _query(since: datetime | None) -> Any:
    candidate, recruiter = aliased(User), aliased(User)
    query = (
        select(
            PreferencePair.prompt,
            PreferencePair.chosen,
            candidate.display_name,
            candidate.platform_user_id,
            recruiter.display_name,
            recruiter.platform_user_id,
        )
        .join(Correction, PreferencePair.correction_id == Correction.id)
        .outerjoin(InterviewSession, PreferencePair.session_id == InterviewSession.id)
        .outerjoin(candidate, InterviewSession.candidate_id == candidate.id)
        .join(recruiter, Correction.recruiter_id == recruiter.id)
        .where(PreferencePair.kind == "pair", PreferencePair.chosen.is_not(None))
        .order_by(PreferencePair.id)
    )
    if since is not None:
        query = query.where(PreferencePair.created_at >= since)
    return query


def count_rows(db: Database, since: datetime | None = None) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(_query(since).subquery())) or 0


def sft_rows(db: Database, since: datetime | None = None) -> Iterator[dict[str, Any]]:
    """``{"prompt": [system, user], "completion": [assistant]}`` per recruiter correction, redacted."""
    with db.session() as session:
        result = session.execute(_query(since).execution_options(yield_per=STREAM_ROWS))
        for prompt, chosen, *people in result:
            names = tuple(people)
            messages = [
                m if m["role"] == "system" else {"role": m["role"], "content": redact(m["content"], names)}
                for m in prompt
            ]
            yield {
                "prompt": messages,
                "completion": [{"role": "assistant", "content": redact(chosen, names)}],
            }


def export_sft(
    db: Database,
    out: Path,
    *,
    since: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write the SFT rows to ``out`` (JSONL); returns how many were written."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    total = count_rows(db, since) if progress else 0
    temp = out.with_name(f".{out.name}.{os.getpid()}.part")
    written = 0
    try:
        with temp.open("w", encoding="utf-8") as handle:
            for row in sft_rows(db, since):
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                written += 1
                if progress and (written % 500 == 0):
                    progress(written, total)
        os.replace(temp, out)
    finally:
        temp.unlink(missing_ok=True)
    if progress:
        progress(written, max(total, written))
    return written

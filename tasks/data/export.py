"""Dataset export: preference rows streamed to JSONL in the format a trainer reads.

* ``trl-dpo``    conversational ``prompt`` / ``chosen`` / ``rejected`` (TRL DPOTrainer).
* ``trl-kto``    conversational ``prompt`` / ``completion`` / ``label`` (TRL KTOTrainer); KTO labels
  from ratings, plus both sides of every pair (chosen desirable, rejected not).
* ``openai-dpo`` OpenAI preference fine-tuning: ``input.messages``, ``preferred_output``,
  ``non_preferred_output``.
* ``answers-dpo`` try-again pairs in the ``trl-dpo`` shape: an interview question as the prompt, the
  candidate's better-scored answer chosen and the other rejected (for a model that writes model answers;
  the other formats never carry them, since they train the feedback writer).
* ``sft``        instruction fine-tuning (TRL SFTTrainer, prompt-completion): one row per recruiter
  correction, the grading prompt as ``prompt`` and the recruiter's feedback JSON as ``completion``.

Rows are read with a server-side cursor and written one at a time, so memory stays flat however
many rows there are. Text a person wrote is redacted (emails, phone numbers, platform ids, the
names of the people behind the row); rows of people who were forgotten are gone from the table.
The file appears complete or not at all (written aside, then renamed).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from bot.store.db import Database
from bot.store.models import Correction, InterviewSession, PreferencePair, User
from chains.redact import redact
from tasks.data.outputs import open_private

FORMATS: tuple[str, ...] = ("trl-dpo", "trl-kto", "openai-dpo", "sft", "answers-dpo")
STREAM_ROWS = 1000


class ExportError(ValueError):
    """A bad export request or an invalid export file; the message says which and where."""


@dataclass
class ExportResult:
    format: str
    path: str
    rows: int
    source_rows: int


# ── row shapes (also the validators) ────────────────────────────────────────────────
class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: str = Field(min_length=1)


def _one_assistant(messages: list[ChatMessage]) -> list[ChatMessage]:
    if len(messages) != 1 or messages[0].role != "assistant":
        raise ValueError("must be exactly one assistant message")
    return messages


def _ends_with_user(messages: list[ChatMessage]) -> list[ChatMessage]:
    if not messages or messages[-1].role != "user":
        raise ValueError("the prompt must end with a user message")
    return messages


Prompt = Annotated[list[ChatMessage], AfterValidator(_ends_with_user)]
Answer = Annotated[list[ChatMessage], AfterValidator(_one_assistant)]


class TrlDpoRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: Prompt
    chosen: Answer
    rejected: Answer


class TrlKtoRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: Prompt
    completion: Answer
    label: bool


class SftRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: Prompt
    completion: Answer


class OpenAIInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    messages: Prompt
    tools: list[Any] = Field(default_factory=list)
    parallel_tool_calls: bool = True


class OpenAIDpoRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: OpenAIInput
    preferred_output: Answer
    non_preferred_output: Answer


ROW_MODELS: dict[str, type[BaseModel]] = {
    "trl-dpo": TrlDpoRow,
    "trl-kto": TrlKtoRow,
    "openai-dpo": OpenAIDpoRow,
    "sft": SftRow,
    "answers-dpo": TrlDpoRow,
}


# ── reading ─────────────────────────────────────────────────────────────────────────
def _query(fmt: str, since: datetime | None) -> Any:
    candidate, recruiter = aliased(User), aliased(User)
    query = (
        select(
            PreferencePair.kind,
            PreferencePair.prompt,
            PreferencePair.chosen,
            PreferencePair.rejected,
            PreferencePair.completion,
            PreferencePair.label,
            candidate.display_name,
            candidate.platform_user_id,
            recruiter.display_name,
            recruiter.platform_user_id,
        )
        .outerjoin(InterviewSession, PreferencePair.session_id == InterviewSession.id)
        .outerjoin(candidate, InterviewSession.candidate_id == candidate.id)
        .outerjoin(Correction, PreferencePair.correction_id == Correction.id)
        .outerjoin(recruiter, Correction.recruiter_id == recruiter.id)
        .order_by(PreferencePair.id)
    )
    if fmt != "trl-kto":
        query = query.where(PreferencePair.kind == "pair")
    # Try-again pairs are answers, not feedback: only ``answers-dpo`` carries them.
    query = query.where((PreferencePair.source == "retry") == (fmt == "answers-dpo"))
    if fmt == "sft":  # only a recruiter's correction is a reply worth imitating
        query = query.where(PreferencePair.correction_id.is_not(None))
    if since is not None:
        query = query.where(PreferencePair.created_at >= since)
    return query


def count_rows(db: Database, fmt: str, since: datetime | None = None) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(_query(fmt, since).subquery())) or 0


def _assistant(text: str, names: tuple[str | None, ...]) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": redact(text, names)}]


def _prompt(messages: list[dict[str, str]], names: tuple[str | None, ...]) -> list[dict[str, str]]:
    # The system text is ours; only what people wrote (the user turn) is redacted.
    return [
        m if m["role"] == "system" else {"role": m["role"], "content": redact(m["content"], names)}
        for m in messages
    ]


def rows(
    db: Database, fmt: str, since: datetime | None = None, on_source_row: Callable[[], None] | None = None
) -> Iterator[dict[str, Any]]:
    """Export rows, streamed from the database (a server-side cursor on PostgreSQL)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    with db.session() as session:
        result = session.execute(_query(fmt, since).execution_options(yield_per=STREAM_ROWS))
        for kind, prompt, chosen, rejected, completion, label, *people in result:
            if on_source_row:
                on_source_row()
            names = tuple(people)
            messages = _prompt(prompt, names)
            if fmt in ("trl-dpo", "answers-dpo"):
                yield {
                    "prompt": messages,
                    "chosen": _assistant(chosen, names),
                    "rejected": _assistant(rejected, names),
                }
            elif fmt == "openai-dpo":
                yield {
                    "input": {"messages": messages, "tools": [], "parallel_tool_calls": True},
                    "preferred_output": _assistant(chosen, names),
                    "non_preferred_output": _assistant(rejected, names),
                }
            elif fmt == "sft":
                yield {"prompt": messages, "completion": _assistant(chosen, names)}
            elif kind == "kto":
                yield {"prompt": messages, "completion": _assistant(completion, names), "label": bool(label)}
            else:  # a pair is two KTO examples
                yield {"prompt": messages, "completion": _assistant(chosen, names), "label": True}
                yield {"prompt": messages, "completion": _assistant(rejected, names), "label": False}


# ── writing and checking ────────────────────────────────────────────────────────────
def export(
    db: Database,
    fmt: str,
    out: Path,
    *,
    since: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExportResult:
    """Write ``out`` (JSONL). ``progress(done, total)`` is called as source rows are read."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out = Path(out)
    if out.is_dir():
        raise ExportError(f"{out} is a directory; give a file name, such as {out / (fmt + '.jsonl')}")
    out.parent.mkdir(parents=True, exist_ok=True)
    total = count_rows(db, fmt, since) if progress else 0
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress and (done % 500 == 0 or done == total):
            progress(done, total)

    temp = out.with_name(f".{out.name}.{os.getpid()}.part")
    written = 0
    try:
        with open_private(temp) as handle:  # 0600: the rows are candidates' answers
            for row in rows(db, fmt, since, on_source_row=tick):
                handle.write(json.dumps(row, ensure_ascii=False))
                handle.write("\n")
                written += 1
        os.replace(temp, out)
    finally:
        temp.unlink(missing_ok=True)
    if progress:
        progress(done, max(total, done))
    return ExportResult(format=fmt, path=str(out), rows=written, source_rows=done)


def validate_file(path: Path, fmt: str) -> int:
    """Check every line of an export against its format; returns the row count."""
    if fmt not in ROW_MODELS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    model = ROW_MODELS[fmt]
    count = 0
    try:
        with Path(path).open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                try:
                    model.model_validate_json(line)
                except ValidationError as exc:
                    first = exc.errors(include_url=False)[0]
                    where = ".".join(str(p) for p in first["loc"])
                    raise ExportError(f"{path}:{number}: not a {fmt} row ({where}: {first['msg']})") from exc
                count += 1
    except UnicodeDecodeError as exc:
        raise ExportError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return count

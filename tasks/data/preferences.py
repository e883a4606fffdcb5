"""Preference data from ratings and corrections, kept in line with them turn by turn.

For each graded turn the wanted rows are computed from what is stored now, then the
``preference_pairs`` rows of that turn are made to match (insert, update, delete). So a build is
idempotent, a withdrawn rating or a forgotten person disappears from the data at the next build,
and ``dedup_key`` keeps every signal once:

* ``kto``   ``kto:<turn>``: the turn's feedback labelled by its ratings (more 👍 than 👎 → desirable;
  a tie gives no label). Only the votes that count: the session's candidate's and recruiters'
  (``bot.store.tally.counted_vote``), one per person (their latest click); a bystander's rating is
  stored and shown but never labels anything.
* ``pair`` from a correction, ``correction:<turn>:<hash>``: chosen = the recruiter's feedback,
  rejected = the model's. Two recruiters writing the same correction give one pair.
* ``pair`` from ratings, ``ratings:<turn+>:<turn->``: a 👍 output and a 👎 output for the same prompt.
* ``pair`` from try again, ``retry:<first>:<later>``: two answers of one candidate to one question, the
  better-scored one chosen (equal scores give no pair). These are *answers*, not feedback: they are
  exported only as ``answers-dpo`` and never train the feedback writer.

Each row keeps its provenance: session, turn(s), model version, rater role, source.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.store.db import Database
from bot.store.models import Correction, InterviewSession, PreferencePair, Rating, Turn, User, utcnow
from bot.store.tally import counted_vote
from tasks.data.prompting import answer_messages, completion_text, feedback_messages, prompt_hash

MAX_PAIRS_PER_PROMPT = 16
CONTENT = ("prompt", "chosen", "rejected", "completion", "label")


class BuildResult(BaseModel):
    turns: int = 0
    created: int = 0
    updated: int = 0
    removed: int = 0

    def add(self, other: BuildResult) -> None:
        for name in ("turns", "created", "updated", "removed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Turn:
    id: int
    session_id: int
    model_version: str | None
    feedback: dict[str, Any]
    fields: dict[str, Any]
    _prompt: list[dict[str, str]] | None = field(default=None, repr=False)

    @property
    def prompt(self) -> list[dict[str, str]]:
        if self._prompt is None:
            self._prompt = feedback_messages(**self.fields)
        return self._prompt

    @property
    def completion(self) -> str:
        return completion_text(self.feedback)


def graded_turn_ids(db: Database, *, chunk: int = 500) -> Iterator[list[int]]:
    """Every graded turn, in id order, a chunk at a time (keyset pagination: constant memory)."""
    last = 0
    while True:
        with db.session() as session:
            ids = list(
                session.scalars(
                    select(Turn.id)
                    .where(Turn.id > last, Turn.feedback.is_not(None))
                    .order_by(Turn.id)
                    .limit(chunk)
                )
            )
        if not ids:
            return
        yield ids
        last = ids[-1]


def build(
    db: Database,
    turn_ids: Iterable[int] | None = None,
    *,
    chunk: int = 500,
    progress: Callable[[int], None] | None = None,
) -> BuildResult:
    """Bring the preference rows of these turns (all graded turns when None) in line with their signals."""
    total = BuildResult()
    if turn_ids is None:
        chunks: Iterable[list[int]] = graded_turn_ids(db, chunk=chunk)
    else:
        ids = sorted(set(turn_ids))
        chunks = (ids[i : i + chunk] for i in range(0, len(ids), chunk))
    for ids in chunks:
        with db.session() as session:
            total.add(build_chunk(session, ids))
        if progress:
            progress(len(ids))
    return total


def _load_turns(session: Session, ids: list[int]) -> dict[int, _Turn]:
    rows = session.execute(
        select(
            Turn.id,
            Turn.session_id,
            Turn.question,
            Turn.domain,
            Turn.key_points,
            Turn.answer,
            Turn.feedback,
            Turn.model_version,
            InterviewSession.role,
            InterviewSession.kind,
            InterviewSession.level,
        )
        .join(InterviewSession, Turn.session_id == InterviewSession.id)
        # A turn whose transcript was purged (retention) has no answer left to learn from.
        .where(Turn.id.in_(ids), Turn.feedback.is_not(None), Turn.answer.is_not(None), Turn.answer != "")
    )
    return {
        r.id: _Turn(
            r.id,
            r.session_id,
            r.model_version,
            r.feedback,
            {
                "role": r.role,
                "kind": r.kind,
                "level": r.level,
                "domain": r.domain,
                "question": r.question,
                "key_points": r.key_points,
                "answer": r.answer or "",
            },
        )
        for r in rows
    }


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def build_chunk(session: Session, ids: list[int]) -> BuildResult:
    result = BuildResult(turns=len(ids))
    turns = _load_turns(session, ids)
    votes: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    roles: dict[int, set[str]] = defaultdict(set)
    # One row per (turn, person): each person's latest click, once. Only the votes that count (the
    # session's candidate's and recruiters') make a label; other people's ratings stay stored and shown.
    for turn_id, value, role in session.execute(
        select(Rating.turn_id, Rating.value, User.role)
        .join(User, Rating.rater_id == User.id)
        .join(Turn, Rating.turn_id == Turn.id)
        .join(InterviewSession, Turn.session_id == InterviewSession.id)
        .where(
            Rating.turn_id.in_(ids),
            Rating.value != 0,
            counted_vote(Rating.rater_id, InterviewSession.candidate_id, User.role),
        )
    ):
        votes[turn_id][0 if value > 0 else 1] += 1
        roles[turn_id].add(str(getattr(role, "value", role)))
    wanted: dict[str, dict[str, Any]] = {}
    for turn_id, (up, down) in votes.items():
        turn = turns.get(turn_id)
        if turn is None or up == down:
            continue
        wanted[f"kto:{turn_id}"] = {
            "kind": "kto",
            "source": "rating",
            "session_id": turn.session_id,
            "turn_id": turn_id,
            "other_turn_id": None,
            "correction_id": None,
            "prompt": turn.prompt,
            "prompt_hash": prompt_hash(turn.prompt),
            "chosen": None,
            "rejected": None,
            "completion": turn.completion,
            "label": up > down,
            "model_version": turn.model_version,
            "rater_role": ",".join(sorted(roles[turn_id]))[:20],
        }
    for correction_id, turn_id, feedback in session.execute(
        select(Correction.id, Correction.turn_id, Correction.feedback)
        .where(Correction.turn_id.in_(ids))
        .order_by(Correction.id)
    ):
        turn = turns.get(turn_id)
        if turn is None:
            continue
        chosen, rejected = completion_text(feedback), turn.completion
        key = f"correction:{turn_id}:{_digest(chosen)}"
        if chosen == rejected or key in wanted:
            continue
        wanted[key] = {
            "kind": "pair",
            "source": "correction",
            "session_id": turn.session_id,
            "turn_id": turn_id,
            "other_turn_id": None,
            "correction_id": correction_id,
            "prompt": turn.prompt,
            "prompt_hash": prompt_hash(turn.prompt),
            "chosen": chosen,
            "rejected": rejected,
            "completion": None,
            "label": None,
            "model_version": turn.model_version,
            "rater_role": "recruiter",
        }
    wanted.update(_retry_pairs(session, ids))
    existing = {
        row.dedup_key: row
        for row in session.scalars(
            select(PreferencePair).where(
                or_(PreferencePair.turn_id.in_(ids), PreferencePair.other_turn_id.in_(ids))
            )
        )
    }
    _apply(session, wanted, {k: r for k, r in existing.items() if r.source != "ratings"}, result)
    session.flush()
    hashes = {row["prompt_hash"] for row in wanted.values() if row["kind"] == "kto"}
    _apply(
        session,
        _rating_pairs(session, hashes, set(ids)),
        {k: r for k, r in existing.items() if r.source == "ratings"},
        result,
    )
    return result


def _retry_pairs(session: Session, ids: list[int]) -> dict[str, dict[str, Any]]:
    """First attempt vs each later attempt at the same question, for attempts that involve ``ids``."""
    later = session.execute(
        select(Turn.id, Turn.attempt_of).where(
            Turn.attempt_of.is_not(None), or_(Turn.id.in_(ids), Turn.attempt_of.in_(ids)),
            Turn.feedback.is_not(None), Turn.answer.is_not(None), Turn.answer != "")
    ).all()
    if not later:
        return {}
    wanted_ids = {turn_id for row in later for turn_id in row}
    turns = {row.id: row for row in session.execute(
        select(Turn.id, Turn.session_id, Turn.question, Turn.answer, Turn.feedback, Turn.model_version,
               InterviewSession.role, InterviewSession.kind, InterviewSession.level)
        .join(InterviewSession, Turn.session_id == InterviewSession.id)
        .where(Turn.id.in_(wanted_ids), Turn.feedback.is_not(None), Turn.answer.is_not(None), Turn.answer != "")
    )}
    wanted: dict[str, dict[str, Any]] = {}
    for later_id, first_id in later:
        first, second = turns.get(first_id), turns.get(later_id)
        if first is None or second is None or first.feedback["score"] == second.feedback["score"]:
            continue
        chosen, rejected = (second, first) if second.feedback["score"] > first.feedback["score"] else (first, second)
        prompt = answer_messages(role=first.role, kind=first.kind, level=first.level, question=first.question)
        wanted[f"retry:{first_id}:{later_id}"] = {
            "kind": "pair",
            "source": "retry",
            "session_id": first.session_id,
            "turn_id": chosen.id,
            "other_turn_id": rejected.id,
            "correction_id": None,
            "prompt": prompt,
            "prompt_hash": prompt_hash(prompt),
            "chosen": chosen.answer,
            "rejected": rejected.answer,
            "completion": None,
            "label": None,
            "model_version": chosen.model_version,  # the grader that scored them
            "rater_role": "grader",
        }
    return wanted


def _rating_pairs(session: Session, hashes: set[str], ids: set[int]) -> dict[str, dict[str, Any]]:
    """👍 output vs 👎 output for the same prompt, for pairs that involve at least one of ``ids``."""
    if not hashes:
        return {}
    groups: dict[str, tuple[list[PreferencePair], list[PreferencePair]]] = defaultdict(lambda: ([], []))
    for row in session.scalars(
        select(PreferencePair)
        .where(PreferencePair.kind == "kto", PreferencePair.prompt_hash.in_(hashes))
        .order_by(PreferencePair.turn_id)
    ):
        groups[row.prompt_hash or ""][0 if row.label else 1].append(row)
    wanted: dict[str, dict[str, Any]] = {}
    for good_rows, bad_rows in groups.values():
        made = 0
        for good in good_rows:
            for bad in bad_rows:
                if made >= MAX_PAIRS_PER_PROMPT or good.completion == bad.completion:
                    continue
                if good.turn_id not in ids and bad.turn_id not in ids:
                    continue
                made += 1
                raters = {*(good.rater_role or "").split(","), *(bad.rater_role or "").split(",")} - {""}
                wanted[f"ratings:{good.turn_id}:{bad.turn_id}"] = {
                    "kind": "pair",
                    "source": "ratings",
                    "session_id": good.session_id,
                    "turn_id": good.turn_id,
                    "other_turn_id": bad.turn_id,
                    "correction_id": None,
                    "prompt": good.prompt,
                    "prompt_hash": good.prompt_hash,
                    "chosen": good.completion,
                    "rejected": bad.completion,
                    "completion": None,
                    "label": None,
                    "model_version": good.model_version,
                    "rater_role": ",".join(sorted(raters))[:20],
                }
    return wanted


def _apply(
    session: Session,
    wanted: dict[str, dict[str, Any]],
    existing: dict[str, PreferencePair],
    result: BuildResult,
) -> None:
    for key, values in wanted.items():
        row = existing.get(key)
        if row is None:
            session.add(PreferencePair(dedup_key=key, **values))
            result.created += 1
            continue
        changed = {name: value for name, value in values.items() if getattr(row, name) != value}
        if changed:
            for name, value in changed.items():
                setattr(row, name, value)
            if changed.keys() & set(CONTENT):
                row.created_at = utcnow()  # new training signal: counts toward the next retraining
            result.updated += 1
    for key, row in existing.items():
        if key not in wanted:
            session.delete(row)
            result.removed += 1

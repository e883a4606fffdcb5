"""Forgetting a person, everywhere the store keeps them.

Deleting the user row removes, by ``ON DELETE CASCADE``, their sessions, answers, ratings,
corrections and the preference data made from them. Copies of their signals can also wait in the
outbox or sit in the dead-letter table; those are scrubbed here. A tombstone (a hash of the
identity and the time) lets the background side drop messages still in flight from before the
request, so a late rating cannot bring the person back.

Other candidates' stored prompts (``Turn.prompt``, the messages sent to the model, kept for
audit and debugging) can hold the person's answers too: a recruiter-corrected or liked answer
is shown to the model as a few-shot exemplar when someone else's answer is graded. Those
exemplar messages (the person's answer and the feedback on it) are replaced by a marker in every
other turn's prompt of the same role and kind. (Training data never reads ``Turn.prompt``: it
rebuilds prompts from the turn's own fields, without exemplars.) Gemini exemplar sets in the
registry (and their JSON copy) lose the person's answers the same way.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, event, func, or_, select, update
from sqlalchemy.orm import Session

from bot.store.models import (
    Correction,
    DeadLetter,
    InterviewSession,
    ModelVersion,
    OutboxMessage,
    PipelineState,
    PreferencePair,
    Rating,
    SurveyResponse,
    Turn,
    User,
    as_utc,
    utcnow,
)

TOMBSTONE_PREFIX = "forgotten:"
# Called after every deletion, so caches of stored text in this process (the few-shot exemplar
# cache, ``bot.store.exemplars``) drop what they hold at once instead of at their next refresh.
ON_FORGET: list[Callable[[], None]] = []
REMOVED_EXEMPLAR = "[removed: an example from a person who asked to be forgotten]"
# A bare answer text shorter than this is too common to look for outside its <answer> block.
MIN_BARE_MATCH = 40
PAGE = 500
# Where people come from (``User.platform``): the chat adapters' names and the terminal's.
PLATFORMS = ("slack", "discord", "console")
PLATFORM_ALIASES = {"terminal": "console"}


def platform_named(name: str) -> str | None:
    """The stored platform for what an operator typed ("Slack", "terminal"), or None."""
    key = name.strip().lower()
    key = PLATFORM_ALIASES.get(key, key)
    return key if key in PLATFORMS else None


def tombstone_key(platform: str, user_id: str) -> str:
    return TOMBSTONE_PREFIX + hashlib.sha256(f"{platform}:{user_id}".encode()).hexdigest()


def people_in(payload: Any) -> Iterable[tuple[str, str]]:
    """Every ``{"platform": ..., "user_id": ...}`` inside a signal payload (rater, recruiter, ...)."""
    if isinstance(payload, dict):
        platform, user_id = payload.get("platform"), payload.get("user_id")
        if isinstance(platform, str) and isinstance(user_id, str | int):
            yield platform, str(user_id)
        for value in payload.values():
            yield from people_in(value)
    elif isinstance(payload, list):
        for value in payload:
            yield from people_in(value)


def _mentions(payload: Any, person: tuple[str, str], turn_ids: set[int]) -> bool:
    if person in set(people_in(payload)):
        return True
    turn_id = payload.get("turn_id") if isinstance(payload, dict) else None
    return isinstance(turn_id, int) and turn_id in turn_ids


@dataclass(frozen=True)
class Forgotten:
    """What one deletion removed, counted before the cascade (so ``forget`` can say so)."""

    users: int = 0
    sessions: int = 0
    turns: int = 0
    ratings: int = 0
    corrections: int = 0
    survey_responses: int = 0
    preference_pairs: int = 0
    outbox_messages: int = 0
    dead_letters: int = 0
    scrubbed_prompts: int = 0  # other candidates' stored prompts that showed this person's answers
    scrubbed_exemplar_sets: int = 0  # Gemini exemplar sets in the registry that held their answers

    def __bool__(self) -> bool:
        return any(vars(self).values())

    def summary(self) -> str:
        """"1 user, 2 sessions, 5 turns, 1 rating": what was there, in that order."""
        return ", ".join(f"{n} {name.replace('_', ' ').removesuffix('s') if n == 1 else name.replace('_', ' ')}"
                         for name, n in vars(self).items() if n)


def _count(session: Session, model: type, *where: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _plain_forms(answers: Iterable[str], names: tuple[str | None, ...]) -> set[str]:
    """An answer as copies of it can hold it: as typed, redacted for an exemplar
    (``bot.store.exemplars``), and redacted again for a Gemini exemplar set; by today's rules
    and by the rules copies made before 2026-12-03 were redacted with (``legacy``)."""
    from chains.redact import redact, redact_patterns

    forms: set[str] = set()
    for answer in answers:
        forms.add(answer.strip())
        for legacy in (False, True):
            redacted = redact(answer, names, legacy=legacy)
            forms |= {redacted.strip(), redact_patterns(redacted, legacy=legacy).strip()}
    return forms - {""}


def _shown_forms(plain: set[str]) -> tuple[set[str], set[str]]:
    """How an answer appears in another candidate's prompt as a few-shot exemplar: escaped inside
    ``<answer>`` tags (``chains.llm.safety``). Exact ``<answer>`` blocks, and bare texts long
    enough not to match by chance."""
    blocks: set[str] = set()
    bare: set[str] = set()
    for variant in plain:
        escaped = html.escape(variant, quote=False)
        blocks.add(f"<answer>\n{escaped}\n</answer>")
        bare.update(text for text in (escaped, variant) if len(text) >= MIN_BARE_MATCH)
    return blocks, bare


def _scrubbed(prompt: str, blocks: set[str], bare: set[str]) -> str | None:
    """``prompt`` (JSON messages) with every exemplar pair showing one of the texts replaced; None
    when nothing in it is the person's. The system message and the graded answer (the last) stay."""
    needles = blocks | bare

    def theirs(text: object) -> bool:
        return isinstance(text, str) and any(needle in text for needle in needles)

    try:
        messages = json.loads(prompt)
    except ValueError:
        messages = None
    if not isinstance(messages, list):
        return REMOVED_EXEMPLAR if theirs(prompt) else None
    changed = False
    for i in range(1, len(messages) - 1):  # the few-shot messages sit between system and the answer
        message = messages[i]
        if isinstance(message, dict) and message.get("role") == "user" and theirs(message.get("content")):
            message["content"] = REMOVED_EXEMPLAR
            reply = messages[i + 1] if i + 1 < len(messages) - 1 else None
            if isinstance(reply, dict) and reply.get("role") == "assistant":
                reply["content"] = REMOVED_EXEMPLAR  # the feedback on their answer (may quote it)
            changed = True
    return json.dumps(messages, ensure_ascii=False) if changed else None


def their_answers(session: Session, user_pk: int, names: tuple[str | None, ...]) -> set[str]:
    """Every answer the person gave, in each form a copy elsewhere can hold it (``_plain_forms``)."""
    theirs = select(InterviewSession.id).where(InterviewSession.candidate_id == user_pk)
    answers = session.scalars(select(Turn.answer).where(Turn.session_id.in_(theirs), Turn.answer.is_not(None)))
    return _plain_forms(answers, names)


def scrub_prompts(session: Session, user_pk: int, plain: set[str]) -> int:
    """Take one person's answers (``their_answers``) out of the prompts stored with other
    candidates' turns; how many changed.

    Exemplars come from sessions of the same role and kind only, so only those prompts are read.
    """
    if not plain:
        return 0
    blocks, bare = _shown_forms(plain)
    kinds = set(session.execute(
        select(InterviewSession.role, InterviewSession.kind).where(InterviewSession.candidate_id == user_pk)))
    changed = 0
    for role, kind in kinds:
        last = 0
        while True:  # a page at a time (keyset), so memory stays flat however many prompts there are
            rows = session.execute(
                select(Turn.id, Turn.prompt)
                .join(InterviewSession, InterviewSession.id == Turn.session_id)
                .where(InterviewSession.role == role, InterviewSession.kind == kind,
                       InterviewSession.candidate_id != user_pk, Turn.prompt.is_not(None), Turn.id > last)
                .order_by(Turn.id)
                .limit(PAGE)
            ).all()
            if not rows:
                break
            last = rows[-1][0]
            for turn_id, prompt in rows:
                clean = _scrubbed(prompt, blocks, bare)
                if clean is not None:
                    session.execute(update(Turn).where(Turn.id == turn_id).values(prompt=clean))
                    changed += 1
    return changed


def scrub_exemplar_sets(session: Session, plain: set[str]) -> int:
    """Take one person's answers out of the Gemini exemplar sets in the registry (the snapshot in
    ``model_versions.data_snapshot`` that a live set is served from, and its JSON copy when it is on
    this machine); how many sets changed. A changed set gets a new ``revision``, so every replica's
    ``RegistryExemplars`` drops its cached copy."""
    if not plain:
        return 0
    changed = 0
    for version in session.scalars(select(ModelVersion).where(ModelVersion.backend == "gemini")):
        snapshot = dict(version.data_snapshot or {})
        groups = snapshot.get("exemplar_set")
        if not isinstance(groups, dict):
            continue
        kept = {
            key: [item for item in items
                  if not (isinstance(item, dict) and str(item.get("answer", "")).strip() in plain)]
            for key, items in groups.items() if isinstance(items, list)
        }
        kept = {key: items for key, items in kept.items() if items}
        if kept == groups:
            continue
        version.data_snapshot = {
            **snapshot, "exemplar_set": kept, "groups": len(kept),
            "exemplars": sum(len(items) for items in kept.values()),
            "revision": int(snapshot.get("revision") or 0) + 1,
        }
        _rewrite_copy(version.artifact, version.name, kept)
        changed += 1
    return changed


def _rewrite_copy(artifact: str | None, name: str, groups: dict[str, Any]) -> None:
    """The exemplar set's JSON copy (``tasks.training.gemini_backend.write_exemplar_set``), rewritten
    owner-only, when it is a file on this machine."""
    if not artifact or not artifact.endswith(".json") or not os.path.isfile(artifact):
        return
    fd = os.open(artifact, os.O_WRONLY | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps({"name": name, "groups": groups}, indent=2, ensure_ascii=False))


def forget_person(session: Session, platform: str, user_id: str) -> Forgotten:
    """Delete everything about one person; what was removed, true when anything was stored."""
    person = (platform, str(user_id))
    user_pk = session.scalar(
        select(User.id).where(User.platform == platform, User.platform_user_id == user_id)
    )
    turn_ids: set[int] = set()
    counts: dict[str, int] = {}
    if user_pk is not None:
        sessions = select(InterviewSession.id).where(InterviewSession.candidate_id == user_pk)
        turns = select(Turn.id).where(Turn.session_id.in_(sessions))
        turn_ids = set(session.scalars(turns))
        corrections = select(Correction.id).where(
            or_(Correction.turn_id.in_(turns), Correction.recruiter_id == user_pk))
        counts = {
            "users": 1,
            "sessions": _count(session, InterviewSession, InterviewSession.candidate_id == user_pk),
            "turns": len(turn_ids),
            "ratings": _count(session, Rating, or_(Rating.turn_id.in_(turns), Rating.rater_id == user_pk)),
            "corrections": _count(session, Correction, Correction.id.in_(corrections)),
            "survey_responses": _count(session, SurveyResponse, SurveyResponse.session_id.in_(sessions)),
            "preference_pairs": _count(session, PreferencePair, or_(
                PreferencePair.session_id.in_(sessions), PreferencePair.turn_id.in_(turns),
                PreferencePair.other_turn_id.in_(turns), PreferencePair.correction_id.in_(corrections))),
        }
    for table, name in ((OutboxMessage, "outbox_messages"), (DeadLetter, "dead_letters")):
        doomed = [
            row_id
            for row_id, payload in session.execute(select(table.id, table.payload))
            if _mentions(payload, person, turn_ids)
        ]
        if doomed:
            session.execute(delete(table).where(table.id.in_(doomed)))
        counts[name] = len(doomed)
    if user_pk is not None:
        user = session.get(User, user_pk)
        names = (user.display_name, user.platform_user_id) if user is not None else (user_id,)
        plain = their_answers(session, user_pk, names)
        counts["scrubbed_prompts"] = scrub_prompts(session, user_pk, plain)
        counts["scrubbed_exemplar_sets"] = scrub_exemplar_sets(session, plain)
        session.execute(delete(User).where(User.id == user_pk))
    key = tombstone_key(platform, user_id)
    stone = session.get(PipelineState, key)
    if stone is None:
        session.add(PipelineState(key=key, value={"at": utcnow().isoformat()}))
    else:
        stone.value = {"at": utcnow().isoformat()}
    # once the deletion is committed: a cache refilled before that would read the person again
    event.listen(session, "after_commit", _run_forget_hooks, once=True)
    return Forgotten(**counts)


def _run_forget_hooks(session: Session) -> None:
    for hook in ON_FORGET:
        hook()


def stone_moment(value: Any) -> datetime:
    """When a deletion request (a tombstone's stored value) was made. One without a readable
    time covers everything, so nothing sent by that person can bring them back."""
    at = value.get("at") if isinstance(value, dict) else None
    try:
        moment = datetime.fromisoformat(at) if isinstance(at, str) else datetime.max
    except ValueError:
        moment = datetime.max
    return as_utc(moment)


def forgotten_at(session: Session, platform: str, user_id: str) -> datetime | None:
    """When this person asked to be forgotten (the latest request), or None."""
    stone = session.get(PipelineState, tombstone_key(platform, user_id))
    return None if stone is None else stone_moment(stone.value)

"""Forgetting, checked the way an auditor would: after ``forget`` no table, no column and no
fresh export holds anything of the person, even where their answer had become a few-shot
exemplar in another candidate's stored grading prompt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.app import build_engine
from bot.engine import Actor, InterviewEngine
from bot.store.db import Database
from bot.store.models import Base, Turn
from chains.providers.offline import OfflineProvider
from tasks.data import export, preferences
from tasks.pipeline.dispatch import InProcessSink
from tests.conftest import make_settings
from tests.fakes.llm_env import KEYS, env_for
from tests.fakes.openai_server import FakeOpenAI

PHRASE = "Zanzibar quokka ledger"
ALICE = Actor("slack", "U0ALICE77", display_name="Alice Marchetti")
BRUNO = Actor("slack", "U0BRUNO55", display_name="Bruno Keller")
RECRUITER = Actor("slack", "U0RECRUIT9", display_name="Rita Recruiter")
ALICE_ANSWER = (
    f"At my last company I owned the {PHRASE} service: checkout failed 3% of the time, so I traced the "
    "retries, added idempotency keys and rolled the fix out behind a flag; failures fell to 0.2% in two "
    "weeks, and I wrote the runbook. Reach me at alice.marchetti@example.org."
)
BRUNO_ANSWER = (
    "When our nightly import kept timing out I profiled it, batched the writes and added an index; the "
    "run went from four hours to twenty minutes and I shared the profile with the team."
)


def _stringify(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def everything_stored(db: Database) -> dict[str, list[str]]:
    """Every value of every column of every row of every table, as text, by table name."""
    out: dict[str, list[str]] = {}
    with db.session() as session:
        for table in Base.metadata.sorted_tables:
            rows = session.execute(select(table)).all()
            out[table.name] = [_stringify(value) for row in rows for value in row if value is not None]
    return out


def found(needles: tuple[str, ...], haystacks: dict[str, list[str]]) -> list[str]:
    return [f"{where}: {needle!r} in {text[:200]!r}"
            for where, texts in haystacks.items() for text in texts
            for needle in needles if needle.lower() in text.lower()]


def test_nothing_of_a_forgotten_person_is_left_in_any_table_or_export(database: Database, tmp_path: Path) -> None:
    settings = make_settings(RECRUITERS="slack:U0RECRUIT9")
    # Alice's interview: her answer, her 👍 and a recruiter's correction make it an exemplar.
    offline = InterviewEngine(database, OfflineProvider(), settings, signals=InProcessSink(database))
    started = offline.start(ALICE, role="backend", kind="behavioral", level="mid", questions=1)
    graded = offline.answer(started.session.id, ALICE, ALICE_ANSWER).graded
    assert graded is not None and graded.feedback is not None
    offline.rate(graded.id, ALICE, 1)
    offline.correct(graded.id, RECRUITER, graded.feedback.model_copy(update={"summary": "Recruiter: strong."}))

    # Bruno is graded by a model whose prompt shows Alice's (redacted) answer as a few-shot exemplar.
    with FakeOpenAI(api_key=KEYS["openai"]) as llm:
        model_settings = make_settings(RECRUITERS="slack:U0RECRUIT9", LLM_PROVIDER="openai", LLM_FALLBACKS="",
                                       FEWSHOT_TOKEN_BUDGET=4000, **env_for("openai", llm.base_url))
        engine = build_engine(model_settings, db=database)
        started = engine.start(BRUNO, role="backend", kind="behavioral", level="mid", questions=1)
        bruno = engine.answer(started.session.id, BRUNO, BRUNO_ANSWER).graded
        assert bruno is not None
        engine.rate(bruno.id, BRUNO, 1)
    assert any(PHRASE in json.dumps(r.body) for r in llm.requests), "Alice's answer was not an exemplar"
    with database.session() as session:
        assert PHRASE in (session.get(Turn, bruno.id).prompt or "")  # stored with Bruno's turn
    preferences.build(database)
    for fmt in export.FORMATS:
        export.export(database, fmt, tmp_path / "before" / f"{fmt}.jsonl")
    before = {fmt: [(tmp_path / "before" / f"{fmt}.jsonl").read_text()] for fmt in export.FORMATS}
    needles = (PHRASE, ALICE.user_id, "alice.marchetti", "Marchetti")
    assert found(needles, everything_stored(database)), "the search finds nothing even before forgetting"
    assert found((PHRASE,), before), "the exports held nothing of Alice's to begin with"

    assert offline.forget(ALICE.platform, ALICE.user_id)

    left = found(needles, everything_stored(database))
    assert not left, "\n".join(left)
    for fmt in export.FORMATS:
        export.export(database, fmt, tmp_path / "after" / f"{fmt}.jsonl")
    after = {fmt: [(tmp_path / "after" / f"{fmt}.jsonl").read_text()] for fmt in export.FORMATS}
    left = found(needles, after)
    assert not left, "\n".join(left)
    # Bruno's data is still there: the search looks at a live database, not an empty one
    assert found(("nightly import",), everything_stored(database)) and found(("nightly import",), after)


def test_forgetting_finds_exemplars_redacted_by_the_rules_before_libphonenumber(database: Database) -> None:
    """A prompt stored before the redaction rules changed holds the answer as the old rules redacted
    it (an order number taken for a phone number); forgetting still finds it and takes it out."""
    from chains.redact import redact
    from tests.prompt_support import QUESTION, stored_grading_prompt

    answer = (f"At my last company I owned the {PHRASE} service; refund order 1234567890 failed twice, "
              "so I added idempotency keys and the failures stopped within a week.")
    old, new = redact(answer, (ALICE.display_name, ALICE.user_id), legacy=True), redact(answer)
    assert "order [PHONE]" in old and "order 1234567890" in new  # the rules did change for this answer
    engine = InterviewEngine(database, OfflineProvider(), make_settings(), signals=InProcessSink(database))
    started = engine.start(ALICE, role="backend", kind="behavioral", level="mid", questions=1)
    mine = engine.answer(started.session.id, ALICE, answer).graded
    started = engine.start(BRUNO, role="backend", kind="behavioral", level="mid", questions=1)
    theirs = engine.answer(started.session.id, BRUNO, BRUNO_ANSWER).graded
    assert mine is not None and mine.feedback is not None and theirs is not None

    stored, _ = stored_grading_prompt(BRUNO_ANSWER, [(QUESTION.text, old, mine.feedback)])
    assert PHRASE in stored and "order [PHONE]" in stored
    with database.session() as session:
        session.get(Turn, theirs.id).prompt = stored

    assert engine.forget(ALICE.platform, ALICE.user_id)
    left = found((PHRASE, ALICE.user_id), everything_stored(database))
    assert not left, "\n".join(left)
    assert found(("nightly import",), everything_stored(database))

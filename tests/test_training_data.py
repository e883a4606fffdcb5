"""Training files and the ``sft`` export format: checked rows, a leak-free held-out split, redaction. No torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.engine import Actor, InterviewEngine
from bot.store.db import Database
from chains.schemas import Feedback
from tasks.data import export, preferences
from tasks.training import data, entry
from tasks.training.feedback_json import parse_feedback
from tests.training_support import dpo_rows, kto_rows, write_jsonl

ANSWER = (
    "At my last job I, Cara Candidate (cara@example.com), led a migration: I wrote the runbook and "
    "cut latency by 40% in two weeks."
)


def test_load_splits_by_prompt_and_describes_the_snapshot(tmp_path: Path) -> None:
    loaded = data.load(write_jsonl(tmp_path / "kto.jsonl", kto_rows()), "kto")
    assert loaded.snapshot["rows"] == len(kto_rows()) == len(loaded.train) + len(loaded.heldout)
    train_prompts = {data.prompt_key(r) for r in loaded.train}
    heldout_prompts = {data.prompt_key(r) for r in loaded.heldout}
    assert heldout_prompts and not train_prompts & heldout_prompts  # both KTO rows of a prompt stay together
    assert len(loaded.snapshot["sha256"]) == 64 and loaded.snapshot["desirable"] == len(kto_rows()) // 2
    again = data.load(tmp_path / "kto.jsonl", "kto")
    assert [r["prompt"] for r in again.heldout] == [r["prompt"] for r in loaded.heldout]  # deterministic


def test_every_export_shape_is_accepted(tmp_path: Path) -> None:
    row = dpo_rows()[0]
    openai_row = data.to_openai_preference(row)
    assert set(openai_row) == {"input", "preferred_output", "non_preferred_output"}
    assert data.normalise(openai_row, "dpo") == row
    chat = {"messages": row["prompt"] + row["chosen"]}
    assert data.normalise(chat, "sft") == {"prompt": row["prompt"], "completion": row["chosen"]}
    assert data.to_openai_chat(data.normalise(chat, "sft")) == chat
    plain = data.normalise({"prompt": "Grade this.", "chosen": "{}", "rejected": "no"}, "dpo")
    assert plain["prompt"] == [{"role": "user", "content": "Grade this."}]
    assert plain["rejected"] == [{"role": "assistant", "content": "no"}]


@pytest.mark.parametrize(
    ("line", "method", "message"),
    [
        ("{not json", "dpo", "line 2: not JSON"),
        ('{"prompt": [], "chosen": "a", "rejected": "b"}', "dpo", "line 2: empty prompt"),
        ('{"prompt": "p", "completion": "c"}', "kto", "line 2: missing label for method kto"),
        ('{"prompt": "p", "completion": "c", "label": "yes"}', "kto", "'label' must be true or false"),
        (
            '{"prompt": [{"role": "user"}], "chosen": "a", "rejected": "b"}',
            "dpo",
            "string 'role' and 'content'",
        ),
        (
            '{"prompt": "p", "chosen": [{"role": "user", "content": "x"}], "rejected": "b"}',
            "dpo",
            "'chosen' must be one assistant message",
        ),
        ('{"input": "x", "preferred_output": [], "non_preferred_output": []}', "dpo", "OpenAI preference row"),
        ('{"input": {"messages": []}, "preferred_output": []}', "dpo", "OpenAI preference row"),
        ('{"prompt": "p"}', "sft", r"missing completion for method sft \(did you export --format sft\?\)"),
    ],
)
def test_a_bad_line_is_named_and_nothing_loads(tmp_path: Path, line: str, method: str, message: str) -> None:
    good = json.dumps(kto_rows()[0] if method == "kto" else dpo_rows()[0])
    path = tmp_path / "bad.jsonl"
    path.write_text(f"{good}\n{line}\n", encoding="utf-8")
    with pytest.raises(data.DataError, match=message):
        data.load(path, method)  # type: ignore[arg-type]


def test_missing_or_tiny_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(data.DataError, match="does not exist"):
        data.load(tmp_path / "nope.jsonl", "dpo")
    with pytest.raises(data.DataError, match="holds no rows"):
        data.load(write_jsonl(tmp_path / "empty.jsonl", []), "dpo")
    with pytest.raises(data.DataError, match="unknown method"):
        data.load(tmp_path / "empty.jsonl", "ppo")  # type: ignore[arg-type]


def test_feedback_json_is_read_strictly() -> None:
    wire = {
        "score": 6,
        "strengths": ["a"],
        "weaknesses": [],
        "suggestions": [],
        "summary": "ok",
        "criteria": [{"name": "depth", "score": 5}],
    }
    parsed = parse_feedback(json.dumps(wire))
    assert isinstance(parsed, Feedback) and parsed.criteria == {"depth": 5}
    assert parse_feedback("```json\n" + json.dumps(wire) + "\n```") is None  # no repair at the gate
    assert parse_feedback(json.dumps({**wire, "score": 11})) is None
    assert parse_feedback("[1, 2]") is None


def _corrected_session(engine: InterviewEngine, recruiter: Actor, user: str = "cara", answer: str = ANSWER) -> int:
    person = Actor("console", user, display_name=f"{user.title()} Candidate")
    started = engine.start(person, role="backend", kind="behavioral", questions=1)
    turn = engine.answer(started.session.id, person, answer).graded
    better = turn.feedback.model_copy(
        update={"score": 3, "weaknesses": ["No measurable result for the team."]}
    )
    engine.correct(turn.id, recruiter, better)
    return turn.id


def _sft(db: Database, path: Path) -> list[dict]:
    result = export.export(db, "sft", path)
    assert export.validate_file(path, "sft") == result.rows
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_sft_export_is_recruiter_corrections_redacted(
    engine: InterviewEngine, database: Database, recruiter: Actor, tmp_path: Path
) -> None:
    _corrected_session(engine, recruiter)
    other = Actor("console", "dan")
    started = engine.start(other, role="qa", questions=1)
    engine.rate(
        engine.answer(started.session.id, other, "I test things.").graded.id, other, 1
    )  # no correction
    preferences.build(database)
    (row,) = _sft(database, tmp_path / "sft.jsonl")
    assert set(row) == {"prompt", "completion"}
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    user = row["prompt"][1]["content"]
    assert "led a migration" in user and "[EMAIL]" in user
    assert "Cara" not in user and "cara@example.com" not in user
    feedback = parse_feedback(row["completion"][0]["content"])
    assert feedback is not None and feedback.score == 3  # the recruiter's version, in the wire JSON
    loaded = data.load(tmp_path / "sft.jsonl", "sft", heldout_fraction=0)
    assert len(loaded.train) == 1 and loaded.train[0]["completion"][0]["role"] == "assistant"


def test_sft_export_drops_forgotten_people(
    engine: InterviewEngine, database: Database, recruiter: Actor, tmp_path: Path
) -> None:
    from bot.store.models import Turn

    _corrected_session(engine, recruiter)
    _corrected_session(engine, recruiter, "eve", "I planned the offsite and kept it under budget.")
    turn = _corrected_session(engine, recruiter, "finn", "I mentored two juniors until they shipped alone.")
    ron = Actor("slack", "URECRUIT", display_name="Ron Recruiter")
    with database.session() as session:
        feedback = Feedback.model_validate(session.get(Turn, turn).feedback)
    engine.correct(turn, ron, feedback.model_copy(update={"summary": "Mentoring needs an outcome."}))
    # No preferences.build here: the export path rebuilds the preference data itself, as `retrain` does.
    before = entry.export_data(database, "sft", tmp_path / "before.jsonl").read_text(encoding="utf-8")
    assert len(before.splitlines()) == 4 and "led a migration" in before and "needs an outcome" in before
    assert engine.forget_me(Actor("console", "cara"))  # a candidate: their answer goes
    engine.forget(ron.platform, ron.user_id)  # a recruiter: the pairs made from their corrections go
    after = entry.export_data(database, "sft", tmp_path / "after.jsonl").read_text(encoding="utf-8")
    assert len(after.splitlines()) == 2
    assert "led a migration" not in after and "needs an outcome" not in after
    assert "planned the offsite" in after and "mentored two juniors" in after


def test_dataset_export_format_sft_command(
    sqlite_db: Database, recruiter: Actor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chains.providers.offline import OfflineProvider
    from tasks.pipeline.dispatch import InProcessSink
    from tests.conftest import make_settings

    engine = InterviewEngine(sqlite_db, OfflineProvider(), make_settings(), signals=InProcessSink(sqlite_db))
    _corrected_session(engine, recruiter)
    monkeypatch.setenv("DATABASE_URL", sqlite_db.url)
    out = tmp_path / "out" / "sft.jsonl"
    result = CliRunner().invoke(app, ["dataset", "export", "--format", "sft", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Wrote 1 sft rows" in result.output  # the preference data was rebuilt first
    assert json.loads(out.read_text().splitlines()[0])["completion"][0]["role"] == "assistant"
    valid = CliRunner().invoke(app, ["dataset", "validate", str(out), "--format", "sft"])
    assert valid.exit_code == 0 and "1 valid sft rows" in " ".join(valid.output.split())  # Rich wraps
    bad = CliRunner().invoke(app, ["dataset", "export", "--format", "sft", "--out", str(out), "--since", "yesterday"])
    assert bad.exit_code == 2 and "--since must be a date" in bad.output


def test_the_bots_and_the_registry_never_import_the_training_stack() -> None:
    code = (
        "import sys, bot.app, bot.cli, tasks.registry, tasks.training.entry, tasks.training.cli; "
        "heavy = [m for m in ('torch', 'transformers', 'trl', 'peft') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[1]
    )
    assert done.returncode == 0, done.stderr

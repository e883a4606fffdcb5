"""Secrets are read from the environment and never written to a log, stdout or stderr.

Every token the product knows is set to a recognisable value; full interviews then run with
the root logger at DEBUG (every library's debug output included) through the engine with the
real OpenAI provider against a fake server (retries and repairs on the way), through the
``mockingbird`` CLI in a subprocess, and through the Slack bot in HTTP mode. Nothing captured
may contain any of the values, while the fakes prove the tokens were really in use.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import build_engine
from bot.config import Settings, get_settings
from bot.engine import Actor
from bot.store.db import Database
from bot.store.models import Turn
from chains.schemas import Feedback
from tests.fakes.llm_server import MALFORMED, SERVER_ERROR
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlackAPI, SlackSender
from tests.fakes.slack_harness import CHANNEL, BoltServer, RunningBot

ROOT = Path(__file__).resolve().parent.parent
SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-SECRET-bot-1111aaaa",
    "SLACK_APP_TOKEN": "xapp-SECRET-app-2222bbbb",
    "SLACK_SIGNING_SECRET": "SECRET-signing-3333cccc",
    "DISCORD_TOKEN": "SECRET-discord-4444dddd",
    "OPENAI_API_KEY": "sk-SECRET-openai-5555eeee",
    "GOOGLE_API_KEY": "AIza-SECRET-google-6666ffff",
    "TGI_API_KEY": "SECRET-tgi-7777gggg",
}
DB_PASSWORD = "SECRET-dbpass-8888hhhh"
ANSWER = (
    "I led the migration of our billing API: I measured p99 latency before and after, added "
    "idempotency keys so retries were safe, and rolled it out behind a feature flag; errors fell 40%."
)


def assert_no_secret(text: str, where: str) -> None:
    for name, value in {**SECRETS, "DATABASE_URL password": DB_PASSWORD}.items():
        assert value not in text, f"{name} appears in {where}"
        # A token with its distinctive tail cut off is still a leak.
        assert value[:-4] not in text, f"most of {name} appears in {where}"


def _database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'secrets.db'}"
    base = request.getfixturevalue("postgres_url")  # trust auth: the password is sent, and ignored
    user_host, _, dbname = base.removeprefix("postgresql+psycopg://").partition("/")
    user, _, host = user_host.partition("@")
    return f"postgresql+psycopg://{user}:{DB_PASSWORD}@{host}/{dbname}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _database_url(request, tmp_path)


@pytest.fixture
def fake_openai() -> FakeOpenAI:
    with FakeOpenAI(api_key=SECRETS["OPENAI_API_KEY"]) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI, database_url: str) -> dict[str, str]:
    env = {
        **SECRETS,
        "DATABASE_URL": database_url,
        "LLM_PROVIDER": "openai",
        "LLM_FALLBACKS": "offline",
        "OPENAI_BASE_URL": fake_openai.base_url,
        "LLM_MAX_RETRIES": "1",
        "LOG_LEVEL": "DEBUG",
        "RECRUITERS": "console:rita",
        "TEAM_LEADS": "console:tess",
        "FOLLOW_UPS": "true",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    return env


def test_settings_never_show_secret_values(secret_env: dict[str, str]) -> None:
    settings = get_settings()
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == SECRETS["SLACK_BOT_TOKEN"]  # read from the env
    assert_no_secret(repr(settings) + str(settings) + f"{settings}", "the settings' repr")
    # A dump is an explicit export, not a log line: the URL is in it by design, the tokens are not.
    dumped = settings.model_dump_json() + json.dumps(settings.model_dump(mode="json"))
    assert_no_secret(dumped.replace(settings.database_url or "", ""), "the settings' dumps")


def test_engine_interview_logs_no_secret(
    secret_env: dict[str, str],
    fake_openai: FakeOpenAI,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: every library's debug output
    fake_openai.script(MALFORMED, SERVER_ERROR)  # a repair and a retry, with their log lines
    engine = build_engine()
    candidate = Actor("console", "cara", display_name="Cara")
    recruiter = Actor("console", "rita", display_name="Rita")
    started = engine.start(candidate, role="backend", kind="technical", level="mid", questions=2)
    progress = engine.answer(started.session.id, candidate, ANSWER)
    while progress.next_question is not None:
        progress = engine.answer(started.session.id, candidate, ANSWER)
    assert progress.report is not None
    graded = [t for t in engine.get(started.session.id).turns if t.feedback is not None]
    engine.rate(graded[0].id, candidate, 1)
    engine.correct(graded[0].id, recruiter, Feedback(score=5, summary="Needs numbers.", weaknesses=["vague"]))
    engine.survey(started.session.id, candidate, 4, "useful")
    engine.history(candidate)
    logging.getLogger("test").debug("settings at the end: %s", get_settings())

    with engine.db.session() as session:
        providers = set(session.scalars(select(Turn.provider).where(Turn.provider.is_not(None))))
    assert "openai" in providers, "the OpenAI provider graded through the fake"
    assert fake_openai.requests and all(
        r.headers.get("authorization") == f"Bearer {SECRETS['OPENAI_API_KEY']}" for r in fake_openai.requests
    )
    assert len(caplog.records) > 20, "DEBUG logging was captured"
    captured = capsys.readouterr()
    everything = caplog.text + "\n".join(r.getMessage() for r in caplog.records) + captured.out + captured.err
    assert_no_secret(everything, "the logs or output of an interview")


def test_cli_practice_prints_and_logs_no_secret(
    secret_env: dict[str, str], fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    answers = tmp_path / "answers.txt"
    answers.write_text(f"{ANSWER}\n{ANSWER}\n")
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "USER")},
        **secret_env,
        "MOCKINGBIRD_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(ROOT),
        "COLUMNS": "200",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot", "practice", "--role", "backend", "--kind", "technical", "--questions", "2",
         "--answers", str(answers), "--json", "--user", "cara"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    transcript = json.loads(result.stdout)
    assert transcript, "the interview ran"
    assert "DEBUG" in result.stderr, "debug logging was on"
    assert fake_openai.requests, "the CLI used the OpenAI provider"
    assert_no_secret(result.stdout + result.stderr, "the CLI's stdout or stderr")


def test_slack_bot_logs_no_secret(
    secret_env: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    from bot.slack.app import build_app

    caplog.set_level(logging.DEBUG)
    with FakeSlackAPI() as fake:
        settings = Settings(SLACK_API_URL=fake.url, DEFAULT_QUESTIONS=2, FOLLOW_UPS=False)
        settings.ensure_data_dir()
        db = Database(settings.resolved_database_url)
        db.upgrade()
        engine = build_engine(settings, db=db)
        app = build_app(engine, settings, workers=8)
        server = BoltServer(app).start()
        try:
            bot = RunningBot(
                fake, SlackSender(server.url, SECRETS["SLACK_SIGNING_SECRET"], fake), server, engine
            )
            thread = bot.start_interview("UCAND", "backend technical mid 2")
            bot.answer("UCAND", thread)
            fake.wait_for(
                lambda: any("Question 2 of 2" in c.params.get("text", "") for c in bot.thread_posts(thread)),
                what="the second question",
            )
            bot.answer("UCAND", thread)
            forged = SlackSender(server.url, "wrong-secret", fake).command(
                "/interview", "backend", "UCAND", CHANNEL
            )
            assert forged.status == 401  # signature verification is on
        finally:
            server.stop()
            app.listener_runner.listener_executor.shutdown(wait=True)  # type: ignore[attr-defined]
            db.dispose()
        assert any(
            c.headers.get("authorization") == f"Bearer {SECRETS['SLACK_BOT_TOKEN']}" for c in fake.calls
        )
    captured = capsys.readouterr()
    everything = caplog.text + "\n".join(r.getMessage() for r in caplog.records) + captured.out + captured.err
    assert_no_secret(everything, "the Slack bot's logs or output")

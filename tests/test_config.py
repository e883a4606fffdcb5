"""Configuration comes from the environment and .env, with safe embedded defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings


def test_defaults_need_no_keys_and_no_servers() -> None:
    settings = Settings()
    assert settings.llm_provider == "offline"
    assert settings.tasks_in_process and settings.redis_url is None
    assert settings.resolved_database_url.startswith("sqlite:///")


def test_environment_lists_and_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECRUITERS", "slack:U1, discord:42 ,")
    monkeypatch.setenv("LLM_FALLBACKS", "gemini,openai,offline")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    settings = Settings()
    assert settings.recruiters == ["slack:U1", "discord:42"]
    assert settings.llm_fallbacks == ["gemini", "openai", "offline"]
    assert not settings.tasks_in_process
    assert "sk-very-secret" not in repr(settings) and "sk-very-secret" not in str(settings.model_dump())
    assert settings.openai_api_key is not None and settings.openai_api_key.get_secret_value() == "sk-very-secret"


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LLM_PROVIDER=gemini\nMAX_QUESTIONS=5\n")
    settings = Settings()
    assert settings.llm_provider == "gemini" and settings.max_questions == 5


def test_env_example_documents_every_setting() -> None:
    example = (Path(__file__).parents[1] / ".env.example").read_text()
    missing = [field.alias for field in Settings.model_fields.values() if field.alias and field.alias not in example]
    assert missing == []


@pytest.mark.parametrize(
    "env,message",
    [
        ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL must be DEBUG"),
        ({"MAX_QUESTIONS": "abc"}, "MAX_QUESTIONS"),
        ({"DEFAULT_QUESTIONS": "15", "MAX_QUESTIONS": "10"}, "DEFAULT_QUESTIONS (15) is more than MAX_QUESTIONS"),
    ],
)
def test_a_bad_setting_is_named_not_a_traceback(
    env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from bot.cli import app
    from bot.config import get_settings

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["bank", "stats"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "Configuration error" in result.output and message in " ".join(result.output.split())


def test_log_level_is_case_insensitive() -> None:
    assert Settings(LOG_LEVEL="warning").log_level == "WARNING"


@pytest.mark.parametrize("entries", ["slack:U0ABC", "discord:112233445566778899, slack:S0GROUP", "console:rita", ""])
def test_role_entries_name_their_platform(entries: str) -> None:
    assert Settings(RECRUITERS=entries, TEAM_LEADS=entries).recruiters == [e.strip() for e in entries.split(",") if e]


@pytest.mark.parametrize("entries", ["U0ABC", "slack:U1,1122334455", "Slack:U0ABC", "teams:U1", "slack:", "slack:U 1"])
def test_a_role_entry_without_its_platform_is_refused_not_silently_matching_nobody(entries: str) -> None:
    from pydantic import ValidationError

    for name in ("RECRUITERS", "TEAM_LEADS"):
        with pytest.raises(ValidationError, match=f"{name} entries are platform:id, e.g. slack:U0ABC or discord:"):
            Settings(**{name: entries})


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://:pw@cache.example:6380/1", "unix:///run/r.sock"])
def test_redis_urls_that_work(url: str) -> None:
    assert Settings(REDIS_URL=url).redis_url == url


def test_an_empty_redis_url_means_in_process() -> None:
    assert Settings(REDIS_URL="  ").tasks_in_process


@pytest.mark.parametrize("url,message", [("127.0.0.1:6379", "must start with redis://"),
                                         ("http://127.0.0.1:6379", "got http://"),
                                         ("redis://:pw@host:six/0", "REDIS_URL is not a URL")])
def test_a_redis_url_celery_cannot_use_is_refused(url: str, message: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message) as caught:
        Settings(REDIS_URL=url)
    assert "pw@" not in caught.value.errors()[0]["msg"]  # the message the CLI prints


def test_the_default_data_dir_is_the_users_wherever_the_command_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """platformdirs' user data directory, not ``data/`` under the current one: ``practice --resume``
    from another folder finds the session; only a command that writes creates the directory."""
    import json

    from typer.testing import CliRunner

    from bot.app import build_engine
    from bot.cli import app
    from bot.config import get_settings
    from bot.engine import Actor

    monkeypatch.delenv("MOCKINGBIRD_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    expected = tmp_path / "xdg" / "mockingbird"
    settings = Settings()
    assert settings.data_dir == expected
    assert settings.resolved_database_url == f"sqlite:///{expected / 'mockingbird.db'}"
    assert not expected.exists()  # resolving the URL creates nothing

    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    monkeypatch.chdir(first)
    get_settings.cache_clear()
    cara = Actor("console", "cara", display_name="cara")
    started = build_engine().start(cara, role="backend", kind="behavioral", level="mid", questions=1)
    assert (expected / "mockingbird.db").is_file() and list(first.iterdir()) == []

    monkeypatch.chdir(second)
    get_settings.cache_clear()
    answers = tmp_path / "answers.txt"
    answers.write_text("I led the migration, measured the error rate and cut it by half.\n")
    result = CliRunner().invoke(app, ["practice", "--resume", "--user", "cara", "--answers", str(answers), "--json"])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["session"]["id"] == started.session.id
    assert list(second.iterdir()) == []


def test_mockingbird_data_dir_still_overrides_and_a_file_there_is_named(tmp_path: Path) -> None:
    from bot.errors import FixableError

    (tmp_path / "taken").write_text("")
    settings = Settings(MOCKINGBIRD_DATA_DIR=str(tmp_path / "taken"))
    assert settings.data_dir == tmp_path / "taken"
    with pytest.raises(FixableError, match="is a file, not a directory"):
        settings.ensure_data_dir()
    assert Settings(MOCKINGBIRD_DATA_DIR=str(tmp_path / "a" / "b")).ensure_data_dir().is_dir()

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

"""One configuration object, read from the environment and ``.env``.

Every variable is documented in ``.env.example``; README's configuration table mirrors it.
Secrets are ``SecretStr`` so they never appear in a repr or a log line.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Storage and background work
    data_dir: Path = Field(default=Path("data"), alias="MOCKINGBIRD_DATA_DIR")
    # URLs may carry passwords: kept out of repr() so a logged Settings shows none.
    database_url: str | None = Field(default=None, alias="DATABASE_URL", repr=False)
    redis_url: str | None = Field(default=None, alias="REDIS_URL", repr=False)
    # Celery queue name (one per deployment, or per test run) and how long an unacknowledged
    # message waits before Redis hands it to another worker (longer than the longest task).
    celery_queue: str = Field(default="mockingbird", min_length=1, alias="CELERY_QUEUE")
    celery_visibility_timeout_s: int = Field(default=3600, ge=1, alias="CELERY_VISIBILITY_TIMEOUT")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    retention_days: int = Field(default=0, ge=0, alias="RETENTION_DAYS")

    # Interview behaviour
    max_answer_chars: int = Field(default=4000, ge=200, alias="MAX_ANSWER_CHARS")
    max_questions: int = Field(default=10, ge=1, le=30, alias="MAX_QUESTIONS")
    default_questions: int = Field(default=3, ge=1, alias="DEFAULT_QUESTIONS")
    follow_ups: bool = Field(default=False, alias="FOLLOW_UPS")

    # Roles: entries are "platform:id", where id is a user id or a group / role id.
    recruiters: CommaList = Field(default_factory=list, alias="RECRUITERS")
    team_leads: CommaList = Field(default_factory=list, alias="TEAM_LEADS")

    # LLM providers
    llm_provider: str = Field(default="offline", alias="LLM_PROVIDER")
    llm_fallbacks: CommaList = Field(default_factory=lambda: ["offline"], alias="LLM_FALLBACKS")
    llm_timeout_s: float = Field(default=30.0, gt=0, alias="LLM_TIMEOUT_S")
    llm_max_retries: int = Field(default=2, ge=0, alias="LLM_MAX_RETRIES")
    fewshot_token_budget: int = Field(default=1200, ge=0, alias="FEWSHOT_TOKEN_BUDGET")
    openai_api_key: SecretStr | None = Field(default=None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    openai_model: str = Field(default="gpt-4o-mini", alias="OPENAI_MODEL")
    openai_structured_output: str = Field(default="json_schema", alias="OPENAI_STRUCTURED_OUTPUT")
    google_api_key: SecretStr | None = Field(default=None, alias="GOOGLE_API_KEY")
    gemini_model: str = Field(default="gemini-2.0-flash", alias="GEMINI_MODEL")
    gemini_base_url: str | None = Field(default=None, alias="GEMINI_BASE_URL")
    tgi_url: str | None = Field(default=None, alias="TGI_URL")
    tgi_api_key: SecretStr | None = Field(default=None, alias="TGI_API_KEY")
    tgi_adapter_id: str | None = Field(default=None, alias="TGI_ADAPTER_ID")

    # Slack
    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_api_url: str = Field(default="https://slack.com/api/", alias="SLACK_API_URL")

    # Discord
    discord_token: SecretStr | None = Field(default=None, alias="DISCORD_TOKEN")
    discord_guild_ids: CommaList = Field(default_factory=list, alias="DISCORD_GUILD_IDS")
    discord_api_url: str | None = Field(default=None, alias="DISCORD_API_URL")

    # Retraining
    retrain_min_pairs: int = Field(default=200, ge=1, alias="RETRAIN_MIN_PAIRS")
    retrain_backend: str = Field(default="trl", alias="RETRAIN_BACKEND")
    retrain_base_model: str | None = Field(default=None, alias="RETRAIN_BASE_MODEL")

    # Operations
    metrics_port: int | None = Field(default=None, alias="METRICS_PORT")

    @field_validator("recruiters", "team_leads", "llm_fallbacks", "discord_guild_ids", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in logging.getLevelNamesMapping():
            raise ValueError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL (got {value!r})")
        return level

    @model_validator(mode="after")
    def _default_within_max(self) -> Settings:
        if self.default_questions > self.max_questions:
            raise ValueError(f"DEFAULT_QUESTIONS ({self.default_questions}) is more than MAX_QUESTIONS "
                             f"({self.max_questions})")
        return self

    @property
    def resolved_database_url(self) -> str:
        """``DATABASE_URL``, or an SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / 'mockingbird.db').resolve()}"

    @property
    def tasks_in_process(self) -> bool:
        """Without Redis, background tasks run in the calling process."""
        return not self.redis_url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests call ``get_settings.cache_clear()`` after changing env)."""
    return Settings()

"""One configuration object, read from the environment and ``.env``.

Every variable is documented in ``.env.example``; README's configuration table mirrors it.
Secrets are ``SecretStr`` so they never appear in a repr or a log line.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import platformdirs
from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import FixableError

CommaList = Annotated[list[str], NoDecode]
# A role entry names the platform the id belongs to; a bare "U0ABC" would match nobody.
ROLE_ENTRY = re.compile(r"(slack|discord|console):[^\s:]+")
REDIS_SCHEMES = ("redis", "rediss", "unix")


def default_data_dir() -> Path:
    """The user's data directory (``~/.local/share/mockingbird`` on Linux): one place whatever the
    current directory, so ``practice --resume`` finds the session from any folder."""
    return Path(platformdirs.user_data_dir("mockingbird", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Storage and background work
    data_dir: Path = Field(default_factory=default_data_dir, alias="MOCKINGBIRD_DATA_DIR")
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
    # The local provider (train extra): a base spec (HF directory, .gguf file, or "smollm2"), an
    # optional PEFT adapter (directory, or a version name under <data dir>/models), the JSON grammar.
    local_model: str = Field(default="smollm2", min_length=1, alias="LOCAL_MODEL")
    local_adapter: str | None = Field(default=None, alias="LOCAL_ADAPTER")
    local_constrained: bool = Field(default=True, alias="LOCAL_CONSTRAINED")
    local_max_new_tokens: int = Field(default=512, ge=16, le=4096, alias="LOCAL_MAX_NEW_TOKENS")

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

    @field_validator("recruiters", "team_leads")
    @classmethod
    def _platform_ids(cls, value: list[str], info: ValidationInfo) -> list[str]:
        bad = [entry for entry in value if not ROLE_ENTRY.fullmatch(entry)]
        if bad:
            name = cls.model_fields[info.field_name or ""].alias
            raise ValueError(f"{name} entries are platform:id, e.g. slack:U0ABC or discord:112233445566778899 "
                             f"(console:LOGIN in the terminal); got {bad[0]!r}")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        """Checked here, not when a worker first connects; the URL may hold a password, so it is not echoed."""
        if value is None or not value.strip():
            return None
        try:
            parts = urlsplit(value.strip())
            parts.port  # noqa: B018  (raises on a port that is not a number)
        except ValueError:
            raise ValueError("REDIS_URL is not a URL; write it like redis://HOST:6379/0") from None
        if parts.scheme not in REDIS_SCHEMES:
            got = f"{parts.scheme}://" if parts.scheme else "no scheme"
            raise ValueError(f"REDIS_URL must start with redis://, rediss:// or unix:// "
                             f"(like redis://HOST:6379/0); got {got}")
        return value.strip()

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
    def default_database_path(self) -> Path:
        """The SQLite file used when ``DATABASE_URL`` is unset."""
        return (self.data_dir / "mockingbird.db").resolve()

    @property
    def resolved_database_url(self) -> str:
        """``DATABASE_URL``, or an SQLite file in the data directory. Creates nothing: reading
        commands must not leave an empty database behind; writers call ``ensure_data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.default_database_path}"

    def ensure_data_dir(self) -> Path:
        """Create the data directory (for a command that writes there), or say why it cannot be."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except FileExistsError as exc:
            raise FixableError(f"MOCKINGBIRD_DATA_DIR {self.data_dir} is a file, not a directory",
                               "point MOCKINGBIRD_DATA_DIR at a directory (or unset it for the default)") from exc
        except OSError as exc:
            raise FixableError(f"cannot create the data directory {self.data_dir} ({exc.strerror})",
                               "point MOCKINGBIRD_DATA_DIR at a directory you can write") from exc
        return self.data_dir

    @property
    def tasks_in_process(self) -> bool:
        """Without Redis, background tasks run in the calling process."""
        return not self.redis_url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests call ``get_settings.cache_clear()`` after changing env)."""
    return Settings()

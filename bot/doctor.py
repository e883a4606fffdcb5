"""``mockingbird doctor``: is this installation ready, and if not, what to change.

One line per check (configuration, data location, database, broker, LLM providers, the local model
when a provider uses it, Slack, Discord), each ``ok``, ``warning`` or ``problem`` with the fix. It
only looks: it creates no directory or database, converts no model, applies no migration, and prints
whether a secret is set, never its value.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import typer
from pydantic import SecretStr, ValidationError
from rich.console import Console
from rich.markup import escape

from bot.config import Settings, get_settings
from bot.errors import FixableError

Status = Literal["ok", "warning", "problem"]
COLOURS: dict[Status, str] = {"ok": "green", "warning": "yellow", "problem": "red"}
# Which setting each provider cannot work without (offline needs none).
PROVIDER_NEEDS: dict[str, str] = {"openai": "OPENAI_API_KEY", "gemini": "GOOGLE_API_KEY", "tgi": "TGI_URL"}
TIMEOUT_S = 3


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def diagnose() -> list[Check]:
    """Every check, in the order a newcomer would fix them. Bad settings stop here: the other
    checks would only repeat the same error."""
    try:
        settings = get_settings()
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        return [Check("configuration", "problem", problems, "correct it in the environment or .env")]
    return [
        _configuration(settings),
        _data_location(settings),
        _database(settings),
        _broker(settings),
        _providers(settings),
        *_local_model(settings),
        _slack(settings),
        _discord(settings),
    ]


def _set(value: SecretStr | str | None) -> bool:
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    return bool(raw and raw.strip())


def _configuration(settings: Settings) -> Check:
    source = "the environment and ./.env" if Path(".env").is_file() else "the environment (no .env here)"
    roles = f"{len(settings.recruiters)} recruiter and {len(settings.team_leads)} team-lead entries"
    return Check("configuration", "ok", f"settings load from {source}; {roles}")


def _data_location(settings: Settings) -> Check:
    path = settings.data_dir.resolve()
    source = "MOCKINGBIRD_DATA_DIR" if "data_dir" in settings.model_fields_set else "default"
    if path.exists() and not path.is_dir():
        return Check("data location", "problem", f"{path} ({source}) is a file, not a directory",
                     "point MOCKINGBIRD_DATA_DIR at a directory, or unset it for the default")
    created = "" if path.is_dir() else "; created on first use"
    return Check("data location", "ok", f"{path} ({source}{created})")


def _database(settings: Settings) -> Check:
    from bot.store.db import Database

    if not settings.database_url:
        path = settings.default_database_path
        if not path.is_file():
            return Check("database", "ok", f"none yet; the first `mockingbird practice` creates {path}")
        where = f"SQLite {path}"
    else:
        where = ""
    try:
        db = Database(settings.resolved_database_url)
        try:
            revision = db.revision()
        finally:
            db.dispose()
    except FixableError as exc:
        return Check("database", "problem", exc.problem, exc.fix)
    if not where:
        url = db.parsed
        where = (f"SQLite {url.database}" if url.get_backend_name() == "sqlite"
                 else f"{url.get_backend_name()} {url.host or 'localhost'}:{url.port or 5432}/{url.database}")
    problem = revision.problem()
    if problem is None:
        return Check("database", "ok", f"{where}, migrations up to date ({revision.head})")
    # Behind is routine (writing commands and the bots migrate on start); unknown is not.
    return Check("database", "warning" if revision.known else "problem", f"{problem.problem} ({where})",
                 problem.fix)


def _broker(settings: Settings) -> Check:
    if not settings.redis_url:
        return Check("broker", "ok", "none: background tasks run in-process (REDIS_URL unset)")
    import redis

    parts = urlsplit(settings.redis_url)  # host and port only: the URL may hold a password
    where = parts.path if parts.scheme == "unix" else f"{parts.hostname or 'localhost'}:{parts.port or 6379}"
    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S)
    try:
        client.ping()
    except redis.RedisError as exc:
        return Check("broker", "problem", f"Redis at {where} does not answer ({type(exc).__name__})",
                     "start Redis there, or unset REDIS_URL to run background tasks in-process")
    finally:
        client.close()
    return Check("broker", "ok", f"Redis at {where} answers")


def _providers(settings: Settings) -> Check:
    from chains import providers

    order = list(dict.fromkeys([settings.llm_provider, *settings.llm_fallbacks]))
    unknown = [name for name in order if name not in providers.available()]
    if unknown:
        return Check("providers", "problem", f"unknown provider {unknown[0]!r} in LLM_PROVIDER / LLM_FALLBACKS",
                     f"choose from {', '.join(providers.available())}")
    values = {"OPENAI_API_KEY": settings.openai_api_key, "GOOGLE_API_KEY": settings.google_api_key,
              "TGI_URL": settings.tgi_url}
    missing = {name: PROVIDER_NEEDS[name] for name in order if name in PROVIDER_NEEDS
               and not _set(values[PROVIDER_NEEDS[name]])}
    chain = " → ".join(order)
    primary = settings.llm_provider
    if primary in missing:
        return Check("providers", "problem", f"LLM_PROVIDER={primary} needs {missing[primary]}, which is not set",
                     f"set {missing[primary]}, or LLM_PROVIDER=offline (no keys)")
    if missing:
        name, needs = next(iter(missing.items()))
        return Check("providers", "warning", f"{chain}: the fallback {name} needs {needs}, which is not set",
                     f"set {needs}, or take {name} out of LLM_FALLBACKS")
    present = [needs for name, needs in PROVIDER_NEEDS.items() if name in order]
    return Check("providers", "ok", chain + (f" ({', '.join(present)} set)" if present else " (no keys needed)"))


def _local_model(settings: Settings) -> list[Check]:
    """The ``local`` provider's model, adapter and packages, when it is in the provider order; looked
    up without importing torch or converting anything (a first conversion takes about a minute)."""
    from chains.contract import ProviderError
    from chains.local.bases import BaseModelError, base_cache_dir, locate_base, missing_local_packages
    from chains.providers.local import adapter_path

    order = [settings.llm_provider, *settings.llm_fallbacks]
    if "local" not in order:
        return []
    severity: Status = "problem" if settings.llm_provider == "local" else "warning"
    try:
        base, is_gguf = locate_base(settings.local_model)
    except BaseModelError as exc:
        return [Check("local model", severity, f"LOCAL_MODEL: {exc}",
                      "set LOCAL_MODEL to an HF model directory, a .gguf file or smollm2")]
    missing = missing_local_packages(is_gguf)
    if missing:
        return [Check("local model", severity, f"the local provider needs the train extra ({', '.join(missing)} "
                      "not installed)", "uv sync --extra train (docs/local-model.md)")]
    where = f"{base.name}, converted once into {base_cache_dir(settings.data_dir)}" if is_gguf else str(base)
    if not settings.local_adapter:
        return [Check("local model", "ok", f"{where}; no adapter (LOCAL_ADAPTER unset)")]
    try:
        _name, adapter = adapter_path(settings.local_adapter, settings.data_dir / "models")
    except ProviderError as exc:
        return [Check("local model", severity, f"LOCAL_ADAPTER: {exc}",
                      "train one with `mockingbird retrain --backend trl`, or unset LOCAL_ADAPTER")]
    return [Check("local model", "ok", f"{where}; adapter {adapter}")]


def _slack(settings: Settings) -> Check:
    bot, secret, app = (_set(settings.slack_bot_token), _set(settings.slack_signing_secret),
                        _set(settings.slack_app_token))
    if not (bot or secret or app):
        return Check("slack", "ok", "not configured (only `mockingbird slack` needs it)")
    if not bot:
        return Check("slack", "problem", "a Slack secret is set but SLACK_BOT_TOKEN is not",
                     "set SLACK_BOT_TOKEN (xoxb-…) from the app's OAuth page")
    if not (secret or app):
        return Check("slack", "problem", "SLACK_BOT_TOKEN is set, but neither SLACK_SIGNING_SECRET (HTTP mode) "
                     "nor SLACK_APP_TOKEN (Socket Mode)", "set the one for the mode you run")
    modes = [mode for mode, present in (("HTTP mode", secret), ("Socket Mode", app)) if present]
    return Check("slack", "ok", f"SLACK_BOT_TOKEN set; ready for {' and '.join(modes)}")


def _discord(settings: Settings) -> Check:
    if _set(settings.discord_token):
        return Check("discord", "ok", "DISCORD_TOKEN set")
    return Check("discord", "ok", "not configured (only `mockingbird discord` needs DISCORD_TOKEN)")


def doctor(as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False) -> None:
    """Check the configuration, database, broker, providers and chat tokens; say what to fix."""
    os.environ.setdefault("PGCONNECT_TIMEOUT", str(TIMEOUT_S))  # an unroutable host must not hang the check
    checks = diagnose()
    healthy = all(check.status != "problem" for check in checks)
    if as_json:
        typer.echo(json.dumps({"ok": healthy, "checks": [asdict(c) for c in checks]}, indent=2))
    else:
        out = Console()
        width = max(len(check.name) for check in checks)
        for check in checks:
            fix = f" [dim]→ {escape(check.fix)}[/]" if check.fix else ""
            out.print(f"[{COLOURS[check.status]}]{check.status:<7}[/] {check.name:<{width}}  "
                      f"{escape(check.detail)}{fix}", soft_wrap=True, highlight=False)
    if not healthy:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)

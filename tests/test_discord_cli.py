"""``mockingbird discord`` in-process, against the fake Discord: configuration and start-up failures
give a clear message and an exit code, never a traceback or the token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from discord.http import Route
from typer.testing import CliRunner

from bot.cli import app
from bot.config import get_settings
from tests.fakes.discord_api import FakeDiscord

TOKEN = "MTIz.secret-token-value"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscord]:
    before = Route.BASE
    with FakeDiscord() as server:
        monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
        monkeypatch.setenv("DISCORD_API_URL", server.api_url)
        get_settings.cache_clear()
        yield server
    Route.BASE = before


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["discord", *args])
    assert TOKEN not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, " ".join(result.output.split())


def test_a_missing_token_says_what_to_set() -> None:
    code, output = run()
    assert code == 2 and "DISCORD_TOKEN is not set" in output


def test_guild_ids_must_be_numeric(fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_GUILD_IDS", "123, my-server")
    get_settings.cache_clear()
    code, output = run()
    assert code == 2 and "my-server" in output
    assert fake.calls == []


def test_a_rejected_token_is_reported_without_echoing_it(fake: FakeDiscord) -> None:
    fake.login_status = 401
    code, output = run()
    assert code == 1 and "Discord rejected DISCORD_TOKEN" in output
    (login,) = fake.requests("GET", "/users/@me")
    assert login.headers["Authorization"] == f"Bot {TOKEN}"


@pytest.mark.parametrize("in_guild", [True, False])
def test_a_missing_privileged_intent_explains_how_to_enable_it(
    fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch, in_guild: bool
) -> None:
    if in_guild:
        monkeypatch.setenv("DISCORD_GUILD_IDS", fake.guild_id)
        get_settings.cache_clear()
    fake.gateway_close_code = 4014
    code, output = run()
    assert code == 1 and "Message Content intent" in output and "Developer Portal" in output
    assert len(fake.identify_payloads) == 1
    # commands were registered before connecting: in the dev guild (instant) or globally
    guild_sync = fake.requests("PUT", rf"/applications/{fake.application_id}/guilds/{fake.guild_id}/commands")
    global_sync = fake.requests("PUT", rf"/applications/{fake.application_id}/commands")
    assert (len(guild_sync), len(global_sync)) == ((1, 0) if in_guild else (0, 1))


def test_no_sync_leaves_the_commands_alone(fake: FakeDiscord) -> None:
    fake.gateway_close_code = 4014
    code, _ = run("--no-sync")
    assert code == 1
    assert not fake.requests("PUT", r"/applications/.*")

"""``mockingbird slack``: friendly configuration errors, and a real process serving HTTP mode."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.celery_support import free_port
from tests.fakes.slack_api import FakeSlackAPI, SlackSender

SECRET = "cli-signing-secret"


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as api:
        yield api


@pytest.mark.parametrize(
    "args,env,message",
    [
        (["slack"], {}, "Choose one mode"),
        (["slack", "--socket", "--http"], {}, "Choose one mode"),
        (["slack", "--socket"], {"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_APP_TOKEN is not set"),
        (["slack", "--http"], {}, "SLACK_BOT_TOKEN is not set"),
        (["slack", "--http"], {"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET is not set"),
        (["slack", "--socket", "--processes", "2"], {}, "--processes needs HTTP mode on a fixed port"),
        (["slack", "--http", "--port", "0", "--processes", "2"], {}, "--processes needs HTTP mode on a fixed port"),
    ],
)
def test_configuration_errors_say_what_to_set(
    args: list[str], env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output.replace("\n", " ")


def test_a_rejected_token_stops_startup_with_a_message(
    fake: FakeSlackAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.fail("auth.test", "invalid_auth")
    for key, value in {
        "SLACK_BOT_TOKEN": "xoxb-revoked",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.url,
    }.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(app, ["slack", "--http", "--port", "0"])
    assert result.exit_code == 1 and "invalid_auth" in result.output


@pytest.mark.parametrize("processes", [1, 2])
def test_http_mode_process_serves_signed_requests(fake: FakeSlackAPI, tmp_path: Path, processes: int) -> None:
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-cli",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.url,
        "MOCKINGBIRD_DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(Path(__file__).parents[1]),
    }
    process = subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import app; app()", "slack", "--http", "--host", "127.0.0.1",
         "--port", "0" if processes == 1 else str(free_port()),  # gunicorn reports no port it picked
         "--processes", str(processes)],
        cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stderr is not None
        line, before = "", []
        for line in process.stderr:
            if "Listening on" in line:
                break
            before.append(line)
        # Several processes: without a shared metrics directory /metrics would show only the parent.
        assert any("PROMETHEUS_MULTIPROC_DIR is not set" in seen for seen in before) == (processes > 1)
        match = re.search(r"http://127\.0\.0\.1:(\d+)/slack/events", line)
        assert match, f"no listening line; last line: {line!r}"
        port = int(match.group(1))
        deadline = time.monotonic() + 30
        while True:  # with several processes, the workers boot after the master binds the port
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                    assert response.read() == b"ok\n"
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        sender = SlackSender(f"http://127.0.0.1:{port}/slack/events", SECRET, fake)
        assert sender.command("/interview", "backend", "UCLI").status == 200
        posts = fake.wait_calls("chat.postMessage", 2, timeout=30)
        assert posts[1].params["thread_ts"] == posts[0].response["ts"]
        assert (
            SlackSender(f"http://127.0.0.1:{port}/slack/events", "forged", fake)
            .command("/interview", "backend", "UCLI")
            .status
            == 401
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert (tmp_path / "data" / "mockingbird.db").exists()  # state went to the database, not the process

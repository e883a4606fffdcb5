"""Real Celery processes for tests: a worker (or beat) started as ``celery -A tasks …``, a private
redis-server, and a fresh PostgreSQL database.

    with celery_worker(redis_url, database_url) as worker:
        ...                     # the worker is consuming; worker.queue is its queue
        worker.kill()           # SIGKILL, as a crash would

Each worker gets its own queue name (``CELERY_QUEUE``), so tests sharing a Redis database never
take each other's messages. Publish with the same ``CELERY_QUEUE`` (``worker.env``) in the test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
READY_MARK = " ready."


def wait_for(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unacked(broker: Any, queue: str) -> int:
    """Messages of ``queue`` held unacknowledged by a worker (kombu keeps one hash for every queue)."""
    return sum(json.loads(raw)[2] == queue for raw in broker.hvals("unacked"))


def child_pids(pid: int) -> list[int]:
    """A process's children (Linux ``/proc``): a Celery worker's pool processes."""
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return [int(child) for child in handle.read().split()]


class CeleryProcess:
    """A running ``celery -A tasks worker|beat``; output is kept for failure messages."""

    def __init__(self, args: list[str], env: dict[str, str], ready_mark: str | None, cwd: Path) -> None:
        self.env = env
        self.queue = env["CELERY_QUEUE"]
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._mark = ready_mark
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tasks", *args],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            if self._mark and self._mark in line:
                self._ready.set()

    @property
    def output(self) -> str:
        return "\n".join(self.lines[-60:])

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None:
                raise AssertionError(f"celery exited with {self.proc.returncode}:\n{self.output}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"celery was not ready after {timeout:.0f}s:\n{self.output}")

    def kill(self) -> None:
        """SIGKILL the whole process group (main process and pool children), like a crash."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 15) -> None:
        """Warm shutdown (SIGTERM): running tasks finish; SIGKILL if it takes too long."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()


def celery_env(
    redis_url: str,
    database_url: str,
    *,
    queue: str | None = None,
    visibility_timeout: int | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment for a Celery process: only what the worker needs, nothing from the caller's .env."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "REDIS_URL", "CELERY_", "MOCKINGBIRD_", "LLM_"))
    }
    env.update(
        {
            "REDIS_URL": redis_url,
            "DATABASE_URL": database_url,
            "CELERY_QUEUE": queue or f"mb-test-{uuid.uuid4().hex[:8]}",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            "LOG_LEVEL": "INFO",
        }
    )
    if visibility_timeout is not None:
        env["CELERY_VISIBILITY_TIMEOUT"] = str(visibility_timeout)
    env.update(extra or {})
    return env


@contextmanager
def celery_worker(
    redis_url: str,
    database_url: str,
    *,
    queue: str | None = None,
    concurrency: int = 1,
    prefetch: int = 8,
    visibility_timeout: int | None = None,
    extra_env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
    ready_timeout: float = 60,
) -> Iterator[CeleryProcess]:
    """Start a real worker, wait until it consumes, stop it (warm) on exit. ``extra_args`` go to
    ``celery worker`` (``["--include", "tests.fakes.pipeline_faults"]`` injects faults)."""
    env = celery_env(
        redis_url, database_url, queue=queue, visibility_timeout=visibility_timeout, extra=extra_env
    )
    with tempfile.TemporaryDirectory(prefix="mb-worker-") as home:
        env.setdefault("MOCKINGBIRD_DATA_DIR", str(Path(home) / "data"))
        worker = CeleryProcess(
            [
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(concurrency),
                "--prefetch-multiplier",
                str(prefetch),
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--hostname",
                f"{env['CELERY_QUEUE']}@%h",
                *(extra_args or []),
            ],
            env,
            READY_MARK,
            Path(home),
        )
        try:
            worker.wait_ready(ready_timeout)
            yield worker
        finally:
            worker.stop()


@contextmanager
def celery_beat(redis_url: str, database_url: str, *, queue: str | None = None) -> Iterator[CeleryProcess]:
    """Start a real beat process (its schedule file in a temporary folder); stop it on exit."""
    env = celery_env(redis_url, database_url, queue=queue)
    with tempfile.TemporaryDirectory(prefix="mb-beat-") as home:
        env["MOCKINGBIRD_DATA_DIR"] = str(Path(home) / "data")
        beat = CeleryProcess(["beat", "--loglevel", "INFO"], env, None, Path(home))
        try:
            yield beat
        finally:
            beat.stop()


class RedisServer:
    """A private ``redis-server --save ''`` on a free port, which a test may stop and start again."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._ping, 10, f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def fresh_postgres(base_url: str, *, migrate: bool = True) -> Iterator[str]:
    """A new (migrated) PostgreSQL database beside the one ``postgres_url`` made; dropped afterwards."""
    import psycopg

    from bot.store.db import Database

    name = f"mb_{uuid.uuid4().hex[:10]}"
    host_part = base_url.split("://", 1)[1].rsplit("/", 1)[0]
    user, _, hostport = host_part.rpartition("@")
    host, _, port = hostport.partition(":")
    admin = f"host={host} port={port or 5432} user={user or 'postgres'} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = base_url.rsplit("/", 1)[0] + f"/{name}"
    if migrate:
        db = Database(url)
        db.upgrade()
        db.dispose()
    try:
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_graded_turns(
    db_url: str,
    count: int,
    *,
    candidate: str = "cara",
    platform: str = "slack",
    model_version: str = "offline-v1",
) -> list[int]:
    """One finished session of ``count`` graded turns, written directly (fast setup for pipeline tests)."""
    from bot.store.db import Database
    from bot.store.models import Turn, TurnState, User, UserRole
    from tests.factories import finished_session

    feedback = {
        "score": 6,
        "strengths": ["Clear structure."],
        "weaknesses": ["No numbers."],
        "suggestions": ["Quantify the result."],
        "criteria": {"clarity": 7},
        "summary": "A solid answer.",
    }
    db = Database(db_url)
    try:
        with db.session() as session:
            user = User(
                platform=platform,
                platform_user_id=candidate,
                display_name=candidate.title(),
                role=UserRole.candidate,
            )
            record = finished_session(
                session, user, kind="behavioral", planned_questions=count, model_version=model_version
            )
            turns = [
                Turn(
                    session_id=record.id,
                    index=i,
                    question=f"Tell me about a hard problem number {i}.",
                    domain="delivery",
                    key_points=["situation", "result"],
                    answer=f"Answer {i}.",
                    feedback=feedback,
                    state=TurnState.graded,
                    model_version=model_version,
                )
                for i in range(count)
            ]
            session.add_all(turns)
            session.flush()
            return [t.id for t in turns]
    finally:
        db.dispose()


def stored_signals(db: Any) -> tuple[list[int], list[int]]:
    """The stored ratings' values and the corrections' scores: what a worker has written so far."""
    from sqlalchemy import select

    from bot.store.models import Correction, Rating

    with db.session() as session:
        return (
            list(session.scalars(select(Rating.value))),
            [c.feedback["score"] for c in session.scalars(select(Correction))],
        )

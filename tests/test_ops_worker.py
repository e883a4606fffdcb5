"""A real Celery worker (prefork, two children) serves /healthz and /metrics through bot.ops.worker.

The worker is started the way the Procfile starts it (``--include bot.ops.worker``), on a
Celery app defined here so that the test needs nothing from the project's task modules. Its
tasks record LLM metrics in the child processes; the main process must report them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from celery import Celery
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent

# The worker subprocess imports this module (celery -A test_ops_worker); pytest imports it too.
# Not set as the current app: other tests' shared tasks must not bind to it.
app = Celery(
    "ops-worker-test",
    broker=os.environ.get("OPS_TEST_BROKER", "memory://"),
    backend=os.environ.get("OPS_TEST_BROKER", "cache+memory://"),
    set_as_current=False,
)
app.conf.task_default_queue = os.environ.get("OPS_TEST_QUEUE", "ops-test")
app.conf.broker_connection_retry_on_startup = True


@app.task(name="ops_test.grade")
def grade(provider: str) -> int:
    """Stands in for a task that calls a model: records one LLM call, returns the child's pid."""
    from bot.ops.metrics import observe_llm_call
    from chains.providers import CallRecord

    observe_llm_call(CallRecord(provider=provider, model="m", prompt_version="v1", latency_ms=250))
    return os.getpid()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _wait_until_ready(worker: subprocess.Popen[str], port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            output = worker.stdout.read() if worker.stdout else ""
            pytest.fail(f"the worker exited with {worker.returncode}:\n{output}")
        try:
            if _get(port, "/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)  # polling a condition: the worker's readiness has no other signal here
    pytest.fail("the worker's /healthz never answered")


@pytest.mark.redis
@pytest.mark.slow
def test_prefork_worker_serves_health_and_its_childrens_metrics(redis_url: str, tmp_path: Path) -> None:
    port, queue = _free_port(), f"ops-test-{uuid.uuid4().hex[:8]}"
    provider = f"fake-{uuid.uuid4().hex[:6]}"
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    (multiproc / "counter_999999.db").write_bytes(b"stale")  # left by an earlier run: must be cleared
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}",
        "OPS_TEST_BROKER": redis_url,
        "OPS_TEST_QUEUE": queue,
        "METRICS_PORT": str(port),
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.db'}",
        "REDIS_URL": redis_url,
        "MOCKINGBIRD_DATA_DIR": str(tmp_path / "data"),
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "test_ops_worker",
            "worker",
            "--include",
            "bot.ops.worker",
            "--pool",
            "prefork",
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"ops-test-{uuid.uuid4().hex[:6]}@%h",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_until_ready(worker, port)
        status, body = _get(port, "/healthz")
        assert status == 200 and json.loads(body)["checks"]["redis"]["ok"] is True

        app.conf.broker_url = app.conf.result_backend = redis_url
        app.conf.task_default_queue = queue
        results = [grade.apply_async(args=[provider], queue=queue) for _ in range(4)]
        pids = {result.get(timeout=30) for result in results}
        assert worker.pid not in pids, "the tasks ran in the pool's child processes"

        status, body = _get(port, "/metrics")
        assert status == 200
        samples = [
            s
            for f in text_string_to_metric_families(body)
            if f.name == "mockingbird_llm_json"
            for s in f.samples
            if s.labels.get("provider") == provider and s.name.endswith("_total")
        ]
        assert sum(s.value for s in samples) == 4, "the main process reports what its children recorded"
        depth = {
            s.labels["queue"]: s.value
            for f in text_string_to_metric_families(body)
            if f.name == "mockingbird_queue_depth"
            for s in f.samples
        }
        assert depth.get(queue) == 0
        assert not (multiproc / "counter_999999.db").exists()
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        app.close()

"""Metrics the engine records, and the ops endpoint that serves them with health checks."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from bot.config import Settings
from bot.engine import Actor, InterviewEngine
from bot.ops import OpsServer, start_ops_server
from bot.ops.metrics import PrometheusObserver, json_outcome, observe_llm_call, track_request
from bot.store.db import Database
from chains.providers import CallRecord, ProviderError
from chains.providers.fallback import FallbackProvider
from chains.providers.offline import OfflineProvider
from tasks.pipeline.dispatch import InProcessSink
from tests.celery_support import free_port

ANSWER = "I split the monolith behind a feature flag, measured p99 before and after, and rolled back once."


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@dataclass
class Reply:
    status: int
    body: str
    content_type: str


def get(server: OpsServer, path: str) -> Reply:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=10) as response:
            return Reply(response.status, response.read().decode(), response.headers["Content-Type"])
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.read().decode(), exc.headers["Content-Type"])


@pytest.fixture
def serve() -> Iterator[list[OpsServer]]:
    started: list[OpsServer] = []
    yield started
    for server in started:
        server.stop()


def start(serve: list[OpsServer], settings: Settings) -> OpsServer:
    server = start_ops_server(settings, port=0, host="127.0.0.1")
    assert server is not None
    serve.append(server)
    return server


# ── what the engine records ─────────────────────────────────────────────────────────
@pytest.fixture
def engine(database: Database, settings: Settings) -> InterviewEngine:
    """The engine as ``bot.app`` builds it: reporting to Prometheus through its observer."""
    return InterviewEngine(database, OfflineProvider(), settings, signals=InProcessSink(database),
                           observer=PrometheusObserver())


def test_an_interview_records_llm_latency_json_validity_and_ratings(
    engine: InterviewEngine, candidate: Actor
) -> None:
    grade = {"provider": "offline", "operation": "grade"}

    def counts() -> tuple[float, ...]:
        return (
            sample("mockingbird_llm_seconds_count", **grade),
            sample("mockingbird_llm_json_total", **grade, outcome="valid_first_try"),
            sample("mockingbird_llm_seconds_count", provider="offline", operation="question"),
            sample("mockingbird_ratings_total", platform="console", value="up"),
            sample("mockingbird_ratings_total", platform="console", value="withdrawn"),
        )

    before = counts()
    started = engine.start(candidate, role="backend", questions=2)
    first = engine.answer(started.session.id, candidate, ANSWER)
    engine.answer(started.session.id, candidate, ANSWER)
    assert first.graded is not None
    engine.rate(first.graded.id, candidate, 1)
    engine.rate(first.graded.id, candidate, 0)
    after = counts()
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 2, 2, 1, 1]


def _no_key() -> OfflineProvider:
    raise ProviderError("OPENAI_API_KEY is not set")


def test_a_fallback_is_counted_as_fell_back(database: Database, settings: Settings, candidate: Actor) -> None:
    provider = FallbackProvider([("openai", _no_key), ("offline", OfflineProvider)])
    engine = InterviewEngine(database, provider, settings, signals=InProcessSink(database),
                             observer=PrometheusObserver())
    labels = {"provider": "offline", "operation": "grade", "outcome": "fell_back"}
    before = sample("mockingbird_llm_json_total", **labels)
    started = engine.start(candidate, role="backend", questions=1)
    engine.answer(started.session.id, candidate, ANSWER)
    assert sample("mockingbird_llm_json_total", **labels) == before + 1


@pytest.mark.parametrize(
    ("flags", "outcome"),
    [
        ({}, "valid_first_try"),
        ({"valid_first_try": False}, "retried"),
        ({"valid_first_try": False, "repaired": True}, "repaired"),
        ({"valid_first_try": False, "repaired": True, "fell_back": True}, "fell_back"),
    ],
)
def test_json_outcome_names_the_worst_thing_that_happened(flags: dict[str, bool], outcome: str) -> None:
    assert json_outcome(CallRecord(provider="tgi", model="m", prompt_version="v1", **flags)) == outcome


def test_llm_latency_lands_in_the_right_bucket() -> None:
    labels = {"provider": "gemini", "operation": "grade"}
    before = sample("mockingbird_llm_seconds_bucket", **labels, le="2.0")
    before_fast = sample("mockingbird_llm_seconds_bucket", **labels, le="1.0")
    observe_llm_call(CallRecord(provider="gemini", model="m", prompt_version="v1", latency_ms=1500))
    assert sample("mockingbird_llm_seconds_bucket", **labels, le="2.0") == before + 1
    assert sample("mockingbird_llm_seconds_bucket", **labels, le="1.0") == before_fast


def test_track_request_times_failed_requests_too() -> None:
    labels = {"platform": "slack", "action": "answer"}
    before = sample("mockingbird_request_seconds_count", **labels)
    with pytest.raises(RuntimeError), track_request("slack", "answer"):
        raise RuntimeError("boom")
    with track_request("slack", "answer"):
        pass
    assert sample("mockingbird_request_seconds_count", **labels) == before + 2


# ── the endpoint ────────────────────────────────────────────────────────────────────
def test_metrics_and_health_are_served(serve: list[OpsServer], sqlite_db: Database, redis_url: str) -> None:
    server = start(serve, Settings(DATABASE_URL=sqlite_db.url, REDIS_URL=redis_url))
    observe_llm_call(
        CallRecord(provider="openai", model="m", prompt_version="v1", latency_ms=800, repaired=True)
    )
    metrics = get(server, "/metrics")
    assert metrics.status == 200 and metrics.content_type.startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(metrics.body)}
    for name in (
        "mockingbird_llm_seconds",
        "mockingbird_llm_json",
        "mockingbird_queue_depth",
        "mockingbird_outbox_pending",
        "mockingbird_request_seconds",
        "mockingbird_ratings",
    ):
        assert name in families, f"/metrics has no {name}"
    repaired = [
        s
        for s in families["mockingbird_llm_json"].samples
        if s.labels.get("provider") == "openai"
        and s.labels.get("outcome") == "repaired"
        and s.name.endswith("_total")
    ]
    assert repaired and repaired[0].value >= 1
    health = get(server, "/healthz")
    assert health.status == 200
    body = json.loads(health.body)
    assert body["status"] == "ok" and set(body["checks"]) == {"database", "redis"}
    assert all(check["ok"] and check["ms"] >= 0 for check in body["checks"].values())
    assert get(server, "/livez").status == 200
    assert get(server, "/nowhere").status == 404


def test_healthz_fails_without_the_database_and_shows_no_password(serve: list[OpsServer]) -> None:
    url = f"postgresql+psycopg://mockingbird:hunter2-secret@127.0.0.1:{free_port()}/mockingbird"
    server = start(serve, Settings(DATABASE_URL=url))
    health = get(server, "/healthz")
    assert health.status == 503
    body = json.loads(health.body)
    assert body["status"] == "unavailable" and body["checks"]["database"]["ok"] is False
    assert "OperationalError" in body["checks"]["database"]["detail"]
    assert "hunter2" not in health.body
    assert get(server, "/livez").status == 200  # alive, just not ready: no restart for a database outage
    assert get(server, "/metrics").status == 200  # still scrapeable


def test_healthz_fails_without_redis(serve: list[OpsServer], sqlite_db: Database) -> None:
    server = start(
        serve, Settings(DATABASE_URL=sqlite_db.url, REDIS_URL=f"redis://:pw-secret@127.0.0.1:{free_port()}/0")
    )
    health = get(server, "/healthz")
    checks = json.loads(health.body)["checks"]
    assert health.status == 503 and checks["database"]["ok"] is True and checks["redis"]["ok"] is False
    assert "pw-secret" not in health.body


def test_the_server_is_off_without_a_port_and_started_once(
    serve: list[OpsServer], sqlite_db: Database
) -> None:
    assert start_ops_server(Settings(DATABASE_URL=sqlite_db.url)) is None  # METRICS_PORT unset
    first = start(serve, Settings(DATABASE_URL=sqlite_db.url))
    assert start_ops_server(Settings(DATABASE_URL=sqlite_db.url), port=0, host="127.0.0.1") is first
    first.stop()
    serve.clear()
    second = start(serve, Settings(DATABASE_URL=sqlite_db.url))
    assert second is not first and get(second, "/livez").status == 200


def test_a_busy_port_does_not_stop_the_process(sqlite_db: Database) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert start_ops_server(Settings(DATABASE_URL=sqlite_db.url), port=port, host="127.0.0.1") is None

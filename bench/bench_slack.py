"""Benchmark: concurrent Slack interviews through HTTP mode with a fake LLM of fixed latency.

    python bench/bench_slack.py [--interviews 100] [--questions 3] [--llm-ms 500] [--think 2,6] [--processes 1]
                                [--redis redis://127.0.0.1:6379/13] [--llm rubric|openai] [--variant new|baseline]

Three parts on loopback: the bot in its own process (``serve``: the real engine, Bolt app and
waitress server, with a provider that grades after sleeping ``--llm-ms``), the fake Slack Web
API, and the candidates (one thread each) in this process. Each candidate runs ``/interview``,
waits for each question, "thinks" for a random time, answers, waits for the feedback and
clicks 👍. Figures:

* acknowledgement latency: a signed request sent to the HTTP response received (commands,
  events, button clicks), as Slack would time it;
* added latency: answer event sent to the feedback posted with ``chat.update`` (as the fake
  Slack received it), minus the LLM call's own duration stored with the turn;
* answer → next question: answer event sent to the next question's ``chat.postMessage``, and
  how long after the feedback it came;
* Web API connections: TCP connections the fake Slack accepted per 100 calls.

``--llm openai`` runs the real OpenAI provider (SDK, LangChain chain, validation) against a fake
OpenAI server on loopback that answers every request after ``--llm-ms``: questions and feedback
are both model calls; the feedback streams (``answer → first text``: the ``chat.startStream`` of its
readable text, beside ``answer → feedback posted``). ``--variant baseline`` serves the same code with the next-question
prefetch and the Web API keep-alive turned off, to measure beside it in the same session.

The database is a fresh PostgreSQL database on 127.0.0.1:5432 when one is reachable (dropped
afterwards), else SQLite. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

SECRET = "bench-signing-secret"
ANSWERS = [
    "In my last role I owned the billing API. I measured p99 latency, added idempotency keys so retries "
    "were safe, and rolled the change out behind a feature flag; errors fell by 40% and I wrote the runbook.",
    "I would start from the SLO, profile the slow path, add an index after checking EXPLAIN, and verify the "
    "fix with a load test before and after, then document the trade-offs for the team.",
    "We disagreed about the rollout plan, so I wrote down both options with their risks, asked for data, ran "
    "a small experiment, and we picked the safer option; I followed up with a retro.",
]


# ── the bot process ────────────────────────────────────────────────────────────────────
def serve(args: argparse.Namespace) -> None:
    """Run the real Slack app with a slow fake LLM; print ``READY <port>`` when listening."""
    from bot.app import build_engine
    from bot.config import get_settings
    from bot.ops.heap import freeze_startup_heap
    from bot.slack.app import build_app
    from bot.slack.server import HttpServer
    from chains import providers
    from chains.contract import Provider
    from chains.providers.offline import OfflineProvider

    class SlowLLM(Provider):
        """The offline rubric behind a fixed delay: a stand-in for a remote model's latency."""

        name = "bench-llm"

        def __init__(self, latency_s: float) -> None:
            self.inner, self.latency_s = OfflineProvider(), latency_s

        def question(self, request):  # type: ignore[no-untyped-def]
            return self.inner.question(request)  # questions come from the bank, as with the offline provider

        def grade(self, request):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            time.sleep(self.latency_s)
            result = self.inner.grade(request)
            result.call.provider = self.name
            result.call.latency_ms = (time.perf_counter() - started) * 1000
            return result

    providers.register("bench-llm", lambda settings: SlowLLM(args.llm_ms / 1000))
    settings = get_settings()

    def engine():  # type: ignore[no-untyped-def]
        built = build_engine(settings, serving=True)  # warmed up, as `mockingbird slack` serves
        if args.variant == "baseline":  # the next question written after the feedback, as before
            built.next_questions = None
        return built

    def app_of(built):  # type: ignore[no-untyped-def]
        app = build_app(built, settings, workers=args.workers)
        if args.variant == "baseline":  # urllib's stock opener: a new connection per Web API call
            import urllib.request

            urllib.request.install_opener(None)  # type: ignore[arg-type]
        return app

    if args.processes > 1:  # as `mockingbird slack --http --processes N` serves
        from bot.slack.server import serve_processes
        from tests.celery_support import free_port

        port = free_port()  # gunicorn binds it and reports nothing back
        print(f"READY {port}", flush=True)
        serve_processes(
            lambda: app_of(engine()),
            host="127.0.0.1",
            port=port,
            processes=args.processes,
            threads=args.threads,
            on_worker_ready=lambda: print("BOOTED", flush=True),
        )
        return
    app = app_of(engine())
    server = HttpServer(app, host="127.0.0.1", port=0, threads=args.threads)
    freeze_startup_heap()  # as `mockingbird slack --http` does before serving
    print(f"READY {server.port}", flush=True)
    server.serve_forever()


# ── the database ───────────────────────────────────────────────────────────────────────
def _postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


class BenchDatabase:
    def __init__(self, workdir: Path, synchronous_commit: bool = True) -> None:
        self.name = f"mb_bench_{uuid.uuid4().hex[:8]}"
        self.postgres = _postgres_reachable()
        if self.postgres:
            import psycopg

            with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
                if not synchronous_commit:  # commits stop waiting for the disk flush (this database only)
                    conn.execute(f'ALTER DATABASE "{self.name}" SET synchronous_commit = off')
            self.url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.name}"
        else:
            self.url = f"sqlite:///{workdir / 'bench.db'}"

    def drop(self) -> None:
        if self.postgres:
            import psycopg

            with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


# ── the candidates ─────────────────────────────────────────────────────────────────────
class Router:
    """Hands each recorded Web API call to the candidate whose channel it is for."""

    def __init__(self) -> None:
        self.queues: dict[str, queue.Queue[Any]] = {}

    def __call__(self, call: Any) -> None:
        box = self.queues.get(str(call.params.get("channel") or ""))
        if box is not None:
            box.put(call)


def candidate(
    n: int,
    args: argparse.Namespace,
    sender: Any,
    router: Router,
    out: dict[str, list[Any]],
    errors: list[str],
) -> None:
    user, channel = f"UB{n:04d}", f"CB{n:04d}"
    box: queue.Queue[Any] = queue.Queue()
    router.queues[channel] = box
    rng = random.Random(n)

    def expect(predicate: Any, what: str, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            call = box.get(timeout=max(0.01, deadline - time.monotonic()))
            if predicate(call):
                return call
            if time.monotonic() > deadline:
                raise TimeoutError(what)

    try:
        time.sleep(rng.uniform(0, args.ramp_s))  # candidates arrive over the ramp-up, not all in one instant
        sent = sender.command("/interview", f"backend technical mid {args.questions}", user, channel)
        out["ack_command"].append(sent.elapsed_s)
        question = expect(
            lambda c: c.method == "chat.postMessage" and c.params.get("thread_ts"), "question 1"
        )
        thread = question.params["thread_ts"]
        for k in range(args.questions):
            time.sleep(rng.uniform(*args.think))
            sent_at = time.time()
            sent = sender.reply(user, channel, thread, ANSWERS[k % len(ANSWERS)], event_id=f"EvB{n}x{k}")
            out["ack_event"].append(sent.elapsed_s)
            streamed: list[float] = []  # when the feedback's first text reached Slack (chat.startStream)

            def shown(call: Any, wanted: Any, streamed: list[float] = streamed) -> bool:
                if call.method == "chat.startStream":
                    streamed.append(call.at)
                return bool(wanted(call))

            def feedback(c: Any) -> bool:  # rewrites the placeholder, or the message its text streamed into
                return bool(c.method == "chat.update" and c.params["text"].startswith("Feedback"))

            # The "Thinking…" placeholder is posted from the bot's posting pool while the model works, so
            # under load it can reach Slack after a streamed feedback (the bot then deletes it): waiting
            # for it first would skip that feedback. Only the feedback is awaited.
            update = expect(lambda c: shown(c, feedback), f"feedback {k + 1}")
            ts = update.params["ts"]
            if streamed:
                out["first_text"].append(streamed[0] - sent_at)
            rating = [b for b in update.params["blocks"] if b["type"] == "context_actions"][-1]["elements"][0]
            turn = rating["positive_button"]["value"].split(":")[0]
            out["feedback"].append((int(turn), update.at - sent_at))
            after = expect(
                lambda c: (
                    c.method == "chat.postMessage"
                    and (
                        c.params["text"].startswith("Question")
                        or c.params["text"].startswith("Interview report")
                    )
                ),
                f"after answer {k + 1}",
            )
            if after.params["text"].startswith("Question"):
                out["next_question"].append(after.at - sent_at)
                out["next_after_feedback"].append(after.at - update.at)
            sent = sender.rate("up", turn, user, channel, update.params["ts"], thread)
            out["ack_action"].append(sent.elapsed_s)
            expect(
                lambda c, ts=ts: (
                    c.method == "chat.update"
                    and c.params["ts"] == ts
                    and "Helpful · 1" in json.dumps(c.params["blocks"], ensure_ascii=False)
                ),
                f"tally {k + 1}",
            )
    except Exception as exc:  # recorded and reported; one failed candidate must not hide the others' figures
        errors.append(f"candidate {n}: {type(exc).__name__}: {exc}")


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds used by a process and its live children (Linux ``/proc``; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(process_cpu_s(int(child)) or 0.0 for child in children)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summarise(name: str, seconds: list[float]) -> dict[str, Any]:
    ms = [s * 1000 for s in seconds]
    row: dict[str, Any] = {"what": name, "n": len(ms)}
    for key, q in (("p50_ms", 50), ("p95_ms", 95), ("p99_ms", 99), ("max_ms", 100)):
        row[key] = round(percentile(ms, q), 1) if ms else None  # None, not NaN: the report stays valid JSON
    row["mean_ms"] = round(statistics.fmean(ms), 1) if ms else None
    return row


def _at_most(row: dict[str, Any], limit_ms: float) -> bool | None:
    """Whether the row's p99 is within the limit; None when the run measured nothing for it."""
    return None if row["p99_ms"] is None else row["p99_ms"] <= limit_ms


def run(args: argparse.Namespace) -> int:
    from tests.fakes.slack_api import FakeSlackAPI

    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"mb-bench-{uuid.uuid4().hex[:6]}"
    workdir.mkdir(parents=True)
    database = BenchDatabase(workdir, synchronous_commit=args.sync_commit == "on")
    fake = FakeSlackAPI().start()
    router = Router()
    fake.observers.append(router)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "DATABASE_URL", "REDIS_URL", "LLM_", "RECRUITERS", "TEAM_LEADS"))
    }
    env.update(
        {
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.url,
            "DATABASE_URL": database.url,
            "LLM_PROVIDER": "bench-llm",
            "LLM_FALLBACKS": "",
            "MOCKINGBIRD_DATA_DIR": str(workdir),
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
    )
    llm: Any = contextlib.nullcontext()
    if args.llm == "openai":
        from tests.fakes.llm_env import KEYS, env_for
        from tests.fakes.llm_server import rewritten
        from tests.fakes.openai_server import FakeOpenAI

        scores = random.Random(7)  # feedback scores vary (4-8), as answers do, so adaptive levels move now and then

        def vary(task: str, data: dict[str, Any]) -> dict[str, Any]:
            return {**data, "score": scores.randint(4, 8)} if task == "feedback" else data

        llm = FakeOpenAI(api_key=KEYS["openai"], latency_s=args.llm_ms / 1000, default=rewritten(vary)).start()
        env.update({"LLM_PROVIDER": "openai", "LLM_MAX_RETRIES": "0", **env_for("openai", llm.base_url)})
    pipeline = contextlib.nullcontext()
    if args.redis:  # ratings travel as in production: Celery on Redis, stored by a worker process
        from tests.celery_support import celery_worker

        celery_queue = f"mb-bench-{uuid.uuid4().hex[:6]}"
        env.update({"REDIS_URL": args.redis, "CELERY_QUEUE": celery_queue})
        pipeline = celery_worker(args.redis, database.url, queue=celery_queue, concurrency=1)
    try:
        with pipeline:
            return _drive(args, env, workdir, database, fake, router)
    finally:
        if args.llm == "openai":
            llm.stop()


def _drive(
    args: argparse.Namespace, env: dict[str, str], workdir: Path, database: BenchDatabase, fake: Any, router: Router
) -> int:
    from sqlalchemy import create_engine, text

    from tests.fakes.slack_api import SlackSender

    command = [sys.executable, __file__, "serve", "--workers", str(args.workers), "--threads", str(args.threads),
               "--llm-ms", str(args.llm_ms), "--processes", str(args.processes), "--variant", args.variant]
    bot = subprocess.Popen(command, env=env, cwd=workdir, stdout=subprocess.PIPE, text=True)
    try:
        assert bot.stdout is not None
        line = bot.stdout.readline()
        if not line.startswith("READY"):
            raise SystemExit(f"the bot did not start: {line!r}")
        for _ in range(args.processes if args.processes > 1 else 0):  # every worker has built its app
            if bot.stdout.readline().strip() != "BOOTED":
                raise SystemExit("a bot process did not start")
        cpu_at_ready = process_cpu_s(bot.pid)
        sender = SlackSender(f"http://127.0.0.1:{line.split()[1]}/slack/events", SECRET, fake)
        out: dict[str, list[Any]] = {
            "ack_command": [], "ack_event": [], "ack_action": [], "feedback": [], "next_question": [],
            "next_after_feedback": [],
            "first_text": [],
        }
        errors: list[str] = []
        started = time.perf_counter()
        threads = [
            threading.Thread(target=candidate, args=(n, args, sender, router, out, errors))
            for n in range(args.interviews)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        web_calls, connections = len(fake.calls), fake.connections
        calls_by_method = Counter(call.method for call in fake.calls)
        cpu_at_end = process_cpu_s(bot.pid)
        bot_cpu_s = cpu_at_end - cpu_at_ready if cpu_at_end is not None and cpu_at_ready is not None else None
    finally:
        bot.terminate()
        bot.wait(timeout=30)
        fake.stop()

    engine = create_engine(database.url)
    with engine.connect() as conn:
        latency = dict(
            conn.execute(text("SELECT id, latency_ms FROM turns WHERE latency_ms IS NOT NULL")).all()
        )
        duplicates = conn.execute(text("SELECT count(*) FROM turns WHERE state = 'graded'")).scalar()
        completed = conn.execute(
            text("SELECT count(*) FROM interview_sessions WHERE state = 'completed'")
        ).scalar()
        ratings = conn.execute(text("SELECT count(*) FROM ratings")).scalar()
    engine.dispose()
    database.drop()

    added = [total - latency[turn] / 1000 for turn, total in out["feedback"] if turn in latency]
    llm = [latency[turn] / 1000 for turn, _ in out["feedback"] if turn in latency]
    acks = out["ack_command"] + out["ack_event"] + out["ack_action"]
    rows = [
        summarise("ack: all requests", acks),
        summarise("ack: /interview", out["ack_command"]),
        summarise("ack: message events", out["ack_event"]),
        summarise("ack: 👍 clicks", out["ack_action"]),
        summarise("LLM call (fake)", llm),
        summarise("answer → first text (stream)", out["first_text"]),
        summarise("answer → feedback posted", [t for _, t in out["feedback"]]),
        summarise("added on top of the LLM", added),
        summarise("answer → next question", out["next_question"]),
        summarise("next question − feedback", out["next_after_feedback"]),
    ]
    by_name = {row["what"]: row for row in rows}
    report = {
        "interviews": args.interviews,
        "questions": args.questions,
        "llm_ms": args.llm_ms,
        "think_s": args.think,
        "ramp_s": args.ramp_s,
        "workers": args.workers,
        "http_threads": args.threads,
        "processes": args.processes,
        "database": ("postgresql" if database.postgres else "sqlite"),
        "ratings_via": "celery worker" if args.redis else "in-process",
        "synchronous_commit": args.sync_commit,
        "wall_s": round(wall, 1),
        # The bot's own CPU per answer (with its 👍 and its share of starts and reports): the cost
        # that decides how many interviews one process carries.
        "bot_cpu_ms_per_answer": round(bot_cpu_s * 1000 / max(1, len(out["feedback"])), 1)
        if bot_cpu_s is not None
        else None,
        "completed_sessions": completed,
        "graded_turns": duplicates,
        "ratings": ratings,
        "errors": errors[:10],
        "rows": rows,
        "llm": args.llm,
        "variant": args.variant,
        "web_api_calls": web_calls,
        "web_api_calls_per_answer": {
            method: round(count / max(1, len(out["feedback"])), 2) for method, count in calls_by_method.most_common()
        },
        "new_connections_per_100_calls": round(100 * connections / max(1, web_calls), 2),
        "targets_met": {
            "ack_p99_le_100ms": _at_most(by_name["ack: all requests"], 100),
            "added_p99_le_50ms": _at_most(by_name["added on top of the LLM"], 50),
            "next_question_le_feedback_plus_50ms_p99": _at_most(by_name["next question − feedback"], 50),
            "at_most_1_connection_per_100_calls": connections <= max(1, web_calls / 100),
        },
    }
    print(f"{'what':28} {'n':>5} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}  (ms)")
    for row in rows:
        print(
            f"{row['what']:28} {row['n']:>5} "
            + " ".join(f"{'–' if row[k] is None else row[k]:>8}" for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))
        )
    print(json.dumps({k: v for k, v in report.items() if k != "rows"}, ensure_ascii=False))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False))
    expected = args.interviews * args.questions
    ok = not errors and completed == args.interviews and duplicates == expected and ratings == expected
    return 0 if ok else 1


def positive(value: str) -> int:
    if not value.isdecimal() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1 (got {value!r})")
    return int(value)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "serve"])
    parser.add_argument("--interviews", type=int, default=100)
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--llm-ms", type=float, default=500)
    parser.add_argument(
        "--think",
        type=lambda s: tuple(float(x) for x in s.split(",")),
        default=(2.0, 6.0),
        help="candidate think time before each answer, min,max seconds",
    )
    parser.add_argument("--ramp-s", type=float, default=5.0, help="candidates start over this many seconds")
    parser.add_argument("--workers", type=int, default=128, help="bot threads for model and database work")
    parser.add_argument("--threads", type=int, default=16, help="bot HTTP threads (per process)")
    parser.add_argument(
        "--processes", type=positive, default=1, help="bot processes (gunicorn workers, as `--processes` of the bot)"
    )
    parser.add_argument(
        "--sync-commit",
        choices=["on", "off"],
        default="on",
        help="PostgreSQL synchronous_commit for the benchmark database (off: commits do not "
        "wait for the disk flush, as on storage with a write cache)",
    )
    parser.add_argument(
        "--redis",
        help="a Redis URL: ratings go through Celery (REDIS_URL) to a worker process, as in production; "
        "without it they are stored inside the bot process",
    )
    parser.add_argument("--llm", choices=["rubric", "openai"], default="rubric",
                        help="rubric: the offline grader behind --llm-ms; openai: the OpenAI provider against a "
                        "fake OpenAI server answering after --llm-ms (questions are model calls too)")
    parser.add_argument("--variant", choices=["new", "baseline"], default="new",
                        help="baseline: no next-question prefetch and no Web API keep-alive")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if args.mode == "serve":
        serve(args)
    else:
        raise SystemExit(run(args))


if __name__ == "__main__":
    main()

"""Benchmark: the feedback chain's own cost and its delivered validity under a flaky model.

1,000 feedback calls go to the OpenAI provider (the real langchain-openai / openai SDK)
pointed at a fake Chat Completions server on loopback that answers malformed JSON 20% of
the time; the fallback order is ``openai, offline``. A timing httpx transport measures each
HTTP exchange (request sent to response body read), so

    chain overhead = wall time of ``provider.grade()`` - time inside HTTP exchanges

is everything the chain adds: prompt rendering, LangChain and SDK plumbing, parsing,
validation, the repair decision and, when it happens, the offline fallback.

    python -m bench.bench_feedback_chain [--calls 1000] [--malformed 0.2] [--seed 7] [--stream] [--json]

``--stream`` asks for each feedback as the Slack adapter does (``GradeRequest.on_text``): the
reply streams in the fake's 12-character chunks and every chunk is parsed and previewed, so the
CPU figure is what a streamed feedback costs the bot process.

Targets (issue 3): delivered validity 100%, overhead p50 <= 5 ms, p99 <= 20 ms.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the fake server lives in tests/fakes
    sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from chains.bank import load_bank  # noqa: E402
from chains.providers import GradeRequest  # noqa: E402
from chains.providers.fallback import FallbackProvider  # noqa: E402
from chains.providers.offline import OfflineProvider  # noqa: E402
from chains.providers.openai import OpenAIProvider  # noqa: E402
from chains.schemas import Feedback  # noqa: E402
from tests.fakes.llm_server import flaky  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402

KEY = "sk-bench-not-a-secret"
ANSWERS = [
    "At my last company checkout slowed to 2 s at peak. I added an index and a cache: p95 fell to 300 ms.",
    "I would start from the access pattern, pick a partition key, and measure hot partitions first.",
    "When two teams disagreed on an API, I ran a design review and wrote the contract down in a week.",
    "Basically I guess we kind of fixed it together, the team did most of it and it was fine in the end.",
]


class TimingTransport(httpx.BaseTransport):
    """Adds up the time spent in HTTP exchanges, response body included."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.seconds = 0.0
        self.cpu_seconds = 0.0  # the calling thread's CPU time inside exchanges
        self.exchanges = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started, started_cpu = time.perf_counter(), time.thread_time()
        response = self.inner.handle_request(request)
        response.read()
        self.seconds += time.perf_counter() - started
        self.cpu_seconds += time.thread_time() - started_cpu
        self.exchanges += 1
        return response

    def close(self) -> None:
        self.inner.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def run(calls: int, malformed: float, seed: int, warmup: int = 20, stream: bool = False) -> dict[str, Any]:
    questions = [q for q in load_bank().questions if q.role in ("backend", "frontend")]
    transport = TimingTransport()
    with FakeOpenAI(api_key=KEY, default=flaky(malformed, seed=seed)) as fake:
        settings = Settings(
            OPENAI_API_KEY=KEY,
            OPENAI_BASE_URL=f"{fake.origin}/v1",
            LLM_TIMEOUT_S=10,
            LLM_MAX_RETRIES=2,
            FEWSHOT_TOKEN_BUDGET=0,
        )
        client = httpx.Client(transport=transport, timeout=10)
        openai = OpenAIProvider(settings, http_client=client)
        provider = FallbackProvider([("openai", lambda: openai), ("offline", OfflineProvider)])
        shown: list[str] = []  # the streamed previews (``--stream``)
        requests = [
            GradeRequest(question=questions[i % len(questions)], answer=ANSWERS[i % len(ANSWERS)],
                         on_text=shown.append if stream else None)
            for i in range(calls + warmup)
        ]
        for request in requests[:warmup]:  # imports, connection, caches
            provider.grade(request)
        overhead_ms: list[float] = []
        cpu_ms: list[float] = []  # the same, in CPU time: what it costs without other processes' noise
        http_ms: list[float] = []
        counts = {"valid_first_try": 0, "repaired": 0, "fell_back": 0, "delivered_valid": 0}
        exchanges_before = transport.exchanges
        gc.collect()
        started_all = time.perf_counter()
        for request in requests[warmup:]:
            http_before, http_cpu_before = transport.seconds, transport.cpu_seconds
            started, started_cpu = time.perf_counter(), time.thread_time()
            result = provider.grade(request)
            elapsed, elapsed_cpu = time.perf_counter() - started, time.thread_time() - started_cpu
            http = transport.seconds - http_before
            overhead_ms.append((elapsed - http) * 1000)
            cpu_ms.append((elapsed_cpu - (transport.cpu_seconds - http_cpu_before)) * 1000)
            http_ms.append(http * 1000)
            Feedback.model_validate(result.value.model_dump())  # what the candidate would see
            counts["delivered_valid"] += 1
            call = result.call
            if call.fell_back:
                counts["fell_back"] += 1
            elif call.valid_first_try:
                counts["valid_first_try"] += 1
            elif call.repaired:
                counts["repaired"] += 1
        wall = time.perf_counter() - started_all
        client.close()
    return {
        "calls": calls,
        "malformed_rate": malformed,
        "seed": seed,
        "streamed": stream,
        "previews": len(shown),
        **counts,
        "delivered_validity": counts["delivered_valid"] / calls,
        "http_exchanges": transport.exchanges - exchanges_before,
        "overhead_ms": {
            "p50": percentile(overhead_ms, 50),
            "p90": percentile(overhead_ms, 90),
            "p99": percentile(overhead_ms, 99),
            "max": max(overhead_ms),
            "mean": statistics.fmean(overhead_ms),
        },
        "overhead_cpu_ms": {
            "p50": percentile(cpu_ms, 50),
            "p90": percentile(cpu_ms, 90),
            "p99": percentile(cpu_ms, 99),
            "max": max(cpu_ms),
        },
        "http_ms": {"p50": percentile(http_ms, 50), "p99": percentile(http_ms, 99)},
        "load_average": os.getloadavg(),
        "wall_s": wall,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


def report(figures: dict[str, Any]) -> str:
    o, c, h = figures["overhead_ms"], figures["overhead_cpu_ms"], figures["http_ms"]
    ok = figures["delivered_validity"] == 1.0 and o["p50"] <= 5 and o["p99"] <= 20
    delivered = f"{figures['delivered_valid']}/{figures['calls']}"
    return "\n".join(
        [
            f"feedback chain: {figures['calls']} {'streamed ' if figures['streamed'] else ''}calls, fake OpenAI "
            f"answering malformed JSON {figures['malformed_rate']:.0%} of the time (seed {figures['seed']})",
            f"  delivered validity   {figures['delivered_validity']:.1%} ({delivered})",
            f"  first-try valid      {figures['valid_first_try']}",
            f"  repaired             {figures['repaired']}",
            f"  fell back (offline)  {figures['fell_back']}",
            f"  HTTP exchanges       {figures['http_exchanges']}",
            f"  chain overhead ms    p50 {o['p50']:.2f}  p90 {o['p90']:.2f}  p99 {o['p99']:.2f}"
            f"  max {o['max']:.2f}",
            f"  same, CPU time ms    p50 {c['p50']:.2f}  p90 {c['p90']:.2f}  p99 {c['p99']:.2f}"
            f"  max {c['max']:.2f}",
            f"  HTTP exchange ms     p50 {h['p50']:.2f}  p99 {h['p99']:.2f}",
            f"  wall time            {figures['wall_s']:.1f} s on {figures['machine']['cpus']} CPUs, "
            f"Python {figures['machine']['python']}, load average "
            + " ".join(f"{x:.1f}" for x in figures["load_average"]),
            f"  targets (validity 100%, p50 <= 5 ms, p99 <= 20 ms): {'met' if ok else 'NOT met'}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--malformed", type=float, default=0.2, help="share of malformed replies (0-1)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--stream", action="store_true", help="stream each feedback with a preview reader")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # the expected fallbacks would log a warning each
    figures = run(args.calls, args.malformed, args.seed, stream=args.stream)
    print(json.dumps(figures, indent=2) if args.json else report(figures))
    return 0 if figures["delivered_validity"] == 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

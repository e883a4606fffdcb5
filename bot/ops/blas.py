"""One BLAS thread in a serving bot: numpy's small products stop spinning a second core.

The relevance check beside every model (``chains.grading.nonanswers``) multiplies an answer's few
dozen word vectors by a role's few hundred (``domain_share``) and the bank's vectors by the
answer's. numpy's OpenBLAS splits each product over every core, and after each one its helper
threads busy-wait for a while for the next. Alone, a relevance check then takes 1.8 ms of CPU
instead of 0.9; in a bot answering a few times a second the helpers hardly ever sleep, and on a
2-core machine they take the core the interviews' Python threads need: in ``bench/bench_slack.py
--llm openai`` at N = 50 the bot used 70-96 ms of CPU per answer with OpenBLAS's default threads
and ~35 ms with one (docs/benchmarks.md). A server's parallelism is its concurrent requests, so
every product runs on the thread that asked for it. threadpoolctl finds the BLAS that numpy
loaded, whichever it is, and changes its thread count after import, when environment variables
no longer can.
"""

from __future__ import annotations

from threadpoolctl import threadpool_info, threadpool_limits


def one_blas_thread() -> list[int]:
    """Limit every loaded BLAS library to one thread; returns their thread counts afterwards."""
    import numpy  # noqa: F401 - loads numpy's BLAS, so there is a library to limit

    threadpool_limits(limits=1, user_api="blas")
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

"""One BLAS thread in a serving bot: numpy's small products stop spinning a second core.

The relevance check beside every model (``chains.grading.nonanswers``) multiplies an answer's
few dozen word vectors by a role's few hundred (``domain_share``) and the bank's vectors by the
answer's. numpy's OpenBLAS splits each product over every core and then keeps its helper
threads spinning while they wait for the next one. For a 30 x 256 by 256 x 666 product that
costs three times the work done on one thread, and a bot serving many interviews on a 2-core
machine loses the second core to the spinning: in ``bench/bench_slack.py --llm openai`` at
N = 50 the bot used ~95 ms of CPU per answer with OpenBLAS's default threads and ~35 ms with
one (docs/benchmarks.md). A server's parallelism is its concurrent requests, so every product
runs on the thread that asked for it. threadpoolctl finds the BLAS that numpy loaded, whichever
it is, and changes its thread count after import, when environment variables no longer can.
"""

from __future__ import annotations

from threadpoolctl import threadpool_info, threadpool_limits


def one_blas_thread() -> list[int]:
    """Limit every loaded BLAS library to one thread; returns their thread counts afterwards."""
    import numpy  # noqa: F401 - loads numpy's BLAS, so there is a library to limit

    threadpool_limits(limits=1, user_api="blas")
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

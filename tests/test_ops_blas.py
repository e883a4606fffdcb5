"""A serving bot runs numpy's BLAS on one thread (bot.ops.blas)."""

from __future__ import annotations

import subprocess
import sys

# In a child process: the limit is process-wide and would change the rest of the suite.
CHECK = """
from threadpoolctl import threadpool_info, threadpool_limits
import numpy

threadpool_limits(limits=2, user_api="blas")  # what OpenBLAS starts with on a 2-core machine
before = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
from bot.app import build_engine
from bot.config import Settings

build_engine(Settings(database_url="sqlite:///:memory:", llm_provider="offline"), serving=True)
after = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
print(before, after)
"""


def test_a_serving_engine_leaves_every_blas_library_on_one_thread() -> None:
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True, timeout=120)
    before, after = result.stdout.strip().splitlines()[-1].split("] [")
    assert before.strip("[]") == "2"  # numpy's BLAS is there and was not limited yet
    assert after.strip("[]") == "1"


def test_one_blas_thread_reports_the_limit_it_set() -> None:
    check = "from bot.ops.blas import one_blas_thread; print(one_blas_thread())"
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "[1]"

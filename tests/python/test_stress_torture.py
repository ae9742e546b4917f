"""A short run of tests/stress/torture.py per group of facets, each in a fresh
interpreter (a crash or a hang must not take pytest down): the stress run of
`make stress`, bounded to a few seconds a group so that it fits in every
pytest run, on every version and under ASan (pytest-asan).

Each group is named so that a failure says which part broke: threads without
the GIL or a thread state, fork and signals, subinterpreters while threads
allocate, the stdlib tracemalloc around heaplens. torture.py prints its seed;
`python tests/stress/torture.py --seed N --only FACETS` runs the same again."""

import os
import pathlib

import pytest

from isolated import run_isolated

TORTURE = pathlib.Path(__file__).resolve().parents[1] / "stress" / "torture.py"
SECONDS = float(os.environ.get("STRESS_TEST_SECONDS", "2"))

GROUPS = {
    "no_gil_no_thread_state": "threads,ctypes,pthreads",
    "fork_and_signals": "fork,signals,ctypes",
    "subinterpreters_while_threads_allocate": "subinterpreters,threads,ctypes",
    "stdlib_tracemalloc_around_heaplens": "tracemalloc,threads",
}


@pytest.mark.parametrize("facets", list(GROUPS.values()), ids=list(GROUPS))
def test_torture(facets):
    out = run_isolated(
        script=TORTURE,
        args=["--seconds", SECONDS, "--grace", 30, "--only", facets],
        timeout=SECONDS + 60,
    )
    assert "torture: OK" in out, out

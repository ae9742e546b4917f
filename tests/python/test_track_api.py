"""Blocks that extensions report with PyTraceMalloc_Track (NumPy's array
data) are traced by heaplens as the stdlib's tracemalloc traces them: with
their domain and the Python line that was running, until
PyTraceMalloc_Untrack (src/ext/track_api.c).

The extension here is native/tracked_blocks.c, loaded with ctypes. Each test
runs in a fresh interpreter: the redirection of the calls lasts as long as
the process."""

import textwrap

import pytest

from isolated import run_isolated
from native import build

DOMAIN = 389047  # NumPy's


def _run(body, load_first=False, timeout=120):
    """Run `body` (dedented) with `lib` (tracked_blocks through ctypes.CDLL,
    typed), `heaplens`, `tm` (heaplens.tracemalloc) and `D` (the domain);
    the library is loaded before heaplens starts tracing when load_first,
    else after (it is then patched when dlopen loads it)."""
    load = f"""
import ctypes
lib = ctypes.CDLL({build("tracked_blocks")!r})
lib.tracked_alloc.restype = ctypes.c_void_p
lib.tracked_alloc.argtypes = [ctypes.c_uint, ctypes.c_size_t]
lib.tracked_alloc_in_thread.restype = ctypes.c_void_p
lib.tracked_alloc_in_thread.argtypes = [ctypes.c_uint, ctypes.c_size_t]
lib.tracked_realloc.restype = ctypes.c_void_p
lib.tracked_realloc.argtypes = [ctypes.c_uint, ctypes.c_void_p, ctypes.c_size_t]
lib.tracked_free.argtypes = [ctypes.c_uint, ctypes.c_void_p]
lib.tracked_track_only.argtypes = [ctypes.c_uint, ctypes.c_size_t, ctypes.c_size_t]
lib.tracked_untrack_only.argtypes = [ctypes.c_uint, ctypes.c_size_t]
lib.tracked_raw_moved.restype = ctypes.c_void_p
lib.tracked_raw_moved.argtypes = [ctypes.c_uint, ctypes.c_size_t]
lib.tracked_raw_free.argtypes = [ctypes.c_uint, ctypes.c_void_p]
"""
    start = "import heaplens, heaplens.tracemalloc as tm\nD = %d\n" % DOMAIN
    prefix = start + (load + "heaplens.start(5)\n" if load_first else "heaplens.start(5)\n" + load)
    return run_isolated(prefix + textwrap.dedent(body), timeout=timeout)


def _domain_stats(snapshot_expr):
    return f"{snapshot_expr}.filter_traces([tm.DomainFilter(True, D)]).statistics('lineno')"


@pytest.mark.parametrize("load_first", [False, True], ids=["loaded-later", "loaded-before"])
def test_tracked_block_is_traced_at_the_calling_line_until_untracked(load_first):
    out = _run(
        f"""
        import sys
        before = heaplens.get_traced_memory()[0]
        line = sys._getframe().f_lineno + 1
        block = lib.tracked_alloc(D, 3_000_000)
        grown = heaplens.get_traced_memory()[0] - before
        stats = {_domain_stats("tm.take_snapshot()")}
        assert len(stats) == 1, stats
        frame = stats[0].traceback[0]
        assert (stats[0].size, stats[0].count) == (3_000_000, 1), stats
        assert (frame.filename, frame.lineno) == ("<string>", line), frame
        assert 3_000_000 <= grown < 3_100_000, grown
        with_block = heaplens.get_traced_memory()[0]
        lib.tracked_free(D, block)
        assert abs(with_block - heaplens.get_traced_memory()[0] - 3_000_000) < 50_000
        assert {_domain_stats("tm.take_snapshot()")} == []
        assert heaplens.get_tracer_counters()["redirected_slots"] >= 2
        print("ok")
        """,
        load_first=load_first,
    )
    assert out.strip() == "ok"


def test_other_domains_and_python_blocks_are_kept_apart():
    """A (domain, address) pair is one trace: the same address in two domains
    is two traces, tracking it again replaces it, and the Python blocks
    (domain 0) are not counted in another domain."""
    out = _run(f"""
        block = lib.tracked_alloc(D, 1000)
        assert lib.tracked_track_only(D + 1, block, 5000) == 0
        assert lib.tracked_track_only(D, block, 2000) == 0   # replaces
        snap = tm.take_snapshot()
        by_domain = {{}}
        for trace in snap.traces:
            by_domain.setdefault(trace.domain, []).append(trace.size)
        assert by_domain[D] == [2000], by_domain[D]
        assert by_domain[D + 1] == [5000], by_domain[D + 1]
        assert sum(by_domain[0]) > 0
        assert {_domain_stats("snap")}[0].size == 2000
        lib.tracked_free(D, block)
        lib.tracked_untrack_only(D, 12345)  # never tracked: nothing happens
        left = [t.domain for t in tm.take_snapshot().traces if t.domain != 0]
        assert left == [D + 1], left
        print("ok")
    """)
    assert out.strip() == "ok"


def test_a_trace_moved_out_of_the_python_domain_is_counted_once():
    """NumPy 2.5 allocates array data with PyMem_RawMalloc, then moves the
    trace to its own domain (Untrack(0), Track(389047)): the block is counted
    once, in NumPy's domain, as the stdlib counts it (it was counted twice,
    seen with NumPy 2.5 on 3.12 and 3.13). With the stdlib tracing too, both
    agree."""
    out = _run("""
        import tracemalloc
        tracemalloc.start(1)
        before = heaplens.get_traced_memory()[0]
        block = lib.tracked_raw_moved(D, 4_000_000)
        grown = heaplens.get_traced_memory()[0] - before
        assert 4_000_000 <= grown < 4_050_000, grown
        ours = {}
        for trace in tm.take_snapshot().traces:
            ours[trace.domain] = ours.get(trace.domain, 0) + trace.size
        theirs = {}
        for trace in tracemalloc.take_snapshot().traces:
            theirs[trace.domain] = theirs.get(trace.domain, 0) + trace.size
        assert ours[D] == theirs[D] == 4_000_000, (ours, theirs)
        # Domain 0 holds what the interpreter and the stdlib's tracer allocate
        # meanwhile (over 1 MB on 3.14), never the 4 MB block.
        assert ours[0] < 3_000_000 and theirs[0] < 3_000_000, (ours, theirs)
        with_block = heaplens.get_traced_memory()[0]
        lib.tracked_raw_free(D, block)
        freed = with_block - heaplens.get_traced_memory()[0]
        assert abs(freed - 4_000_000) < 50_000, freed
        tracemalloc.stop()
        print("ok")
    """)
    assert out.strip() == "ok"


def test_blocks_from_a_thread_python_does_not_know_and_realloc():
    out = _run(f"""
        block = lib.tracked_alloc_in_thread(D, 70_000)
        stats = {_domain_stats("tm.take_snapshot()")}
        assert [(s.size, s.count) for s in stats] == [(70_000, 1)], stats
        assert len(stats[0].traceback) == 0 or stats[0].traceback[0].filename == "<unknown>"
        moved = lib.tracked_realloc(D, block, 900_000)
        stats = {_domain_stats("tm.take_snapshot()")}
        assert [(s.size, s.count) for s in stats] == [(900_000, 1)], stats
        lib.tracked_free(D, moved)
        assert {_domain_stats("tm.take_snapshot()")} == []
        print("ok")
    """)
    assert out.strip() == "ok"


def test_clear_stop_and_not_tracing():
    """clear_traces() forgets tracked blocks; after stop() a Track call
    returns what CPython's returns when the stdlib does not trace (-2), and
    nothing is recorded; a new start records again."""
    out = _run(f"""
        block = lib.tracked_alloc(D, 4096)
        tm.clear_traces()
        assert {_domain_stats("tm.take_snapshot()")} == []
        heaplens.stop()
        assert lib.tracked_track_only(D, 4242, 10) == -2
        heaplens.start(5)
        assert {_domain_stats("tm.take_snapshot()")} == []
        again = lib.tracked_alloc(D, 8192)
        assert {_domain_stats("tm.take_snapshot()")}[0].size == 8192
        lib.tracked_free(D, again)
        lib.tracked_free(D, block)
        print("ok")
    """)
    assert out.strip() == "ok"


def test_the_stdlib_tracer_still_sees_the_blocks():
    """With the stdlib's tracemalloc tracing too, both record each block: the
    redirection calls CPython's function after recording."""
    out = _run(f"""
        import tracemalloc
        tracemalloc.start(5)
        block = lib.tracked_alloc(D, 123_456)
        ours = {_domain_stats("tm.take_snapshot()")}
        theirs = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.DomainFilter(True, D)]).statistics("lineno")
        assert [s.size for s in ours] == [s.size for s in theirs] == [123_456], (ours, theirs)
        assert ours[0].traceback[0].lineno == theirs[0].traceback[0].lineno
        lib.tracked_free(D, block)
        assert tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.DomainFilter(True, D)]).statistics("lineno") == []
        tracemalloc.stop()
        print("ok")
    """)
    assert out.strip() == "ok"


def test_a_forked_child_traces_tracked_blocks():
    out = _run(f"""
        import os
        pid = os.fork()
        if pid == 0:
            ok = False
            try:
                block = lib.tracked_alloc(D, 55_555)
                ok = [s.size for s in {_domain_stats("tm.take_snapshot()")}] == [55_555]
                lib.tracked_free(D, block)
            finally:
                os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        print("ok")
    """)
    assert out.strip() == "ok"


def test_numpy_statistics_equal_the_stdlib_side_by_side():
    """NumPy reports each array's data with PyTraceMalloc_Track: the same
    workload gives heaplens.tracemalloc the stdlib's statistics (sizes and
    counts per line, in NumPy's domain and overall). NumPy is a test
    dependency (make installs it in every venv): not a skip when missing."""
    out = run_isolated("""
        import tracemalloc
        import heaplens.tracemalloc as htm
        import numpy as np

        def work():
            return [np.ones(250_000) for _ in range(8)] + [np.zeros((100, 100))]

        results = []
        for module in (tracemalloc, htm):
            module.start(3)
            kept = work()
            current = module.get_traced_memory()[0]
            snapshot = module.take_snapshot()
            module.stop()
            arrays = snapshot.filter_traces([module.DomainFilter(True, 389047)])
            results.append((
                current,
                sorted((s.traceback[0].lineno, s.size, s.count)
                       for s in arrays.statistics("lineno")),
            ))
            del kept
        (stdlib_now, stdlib_rows), (ours_now, ours_rows) = results
        assert ours_rows == stdlib_rows, (ours_rows, stdlib_rows)
        assert sum(size for _, size, _ in ours_rows) == 16_080_000, ours_rows
        assert abs(ours_now - stdlib_now) < 200_000, (ours_now, stdlib_now)
        print("ok")
    """)
    assert out.strip() == "ok"

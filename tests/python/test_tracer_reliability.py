"""The tracer inside other people's processes: threads, fork, start/stop at any
moment, blocks that straddle start and stop, and allocations that fail."""

import gc
import os
import sys
import textwrap
import threading

import pytest

from heaplens import _core
from isolated import run_isolated


def test_threads_allocating_while_snapshots_and_restarts_happen():
    out = run_isolated("""
        import threading, time
        from heaplens import _core

        stop = threading.Event()
        errors = []

        def churn(seed):
            try:
                keep = []
                while not stop.is_set():
                    keep.append([seed] * 50)
                    keep.append(bytearray(3000))   # > 512 bytes: pymalloc falls back to RAW
                    if len(keep) > 400:
                        del keep[:200]
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=churn, args=(i,)) for i in range(6)]
        _core.start(5)
        for t in threads:
            t.start()
        deadline = time.monotonic() + 4
        rounds = 0
        while time.monotonic() < deadline:
            snap = _core.take_snapshot()
            assert snap.n_traces >= 0
            groups = snap.group(1, False)
            assert all(size >= 0 and count > 0 for _, size, count in groups)
            cur, peak = _core.get_traced_memory()
            assert peak >= cur
            if rounds % 3 == 0:
                _core.stop()
                assert _core.get_traced_memory() == (0, 0)
                _core.start(1 + rounds % 7)
            if rounds % 5 == 0:
                _core.clear_traces()
            rounds += 1
        stop.set()
        for t in threads:
            t.join()
        _core.stop()
        assert not errors, errors
        print("rounds", rounds)
    """)
    assert int(out.split()[-1]) > 10


def test_raw_allocations_without_the_gil_are_recorded_with_their_stack():
    """ctypes.CDLL releases the GIL around a call (ctypes.pythonapi keeps it):
    PyMem_RawMalloc then runs the RAW hook on a thread that has a thread state
    but not the GIL, whose stack heaplens's stack servant reads with the GIL
    (the thread itself never waits for it)."""
    out = run_isolated("""
        import ctypes, threading
        from heaplens import _core
        libc = ctypes.CDLL(None)
        libc.PyMem_RawMalloc.restype = ctypes.c_void_p
        libc.PyMem_RawMalloc.argtypes = [ctypes.c_size_t]
        libc.PyMem_RawFree.argtypes = [ctypes.c_void_p]
        libc.PyGILState_Check.restype = ctypes.c_int
        _core.start(3)
        # The foreign call really runs without the GIL.
        assert libc.PyGILState_Check() == 0

        def allocate_here(out):
            out.extend(libc.PyMem_RawMalloc(4099) for _ in range(100))

        # Every thread starts before any allocates and ends after all have:
        # making or ending a thread state takes a lock of CPython's under
        # which the RAW hook may not wait for the GIL (it then records no
        # frames, and says so in 'gil_unsafe').
        started, finished = threading.Barrier(4), threading.Barrier(4)

        def in_thread(out):
            started.wait()
            allocate_here(out)
            finished.wait()

        ptrs = []
        threads = [threading.Thread(target=in_thread, args=(ptrs,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        allocate_here(ptrs)
        snap = _core.take_snapshot()
        found = without_frames = 0
        for i in range(snap.n_traces):
            _, size, stack = snap.trace(i)
            if size == 4099:
                found += 1
                if "allocate_here" not in snap.stack_functions()[stack]:
                    assert snap.stacks()[stack] == ((("<unknown>", 0),), 1), snap.stacks()[stack]
                    without_frames += 1
        assert found == 500, found
        for p in ptrs:
            libc.PyMem_RawFree(p)
        counters = _core.get_tracer_counters()
        # A block is recorded without frames only when asking for the GIL
        # could have hung ('gil_unsafe': a thread that join() already let go
        # may still be ending its thread state under CPython's lock), or when
        # the servant got no GIL in time ('gil_timeouts', on a loaded machine).
        no_frames = counters["gil_unsafe"] + counters["gil_timeouts"]
        assert without_frames <= no_frames <= 25, (without_frames, counters)
        assert counters["dropped"] == 0, counters
        assert counters["unknown_stacks"] == no_frames, counters
        _core.stop()
        print("ok")
    """)
    assert out.strip() == "ok"


def test_raw_hook_never_waits_for_the_gil_under_a_lock_its_caller_holds():
    """A RAW allocator may be called without the GIL by a thread that holds a
    lock of its own, while the GIL's holder waits for that lock (CPython's
    RAW-domain contract; gh-155725). A RAW hook that waited for the GIL to read
    the caller's stack hung both threads for ever. The hook gives up on the
    stack after a bounded wait instead: the block is recorded without frames
    and counted in 'gil_timeouts'."""
    from native import build

    out = run_isolated(
        f"LIB = {build('lock_inversion')!r}\n"
        + textwrap.dedent("""
        import ctypes, threading
        from heaplens import _core
        releasing = ctypes.CDLL(LIB)       # calls release the GIL
        holding = ctypes.PyDLL(LIB)        # calls keep it
        releasing.inversion_hold_and_allocate.restype = ctypes.c_int64
        releasing.inversion_hold_and_allocate.argtypes = [ctypes.c_size_t]
        _core.start(5)
        took = []
        worker = threading.Thread(
            target=lambda: took.append(releasing.inversion_hold_and_allocate(4097)))
        worker.start()
        holding.inversion_take_when_held()   # blocks, holding the GIL, until the worker lets go
        worker.join()
        counters = _core.get_tracer_counters()
        _core.stop()
        assert took and 0 <= took[0] < 5e9, took
        assert counters["gil_timeouts"] >= 1, counters
        assert counters["unknown_stacks"] >= counters["gil_timeouts"], counters
        print("ok")
    """),
        timeout=60,
    )
    assert out.strip() == "ok"


def _run_with_timed_malloc(body):
    """Run `body` (dedented) in a fresh interpreter, heaplens tracing 5 frames,
    with `lib` (native/lock_inversion.c through ctypes.CDLL, whose calls
    release the GIL; timed_raw_malloc(size, delay_us) typed) and
    `sleep_with_the_gil(us)` (usleep, called keeping the GIL); its stdout."""
    from native import build

    setup = f"""
import ctypes, threading
from heaplens import _core
lib = ctypes.CDLL({build("lock_inversion")!r})
lib.timed_raw_malloc.restype = ctypes.c_int64
lib.timed_raw_malloc.argtypes = [ctypes.c_size_t, ctypes.c_uint]
sleep_with_the_gil = ctypes.PyDLL(None).usleep
sleep_with_the_gil.argtypes = [ctypes.c_uint]
_core.start(5)
"""
    return run_isolated(setup + textwrap.dedent(body), timeout=60)


def test_raw_hook_waits_a_bounded_time_for_a_gil_held_long():
    """A thread without the GIL that allocates while another thread holds the
    GIL for 2 s in one C call gets its block back in a bounded time (the stack
    is given up), not after the 2 s."""
    out = _run_with_timed_malloc("""
        took, ready = [], threading.Event()

        def allocate():
            ready.set()
            # In C without the GIL: the main thread is in usleep by the time
            # this allocates.
            took.append(lib.timed_raw_malloc(4099, 300_000))

        worker = threading.Thread(target=allocate)
        worker.start()
        ready.wait()
        sleep_with_the_gil(2_000_000)
        worker.join()
        counters = _core.get_tracer_counters()
        _core.stop()
        assert took and 0 <= took[0] < 1e9, (took, counters)
        assert counters["gil_timeouts"] >= 1, counters
        print("ok")
    """)
    assert out.strip() == "ok"


def test_a_repeated_raw_allocation_site_needs_no_gil():
    """A thread without the GIL that allocates again where it allocated
    before finds its stack in the cache: no servant, no wait, even while
    another thread holds the GIL for 2 s; and it keeps its frames."""
    out = _run_with_timed_malloc("""
        took, warm = [], threading.Event()

        def allocate_here():
            for delay in (0, 300_000):       # the same stack both times
                took.append(lib.timed_raw_malloc(4099, delay))
                warm.set()

        worker = threading.Thread(target=allocate_here)
        worker.start()
        warm.wait()
        sleep_with_the_gil(2_000_000)
        worker.join()
        counters = _core.get_tracer_counters()
        _core.stop()
        assert len(took) == 2 and 0 <= took[1] < 20e6, (took, counters)
        assert counters["gil_timeouts"] == 0, counters
        print("ok")
    """)
    assert out.strip() == "ok"


def test_a_forked_child_reads_stacks_without_the_gil_again():
    """The stack servant is a thread: a forked child has none. Its first RAW
    allocation without the GIL starts one there, and gets its frames."""
    out = run_isolated(
        """
        import ctypes, os
        from heaplens import _core
        libc = ctypes.CDLL(None)
        libc.PyMem_RawMalloc.restype = ctypes.c_void_p
        libc.PyMem_RawMalloc.argtypes = [ctypes.c_size_t]
        libc.PyMem_RawFree.argtypes = [ctypes.c_void_p]
        _core.start(5)

        def allocate_in(where):
            return libc.PyMem_RawMalloc(7001 if where == "parent" else 7003)

        def frames_of(size):
            snap = _core.take_snapshot()
            return [snap.stack_functions()[snap.trace(i)[2]] for i in range(snap.n_traces)
                    if snap.trace(i)[1] == size]

        kept = allocate_in("parent")            # the parent's servant starts
        assert any("allocate_in" in f for f in frames_of(7001)), frames_of(7001)
        pid = os.fork()
        if pid == 0:
            block = allocate_in("child")
            found = frames_of(7003)
            ok = (len(found) == 1 and "allocate_in" in found[0]
                  and _core.get_tracer_counters()["gil_timeouts"] == 0)
            libc.PyMem_RawFree(block)
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        libc.PyMem_RawFree(kept)
        _core.stop()
        print("ok")
    """,
        timeout=60,
    )
    assert out.strip() == "ok"


def test_stdlib_tracemalloc_over_heaplens_with_threads_without_the_gil():
    """The stdlib tracemalloc started after heaplens wraps heaplens's RAW hook
    and, on 3.15, calls it under its own table lock from threads that do not
    hold the GIL, while the GIL's holder waits for that lock: this hung on
    3.15 (the RAW hook waited for the GIL). Both tracers keep going."""
    out = run_isolated(
        """
        import ctypes, threading, time, tracemalloc
        from heaplens import _core
        libc = ctypes.CDLL(None)
        libc.PyMem_RawMalloc.restype = ctypes.c_void_p
        libc.PyMem_RawMalloc.argtypes = [ctypes.c_size_t]
        libc.PyMem_RawFree.argtypes = [ctypes.c_void_p]
        _core.start(3)
        tracemalloc.start(3)
        stop = threading.Event()
        rounds = []

        def raw():
            n = 0
            while not stop.is_set():
                libc.PyMem_RawFree(libc.PyMem_RawMalloc(100))
                n += 1
            rounds.append(n)

        threads = [threading.Thread(target=raw) for _ in range(4)]
        for t in threads:
            t.start()
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            keep = [str(i) for i in range(1000)]
        stop.set()
        for t in threads:
            t.join()
        tracemalloc.stop()
        _core.stop()
        assert len(rounds) == 4 and min(rounds) > 0, rounds
        print("ok")
    """,
        timeout=60,
    )
    assert out.strip() == "ok"


def test_threads_python_does_not_know_are_recorded_with_no_frames():
    """pthreads with no Python thread state (native/raw_threads.c) allocating
    with PyMem_RawMalloc, reallocating and freeing: recorded with no frames
    ("<unknown>", line 0, as tracemalloc records them), never a hang or a
    crash; a realloc of a block another thread allocated with a stack moves
    its trace."""
    from native import build

    out = run_isolated(
        f"LIB = {build('raw_threads')!r}\n"
        + textwrap.dedent("""
        import ctypes
        from heaplens import _core
        lib = ctypes.CDLL(LIB)
        lib.raw_threads_alloc_kept.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_size_t,
                                               ctypes.c_void_p]
        lib.raw_threads_realloc_all.argtypes = [ctypes.c_size_t, ctypes.c_void_p,
                                                ctypes.c_size_t, ctypes.c_int]
        lib.raw_threads_free_all.argtypes = [ctypes.c_size_t, ctypes.c_void_p]
        libc = ctypes.CDLL(None)
        libc.PyMem_RawMalloc.restype = ctypes.c_void_p
        libc.PyMem_RawMalloc.argtypes = [ctypes.c_size_t]

        def sizes(snap):
            return [snap.trace(i)[1] for i in range(snap.n_traces)]

        for nframe, rate in ((1, 0), (8, 0), (4, 64)):
            _core.start(nframe, sample_rate=rate)
            n = 4 * 250
            kept = (ctypes.c_void_p * n)()
            assert lib.raw_threads_alloc_kept(4, 250, 3001, kept) == 0
            snap = _core.take_snapshot()
            if rate == 0:
                assert sizes(snap).count(3001) == n, sizes(snap).count(3001)
                counters = _core.get_tracer_counters()
                assert counters["unknown_stacks"] >= n, counters
                stacks = {snap.trace(i)[2] for i in range(snap.n_traces) if snap.trace(i)[1] == 3001}
                assert [snap.stacks()[s] for s in stacks] == [((("<unknown>", 0),), 1)], [
                    snap.stacks()[s] for s in stacks]
            # Blocks allocated here, with a stack, reallocated over there.
            mine = (ctypes.c_void_p * 200)(*[libc.PyMem_RawMalloc(700) for _ in range(200)])
            assert lib.raw_threads_realloc_all(200, mine, 9001, 4) == 0
            assert lib.raw_threads_realloc_all(n, kept, 5003, 3) == 0
            snap = _core.take_snapshot()
            if rate == 0:
                assert sizes(snap).count(700) == 0
                assert sizes(snap).count(9001) == 200, sizes(snap).count(9001)
                assert sizes(snap).count(5003) == n
            lib.raw_threads_free_all(200, mine)
            lib.raw_threads_free_all(n, kept)
            snap = _core.take_snapshot()
            assert not {9001, 5003, 3001} & set(sizes(snap))
            assert _core.get_tracer_counters()["dropped"] == 0
            _core.stop()
        print("ok")
    """)
    )
    assert out.strip() == "ok"


def test_fork_while_tracing_child_keeps_working():
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    run_isolated("""
        import os, threading, time
        from heaplens import _core

        busy = True
        def churn():
            while busy:
                bytearray(5000)   # RAW-domain traffic under raw_lock
        t = threading.Thread(target=churn)
        _core.start(4)
        t.start()
        held = [list(range(100)) for _ in range(1000)]
        for _ in range(20):
            pid = os.fork()
            if pid == 0:
                # Child: only this thread exists; the tracer must keep working.
                more = [dict(a=i) for i in range(2000)]
                snap = _core.take_snapshot()
                ok = snap.n_traces >= 2000 and _core.get_traced_memory()[0] > 0
                del more
                _core.stop()
                os._exit(0 if ok else 3)
            _, status = os.waitpid(pid, 0)
            assert os.WEXITSTATUS(status) == 0, status
        busy = False
        t.join()
        assert _core.take_snapshot().n_traces >= 1000
        _core.stop()
    """)


def test_blocks_allocated_before_start_and_freed_after():
    before = [bytearray(100) for _ in range(1000)]
    _core.start(1)
    try:
        current0, _ = _core.get_traced_memory()
        del before[:]  # frees of blocks the tracer never saw
        gc.collect()
        current1, _ = _core.get_traced_memory()
        assert current1 <= current0 + 4096  # nothing went negative or wrong
        assert _core.get_tracer_counters()["dropped"] == 0
    finally:
        _core.stop()


def test_stop_frees_everything_the_tracer_held():
    import weakref

    namespace = {}
    exec(
        compile("def make():\n    return [object() for _ in range(10)]\n", "<dynamic>", "exec"),
        namespace,
    )
    code_ref = weakref.ref(namespace["make"].__code__)
    _core.start(3)
    kept = namespace["make"]()
    assert _core.get_tracer_memory() > 0
    assert _core.get_object_traceback(kept[0]) is not None
    del namespace["make"]
    gc.collect()
    assert code_ref() is not None  # the tracer keeps code objects of its stacks alive
    _core.stop()
    gc.collect()
    assert code_ref() is None  # ... and lets go of them on stop
    assert _core.get_tracer_memory() == 0
    assert _core.get_traced_memory() == (0, 0)
    assert _core.get_object_traceback(kept[0]) is None


def test_tracing_through_memory_error():
    _core.start(2)
    try:
        with pytest.raises(MemoryError):
            bytearray(1 << 62)
        big = bytearray(10 * 1024 * 1024)
        current, peak = _core.get_traced_memory()
        assert current >= 10 * 1024 * 1024
        del big
        current2, peak2 = _core.get_traced_memory()
        assert current2 <= current - 10 * 1024 * 1024 + 4096
        assert peak2 >= peak
    finally:
        _core.stop()


def test_peak_is_exact_with_reuse_of_freed_blocks():
    """Freeing and reallocating same-size blocks (pymalloc hands back the last
    freed block) must not inflate the peak."""
    _core.start(1)
    try:
        blocks = [bytearray(200) for _ in range(2000)]
        _core.reset_peak()
        base, peak0 = _core.get_traced_memory()
        assert peak0 == base
        for i in range(20000):
            blocks[i % 2000] = bytearray(200)  # one freed, one allocated: no growth
        current, peak = _core.get_traced_memory()
        assert abs(current - base) < 4096
        assert peak - base < 4096, (peak, base)
    finally:
        _core.stop()


def test_start_rejects_bad_nframe_and_threads_may_race_start_stop():
    with pytest.raises(ValueError):
        _core.start(0)
    with pytest.raises(ValueError):
        _core.start(65536)
    errors = []

    def toggle():
        try:
            for i in range(200):
                _core.start(1 + i % 3)
                [object() for _ in range(50)]
                _core.stop()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=toggle) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _core.stop()
    assert not errors
    assert not _core.is_tracing()


def test_stdlib_tracemalloc_hooked_on_top_of_heaplens():
    """The stdlib tracer started after heaplens wraps heaplens's allocators.
    heaplens must then not unhook on stop (that would cut the stdlib's hooks
    out), both must see allocations while both trace, and heaplens must be
    able to start again under it."""
    run_isolated("""
        import tracemalloc
        from heaplens import _core

        _core.start(2)
        tracemalloc.start(2)
        blocks = [bytearray(1000) for _ in range(100)]
        assert _core.get_traced_memory()[0] >= 100_000
        assert tracemalloc.get_traced_memory()[0] >= 100_000
        _core.stop()                       # cannot unhook: tracemalloc is on top
        more = [bytearray(1000) for _ in range(100)]
        assert tracemalloc.get_traced_memory()[0] >= 200_000
        _core.start(3)                     # reuses the wrapper still in place
        again = [bytearray(1000) for _ in range(100)]
        assert _core.get_traced_memory()[0] >= 100_000
        tracemalloc.stop()
        del blocks, more, again
        _core.stop()
        _core.start(1)                     # now unhooked and hooked cleanly
        x = [bytearray(1000) for _ in range(10)]
        assert _core.get_traced_memory()[0] >= 10_000
        _core.stop()
    """)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="per-interpreter GIL arrived in 3.12")
def test_isolated_subinterpreters_allocate_concurrently_without_harm():
    """A subinterpreter with its own GIL allocates in parallel with the main
    one. heaplens traces only the main interpreter, so the two never race on
    its tables; the main interpreter's traces stay right."""
    run_isolated("""
        import sys, threading
        try:
            import _interpreters as interpreters
        except ImportError:
            import _xxsubinterpreters as interpreters
        from heaplens import _core

        _core.start(3)
        interp = interpreters.create()
        code = "blocks = []\\nfor i in range(200000):\\n    blocks.append([i] * 5)\\n"
        worker = threading.Thread(target=interpreters.run_string, args=(interp, code))
        worker.start()
        mine = [{"i": i} for i in range(200000)]; line = sys._getframe().f_lineno
        worker.join()
        interpreters.destroy(interp)
        snap = _core.take_snapshot()
        lines = {snap.frame(k)[1]: count for k, size, count in snap.group(1, False)}
        assert lines.get(line, 0) >= 200000, lines  # the main interpreter's dicts
        assert lines.get(3, 0) < 1000, lines  # the subinterpreter's line 3 is not traced
        assert _core.get_tracer_counters()["dropped"] == 0
        _core.stop()
    """)


def test_tracing_left_on_at_exit_is_stopped_cleanly():
    out = run_isolated("""
        from heaplens import _core
        _core.start(5)
        keep = [bytearray(100) for _ in range(1000)]
        print("exiting while tracing")
    """)
    assert "exiting while tracing" in out

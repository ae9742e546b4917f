"""Code that runs inside the tracer's own work: a weakref callback run when
stop() gives back a code object, and a native allocator that allocates again
from inside the allocation path (as jemalloc's tests call malloc from inside
its hooks). Each runs in a fresh interpreter: the failure is a crash or a
hang."""

import pytest

from isolated import run_isolated
from native import build


def test_a_weakref_callback_that_starts_tracing_during_stop():
    """stop() gives back the code objects its stacks held; a weakref callback
    on one of them may call start(). stop() used to free the tables after
    giving them back, so the callback's new tables were freed under it and
    the next allocation wrote into freed memory (issue 15, defect 11)."""
    out = run_isolated(
        """
        import gc, weakref
        import heaplens
        from heaplens import _core

        started_in_callback = []

        def restart(ref):
            heaplens.start(5)
            started_in_callback.append([bytearray(100) for _ in range(50)])

        namespace = {}
        exec(compile("def alloc():\\n    return [bytearray(64) for _ in range(10)]\\n",
                     "<only_the_tracer_keeps_me>", "exec"), namespace)
        heaplens.start(5)
        kept = namespace["alloc"]()
        code = namespace["alloc"].__code__
        watch = weakref.ref(code, restart)
        del namespace, code
        gc.collect()
        assert watch() is not None, "only the tracer should keep the code object now"
        heaplens.stop()
        assert watch() is None, "stop() did not give the code object back"
        assert started_in_callback, "the callback did not run"
        assert heaplens.is_tracing()
        more = [bytearray(1000) for _ in range(1000)]
        snap = _core.take_snapshot()
        assert snap.n_traces >= 1000, snap.n_traces
        assert _core.get_traced_memory()[0] >= 1_000_000
        _core.clear_traces()
        heaplens.stop()
        print("ok")
        """,
        timeout=60,
    )
    assert out.strip() == "ok"


def test_a_weakref_callback_that_starts_tracing_during_clear_traces():
    out = run_isolated(
        """
        import gc, weakref
        import heaplens
        from heaplens import _core

        def restart(ref):
            heaplens.stop()
            heaplens.start(3)

        namespace = {}
        exec(compile("def alloc():\\n    return [bytearray(64) for _ in range(10)]\\n",
                     "<only_the_tracer_keeps_me>", "exec"), namespace)
        heaplens.start(5)
        kept = namespace["alloc"]()
        watch = weakref.ref(namespace["alloc"].__code__, restart)
        del namespace
        gc.collect()
        _core.clear_traces()
        assert watch() is None
        assert heaplens.is_tracing() and _core.get_traceback_limit() == 3
        more = [bytearray(1000) for _ in range(500)]
        assert _core.take_snapshot().n_traces >= 500
        heaplens.stop()
        print("ok")
        """,
        timeout=60,
    )
    assert out.strip() == "ok"


# An allocator wrapper (native/reentrant_alloc.c) that allocates again through
# the top of the chain from inside every allocator call, installed in front of
# heaplens's hooks or behind them; with threads that allocate without the GIL
# and with no thread state at the same time.
_REENTRANT = """
import ctypes, threading
import heaplens
from heaplens import _core

wrapper = ctypes.PyDLL(WRAPPER)        # keeps the GIL: installing needs it
wrapper.reentrant_inner_calls.restype = ctypes.c_uint64
raw = ctypes.CDLL(RAW_THREADS)
raw.raw_threads_churn_start.argtypes = [ctypes.c_int, ctypes.c_size_t]
raw.raw_threads_churn_stop.restype = ctypes.c_uint64
INNER = 4321

def sizes(snap):
    return [snap.trace(i)[1] for i in range(snap.n_traces)]

def allocate():
    big = [bytearray(77_777) for _ in range(20)]      # RAW, through pymalloc
    lists = [[None] * 3000 for _ in range(20)]        # MEM or OBJ, 24 KB each
    small = [str(i) * 3 for i in range(2000)]         # OBJ, pymalloc
    return big, lists, small

for where, rate in [(WHERE, RATE)]:
    if True:
        before = wrapper.reentrant_inner_calls()
        if where == "behind":
            assert wrapper.reentrant_install() == 0
            heaplens.start(4, sample_rate=rate)
        else:
            heaplens.start(4, sample_rate=rate)
            assert wrapper.reentrant_install() == 0
        assert raw.raw_threads_churn_start(2, 600) == 0
        kept = allocate()
        raw.raw_threads_churn_stop()
        snap = _core.take_snapshot()
        assert wrapper.reentrant_inner_calls() > before + 1000, "nothing re-entered"
        if rate == 0:
            found = sizes(snap)
            bytearrays = [s for s in found if 77_777 <= s <= 77_900]  # 3.15: a bytes inside
            assert len(bytearrays) == 20, (where, len(bytearrays))
            # The inner blocks are freed at once: none may be left traced.
            assert INNER not in found and INNER + 1 not in found, where
            big_lists = [s for s in found if 3000 * 8 <= s <= 3000 * 8 + 200]
            assert len(big_lists) >= 20, (where, len(big_lists))
        else:
            assert _core.get_traced_memory()[0] > 0
        counters = _core.get_tracer_counters()
        assert counters["dropped"] == 0 and counters["bad_stack_ids"] == 0, counters
        if where == "behind":
            # heaplens's RAW wrapper stays over ours after stop (hooks.c), so
            # ours stays too, still called, until the process ends.
            heaplens.stop()
        else:
            assert wrapper.reentrant_uninstall() == 0
            heaplens.stop()
        del kept
print("ok")
"""


@pytest.mark.parametrize("rate", [0, 1024], ids=["exact", "sampled"])
@pytest.mark.parametrize("where", ["behind", "in front"])
def test_an_allocator_that_allocates_from_inside_the_allocation_path(where, rate):
    """Issue 15: a re-entrancy test for the hooks. Neither endless recursion,
    nor a deadlock, nor a lost outer allocation."""
    code = (
        f"WRAPPER = {build('reentrant_alloc')!r}\nRAW_THREADS = {build('raw_threads')!r}\n"
        f"WHERE = {where!r}\nRATE = {rate}\n" + _REENTRANT
    )
    out = run_isolated(code, timeout=120)
    assert out.strip() == "ok"

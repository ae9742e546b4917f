"""Code that runs inside the tracer's own work: a weakref callback run when
stop() gives back a code object, and a native allocator that allocates again
from inside the allocation path (as jemalloc's tests call malloc from inside
its hooks). Each runs in a fresh interpreter: the failure is a crash or a
hang."""

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

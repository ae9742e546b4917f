"""heaplens when the core's allocations fail (issue 15: "fail the Nth malloc").

These tests run against an extension built with -Dfault_injection=true
(`make pytest-fault`, and the ASan build of `make pytest-asan`), whose
_core._fault_inject(n, persistent=False) makes the core's nth allocation from
now fail (and every later one when persistent) until _core._fault_disarm().
Elsewhere they are skipped. They check the promises that hold when memory
runs out:

- the tracer's failures are benign: the user's allocation succeeds, the
  block is counted in get_tracer_counters()['dropped'], snapshots still work,
  and tracing records again once memory is back;
- a heap-graph query or a capture write that runs out raises MemoryError
  (never RuntimeError or ValueError) and leaves nothing half-done: the same
  graph answers the same query correctly afterwards, and no capture file or
  .part file is left behind.

The tracer tests run in a fresh interpreter (a crash there must fail a test,
not end the run).
"""

import ctypes
import gc
import os

import pytest

import heaplens
import heaplens.tracemalloc as hl
from heaplens import _core
from isolated import run_isolated

pytestmark = pytest.mark.skipif(
    not hasattr(_core, "_fault_inject"),
    reason="needs an extension built with -Dfault_injection=true (make pytest-fault)",
)


def _fail_each(operation, check, limit=2000):
    """Run operation() with the core's nth allocation failing, for n = 1, 2, ...
    until it runs with no allocation failed; check(result, failed) after each
    run (result is the MemoryError when it raised one). Returns the number
    of runs in which an allocation failed."""
    for n in range(1, limit):
        _core._fault_inject(n)
        try:
            result = operation()
        except MemoryError as error:
            result = error
        finally:
            _seen, failed = _core._fault_disarm()
        check(result, failed)
        if not failed:
            return n - 1
    raise AssertionError(f"still failing allocations after {limit} runs")


def test_knob():
    _core._fault_inject(1)
    seen, failed = _core._fault_disarm()
    assert (seen, failed) == (0, 0)  # nothing allocated in the core meanwhile
    with pytest.raises(ValueError):
        _core._fault_inject(0)


# ---- the tracer: a failure costs a dropped trace, never the user's block ------

_TRACER = """
import ctypes, sys
import heaplens, heaplens.tracemalloc as hl
from heaplens import _core

SUMS = {sums}
_core.start(5, sums=SUMS)
dropped = heaplens.get_tracer_counters()["dropped"]

# New code objects make new stacks, so the stack table must grow as well.
makers = []
for i in range(300):
    namespace = {{}}
    exec(f"def make_{{i}}(n):\\n    return bytearray(n)", namespace)
    makers.append(namespace[f"make_{{i}}"])

raw_malloc = ctypes.pythonapi.PyMem_RawMalloc
raw_malloc.restype = ctypes.c_void_p
raw_malloc.argtypes = [ctypes.c_size_t]
raw_free = ctypes.pythonapi.PyMem_RawFree
raw_free.argtypes = [ctypes.c_void_p]

_core._fault_inject(1, persistent=True)  # from now on every core allocation fails
keep = [makers[i % 300](16 + i % 700) for i in range(60000)]
raw = [raw_malloc(100 + i) for i in range(3000)]
seen, failed = _core._fault_disarm()

# the user's allocations all succeeded, with their contents
assert all(len(b) == 16 + i % 700 for i, b in enumerate(keep)), "a user block went wrong"
assert all(raw), "a PyMem_RawMalloc returned NULL"
for pointer in raw:
    raw_free(pointer)
assert failed > 0, (seen, failed)
lost = heaplens.get_tracer_counters()["dropped"] - dropped
assert lost > 0, "no trace counted as dropped"

# snapshots work, and tracing records again now that memory is back
first = hl.take_snapshot() if not SUMS else _core.take_sums_snapshot(False)
again = [makers[7](5000) for _ in range(100)]
if SUMS:
    second = _core.take_sums_snapshot(False)
    sized = heaplens.get_traced_memory()[0]
else:
    second = hl.take_snapshot()
    here = [s for s in second.statistics("lineno") if s.traceback[0].filename == "<string>"]
    assert sum(s.count for s in here) >= 100, here
_core.stop()
print("ok", failed, lost)
"""


@pytest.mark.parametrize("sums", [False, True], ids=["blocks", "sums"])
def test_tracer_drops_traces_and_keeps_user_allocations(sums):
    out = run_isolated(_TRACER.format(sums=sums), timeout=120)
    words = out.split()
    assert words[0] == "ok", out
    assert int(words[1]) > 0 and int(words[2]) > 0, out


_TRACER_NTH = """
import heaplens, heaplens.tracemalloc as hl
from heaplens import _core
hl.start(3)
total_failed = 0
for n in range(1, 60):
    _core._fault_inject(n)
    keep = [bytearray(24 + i % 500) for i in range(4000)]
    keep += [str(i) * 2 for i in range(2000)]
    _seen, failed = _core._fault_disarm()
    total_failed += failed
    assert len(keep) == 6000 and len(keep[3999]) == 24 + 3999 % 500
    snapshot = hl.take_snapshot()
    assert snapshot.statistics("filename")
    del keep
hl.stop()
assert total_failed > 0
print("ok", total_failed, heaplens.get_tracer_counters()["dropped"])
"""


def test_tracer_survives_each_single_failure():
    assert run_isolated(_TRACER_NTH, timeout=120).startswith("ok")


# ---- snapshots and their statistics -----------------------------------------


def test_take_snapshot_under_failures():
    hl.start(4)
    try:
        keep = [bytearray(100 + i) for i in range(200)]  # noqa: F841
        size = hl.get_traced_memory()[0]

        def check(result, failed):
            if isinstance(result, MemoryError):
                assert failed
            else:
                assert sum(t.size for t in result.traces) > 0
            assert hl.get_traced_memory()[0] >= size  # the tables were not touched

        _fail_each(hl.take_snapshot, check)
        snapshot = hl.take_snapshot()
    finally:
        hl.stop()
    expected = snapshot.statistics("lineno")

    def check_stats(result, failed):
        if isinstance(result, MemoryError):
            assert failed
        else:
            assert result == expected

    _fail_each(lambda: snapshot.statistics("lineno"), check_stats)
    _fail_each(lambda: snapshot.statistics("traceback"), lambda r, f: None)


# ---- heap-graph queries: MemoryError, and the graph still answers ----------------


class _Node:
    def __init__(self, payload):
        self.payload = payload
        self.next = None


@pytest.fixture(scope="module")
def heap_shape():
    """A structure with a known answer to every query: a ring of 50 nodes
    (a cycle) each holding 1 KiB, kept only by a module-level list, which
    therefore retains all of it."""
    ring = [_Node(bytearray(1024)) for _ in range(50)]
    for a, b in zip(ring, ring[1:] + ring[:1]):
        a.next = b
    holder = [ring[0]]
    del ring, a, b
    globals()["_HOLDER"] = holder
    yield holder
    globals().pop("_HOLDER", None)


def _queries(holder):
    from heaplens._graph.cycles import cycles
    from heaplens._graph.retained import retained, top_retainers

    tenth = holder[0]
    for _ in range(10):
        tenth = tenth.next
    return {
        # Answers that do not depend on which objects are roots at the walk
        # (that changes with what the test itself holds at that moment).
        "why_alive": lambda heap: heap.why_alive(tenth).found,
        "referrers": lambda heap: sorted({r.label for r in heap.referrers(tenth)}),
        "retained": lambda heap: retained(holder, heap=heap),
        "top_retainers": lambda heap: len(top_retainers(3, heap=heap)),
        "cycles": lambda heap: any("_Node" in group.shape for group in cycles(heap=heap)),
    }


@pytest.mark.parametrize("name", ["why_alive", "referrers", "retained", "top_retainers", "cycles"])
def test_graph_queries_raise_memory_error_and_leave_the_graph_whole(heap_shape, name):
    from heaplens._graph.heap import HeapGraph

    query = _queries(heap_shape)[name]
    expected = query(HeapGraph())
    assert expected, expected
    if name == "retained":
        assert expected >= 50 * 1024
    for n in range(1, 400):
        gc.collect()
        heap = HeapGraph()
        _core._fault_inject(n)
        try:
            answer = query(heap)
        except MemoryError:
            answer = None
        except Exception as error:  # RuntimeError, ValueError...: the bug this guards
            _core._fault_disarm()
            raise AssertionError(f"{name} with allocation {n} failing raised {error!r}") from None
        _seen, failed = _core._fault_disarm()
        if answer is not None:
            assert answer == expected, (n, answer)
        else:
            assert failed, "MemoryError without a failed allocation"
        # nothing half-done: the same graph answers right afterwards
        assert query(heap) == expected, n
        if not failed:
            assert n > 1, f"{name} allocated nothing in the core: the test tests nothing"
            break
    else:
        raise AssertionError(f"{name}: allocations still failing after 400 runs")


def test_graph_build_raises_memory_error(heap_shape):
    from heaplens._graph.heap import HeapGraph

    outcomes = set()
    for n in (1, 2, 3, 5, 8, 13, 21, 34, 55, 89):
        _core._fault_inject(n)
        try:
            heap = HeapGraph()
        except MemoryError:
            outcomes.add("MemoryError")
        else:
            outcomes.add("built")
            assert heap.graph.find(heap_shape[0]) >= 0
        finally:
            _core._fault_disarm()
    assert "MemoryError" in outcomes
    heap = HeapGraph()
    assert heap.graph.find(heap_shape[0]) >= 0


# ---- capture files: MemoryError, and no file left behind ------------------------


@pytest.fixture(scope="module")
def snapshot():
    hl.start(5)
    keep = [bytearray(64 + i) for i in range(300)]
    snapshot = hl.take_snapshot()
    hl.stop()
    del keep
    return snapshot


def _assert_no_file(path):
    assert not os.path.exists(path)
    assert not os.path.exists(str(path) + ".part")


def test_snapshot_dump_and_load(snapshot, tmp_path):
    path = tmp_path / "dump.hlc"

    def check(result, failed):
        if isinstance(result, MemoryError):
            assert failed
            assert str(path) in str(result)
            _assert_no_file(path)
        else:
            os.remove(path)

    assert _fail_each(lambda: snapshot.dump(path), check) > 0
    snapshot.dump(path)

    def check_load(result, failed):
        if isinstance(result, MemoryError):
            assert failed
        else:
            assert result.traces == snapshot.traces

    assert _fail_each(lambda: hl.Snapshot.load(path), check_load) > 0


def test_capture_write_and_load(snapshot, tmp_path):
    from heaplens._trace.capture import Capture
    from heaplens._trace.recorder import load_capture, save_capture

    path = tmp_path / "run.hlc"
    capture = Capture({"peak": snapshot, "exit": snapshot}, None, {"python": "3"}, str(path))

    def check(result, failed):
        if isinstance(result, MemoryError):
            assert failed
            assert str(path) in str(result)
            _assert_no_file(path)
        else:
            os.remove(path)

    assert _fail_each(lambda: save_capture(capture, path), check) > 0
    save_capture(capture, path)

    def check_load(result, failed):
        if isinstance(result, MemoryError):
            assert failed
        else:
            assert result.snapshots["exit"].traces == snapshot.traces

    assert _fail_each(lambda: load_capture(path), check_load) > 0
    assert heaplens.load(path).info == {"python": "3"}


def test_raw_blocks_still_free_after_failures():
    """Blocks that were dropped are unknown to the tracer: freeing them later
    must be harmless (nothing to remove, nothing to miscount)."""
    hl.start(2)
    try:
        malloc = ctypes.pythonapi.PyMem_RawMalloc
        malloc.restype = ctypes.c_void_p
        malloc.argtypes = [ctypes.c_size_t]
        free = ctypes.pythonapi.PyMem_RawFree
        free.argtypes = [ctypes.c_void_p]
        dropped = heaplens.get_tracer_counters()["dropped"]
        _core._fault_inject(1, persistent=True)
        blocks = [malloc(300 + 4096 * (i % 3)) for i in range(500)]
        _core._fault_disarm()
        assert heaplens.get_tracer_counters()["dropped"] > dropped
        for block in blocks:
            assert block
            free(block)
        assert hl.take_snapshot().traces is not None
    finally:
        hl.stop()

"""The tracer against threads that do not hold the GIL and threads Python does
not know, while the main thread clears, snapshots, stops and starts.

Python threads call PyMem_RawMalloc through ctypes.CDLL, which releases the
GIL around the call: the RAW hook must take the GIL itself to capture their
stack. pthreads made by native/raw_threads.c have no thread state at all.
Each test runs in a fresh interpreter (run_isolated), so a crash or a hang
fails the test instead of taking pytest down."""

from isolated import run_isolated
from native import build

# Python threads that allocate RAW blocks with the GIL released, each at
# stacks of changing depth, so that every epoch of the stack table holds
# hundreds of stacks and an id kept from an older one points past the end of
# a table just cleared. `lib` is the raw_threads library.
RACE_PRELUDE = """
import ctypes, sys, threading, time
from heaplens import _core

libc = ctypes.CDLL(None)     # calls release the GIL
libc.PyMem_RawMalloc.restype = ctypes.c_void_p
libc.PyMem_RawMalloc.argtypes = [ctypes.c_size_t]
libc.PyMem_RawFree.argtypes = [ctypes.c_void_p]
lib = ctypes.CDLL(LIB)
lib.raw_threads_churn_start.argtypes = [ctypes.c_int, ctypes.c_size_t]
lib.raw_threads_churn_stop.restype = ctypes.c_uint64

stop = threading.Event()
done = []

def dive(depth, k):
    if depth:
        return dive(depth - 1, k)
    ptrs = [libc.PyMem_RawMalloc(64 + k) for _ in range(20)]
    for p in ptrs:
        libc.PyMem_RawFree(p)

def worker(k):
    n = 0
    while not stop.is_set():
        dive(n % 40, k)
        n += 1
    done.append(n)

def check(snap):
    # Every trace must point at a stack of the snapshot: a stack id from an
    # older epoch of the tracer's table points anywhere (or past its end).
    n_stacks = snap.n_stacks
    for i in range(snap.n_traces):
        stack = snap.trace(i)[2]
        assert 0 <= stack < n_stacks, (i, stack, n_stacks)
"""


def test_clear_traces_racing_gil_less_raw_allocations_never_keeps_stale_stacks():
    """Defect 1 of issue 15: a RAW allocation interns its stack under a
    borrowed GIL, then records it under raw_lock; clear_traces() in between
    used to let the stale id into the fresh table, and the next snapshot
    read id_map out of bounds (ASan: heap-buffer-overflow in
    hl__resolve_snapshot)."""
    out = run_isolated(
        f"LIB = {build('raw_threads')!r}\n"
        + RACE_PRELUDE
        + """
_core.start(64)
threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
for t in threads:
    t.start()
assert lib.raw_threads_churn_start(4, 200) == 0
deadline = time.monotonic() + 4
rounds = 0
try:
    while time.monotonic() < deadline:
        _core.clear_traces()
        check(_core.take_snapshot())
        if rounds % 8 == 7:
            time.sleep(0.002)   # let the tables fill up again
        rounds += 1
finally:
    stop.set()
    for t in threads:
        t.join()
    blocks = lib.raw_threads_churn_stop()
counters = _core.get_tracer_counters()
_core.stop()
assert counters.get("bad_stack_ids", 0) == 0, counters
assert blocks > 0 and sum(done) > 0
print("rounds", rounds, "stale", counters.get("stale_stacks"))
""",
        timeout=120,
    )
    assert int(out.split()[1]) > 20, out


def test_stop_and_start_racing_gil_less_raw_allocations():
    out = run_isolated(
        f"LIB = {build('raw_threads')!r}\n"
        + RACE_PRELUDE
        + """
threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
_core.start(16)
for t in threads:
    t.start()
assert lib.raw_threads_churn_start(3, 300) == 0
deadline = time.monotonic() + 3
rounds = 0
try:
    while time.monotonic() < deadline:
        check(_core.take_snapshot())
        _core.stop()
        _core.start(1 + rounds % 30, sample_rate=(4096 if rounds % 3 == 1 else 0),
                    sums=rounds % 3 == 2)
        rounds += 1
finally:
    stop.set()
    for t in threads:
        t.join()
    lib.raw_threads_churn_stop()
counters = _core.get_tracer_counters()
_core.stop()
assert counters.get("bad_stack_ids", 0) == 0, counters
print("rounds", rounds)
""",
        timeout=120,
    )
    assert int(out.split()[1]) > 5, out

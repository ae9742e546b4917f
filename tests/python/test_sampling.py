"""Sampling by bytes (start(sample_rate=...)): the estimates, and the fast
paths that let most allocations and frees skip the tracer.

While sampling, a free looks at a filter of the recorded blocks before the
live table; allocators hand the same addresses out again and again, so a
filter that forgot a recorded block, or that never let go of a freed one,
would show here as traces that outlive their blocks or as wrong estimates.
Each test runs in a fresh interpreter: the RAW ones call the allocator from
threads without the GIL.

pymalloc grows its table of arenas with PyMem_RawRealloc from inside an
allocation. While sampling, that allocation goes straight through without
the wrappers' guard, so the table may be recorded at the line that made it
grow: a real block, which exact tracing (like tracemalloc) leaves out as
nested. The scripts grow it before tracing starts, so the lines they check
hold only their own blocks.
"""

import textwrap

from isolated import run_isolated


# The scripts' helpers: the traces, estimated bytes and estimated blocks of
# what was allocated at the script's line marked with `marker`.
_HELPERS = """\
import heaplens
from heaplens import tracemalloc as tm

def grow_pymalloc_arena_table(megabytes):
    blocks = [bytes(100) for _ in range(megabytes * 7500)]
    del blocks

def at_line(marker):
    with open(__file__) as f:
        line = next(i for i, text in enumerate(f, 1) if marker in text and "at_line" not in text)
    snap = heaplens.take_snapshot().filter_traces([tm.Filter(True, __file__, line)])
    stats = snap.statistics("lineno")
    return len(snap.traces), sum(s.size for s in stats), sum(s.count for s in stats)

"""


def test_freed_blocks_at_reused_addresses_leave_no_trace(tmp_path):
    # Small blocks (pymalloc's pools, the wrappers' fast path), blocks over
    # 512 bytes (pymalloc passes them to the RAW domain), and reallocs that
    # grow in place or move; tens of rounds at the same addresses.
    out = run_isolated(
        _HELPERS
        + textwrap.dedent(
            """\
        grow_pymalloc_arena_table(40)
        large_sizes = list(range(600, 900))
        heaplens.start(1, sample_rate=4096)
        kept = []
        for round in range(40):
            small = [bytes(n % 300) for n in range(3000)]  # SMALL
            large = [bytes(size) for size in large_sizes]  # LARGE
            grown = [bytearray(8) for _ in range(200)]  # GROWN
            for b in grown:
                b.extend(bytes(2000))
            kept.append(small[round])
        del small, large, grown, b
        print(at_line("# SMALL")[0], at_line("# LARGE")[0], at_line("# GROWN")[0])
        print(heaplens.get_tracer_counters()["dropped"])
            """
        ),
        script=tmp_path / "prog.py",
    )
    traces, dropped = out.splitlines()
    small, large, grown = map(int, traces.split())
    # Only the 40 kept blocks can still be traced at SMALL (each recorded
    # with probability below 8%; and, on 3.14, an int or two of the
    # comprehension that its int free list kept), none at LARGE or GROWN (no
    # int is made there: the sizes come from a list).
    assert small <= 40 and large == 0 and grown == 0, out
    assert dropped == "0"


def test_estimates_of_small_and_large_blocks_are_unbiased(tmp_path):
    out = run_isolated(
        _HELPERS
        + textwrap.dedent(
            """\
        grow_pymalloc_arena_table(120)
        heaplens.start(1, sample_rate=8192)
        N = 400_000
        small = [None] * N
        for i in range(N):
            small[i] = bytes(100)  # SMALL: 133 bytes each
        large = [None] * 20_000
        for i in range(20_000):
            large[i] = bytes(2000)  # LARGE: 2033 bytes each
        print(*at_line("# SMALL")[1:], *at_line("# LARGE")[1:])
        # Thousands of recorded blocks alive at once made the filter grow:
        # their frees must still all be seen.
        del small, large
        print(at_line("# SMALL")[0], at_line("# LARGE")[0])
            """
        ),
        script=tmp_path / "prog.py",
    )
    estimates, left = out.splitlines()
    assert left == "0 0", out
    small_bytes, small_count, large_bytes, large_count = map(int, estimates.split())
    # About 6,400 samples of the small blocks (sigma 1.3%) and 4,700 of the
    # large ones (sigma 1.5%, less since each is picked with p = 0.22):
    # 5 sigma, with room to spare.
    assert abs(small_bytes / (400_000 * 133) - 1) < 0.07, out
    assert abs(small_count / 400_000 - 1) < 0.07, out
    assert abs(large_bytes / (20_000 * 2033) - 1) < 0.08, out
    assert abs(large_count / 20_000 - 1) < 0.08, out


def test_raw_blocks_from_threads_without_the_gil_are_all_removed(tmp_path):
    # PyMem_RawMalloc and friends through ctypes.CDLL, which releases the
    # GIL around each call: allocated in some threads, reallocated and freed
    # in others, while the main thread allocates Python objects.
    out = run_isolated(
        _HELPERS
        + textwrap.dedent(
            """\
        import ctypes, threading
        lib = ctypes.CDLL(None)
        lib.PyMem_RawMalloc.restype = ctypes.c_void_p
        lib.PyMem_RawMalloc.argtypes = [ctypes.c_size_t]
        lib.PyMem_RawRealloc.restype = ctypes.c_void_p
        lib.PyMem_RawRealloc.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        lib.PyMem_RawFree.argtypes = [ctypes.c_void_p]

        grow_pymalloc_arena_table(60)
        heaplens.start(1, sample_rate=4096)
        base_current = heaplens.get_traced_memory()[0]
        handoff = [[] for _ in range(4)]

        # The marked lines allocate nothing else that outlives the test: the
        # lists grow on other lines, and the size is computed on another
        # (an int made on the marked line would be: 3.14 keeps the blocks of
        # freed small ints in a free list, traced where they were made).
        def allocate(k):
            size = 1000 + k
            for round in range(20):
                batch = []
                for _ in range(500):
                    ptr = lib.PyMem_RawMalloc(size)  # RAW
                    batch.append(ptr)
                handoff[k].append(batch)

        def reallocate_and_free(k):
            done = 0
            while done < 20:
                if not handoff[k]:
                    continue
                moved = []
                for ptr in handoff[k].pop(0):
                    ptr = lib.PyMem_RawRealloc(ptr, 3000)  # REALLOC
                    moved.append(ptr)
                for ptr in moved:
                    lib.PyMem_RawFree(ptr)
                done += 1

        threads = [threading.Thread(target=f, args=(k,))
                   for k in range(4) for f in (allocate, reallocate_and_free)]
        for t in threads:
            t.start()
        noise = [str(i) * 3 for i in range(200_000)]
        for t in threads:
            t.join()
        del noise
        counters = heaplens.get_tracer_counters()
        current = heaplens.get_traced_memory()[0]
        def traces_by_size(marker):  # (RAW blocks: 1000 bytes or more, others)
            with open(__file__) as f:
                line = next(i for i, text in enumerate(f, 1)
                            if marker in text and "traces_by_size" not in text)
            snap = heaplens.take_snapshot().filter_traces([tm.Filter(True, __file__, line)])
            # By the size of the block recorded, not the weighted size of the
            # trace: a sampled 56-byte block stands for about 4 KB.
            data = snap._data
            sizes = [data.trace(i)[1] / max(data.trace_count(i), 1)
                     for i in range(data.n_traces)]
            return sum(s >= 1000 for s in sizes), sum(s < 1000 for s in sizes)
        print(*traces_by_size("# RAW"), *traces_by_size("# REALLOC"), counters["dropped"],
              current - base_current)
            """
        ),
        script=tmp_path / "prog.py",
    )
    raw_traces, raw_small, realloc_traces, realloc_small, dropped, growth = map(int, out.split())
    # 40,000 blocks of about 1 KB, then 3 KB: about 11,000 and 21,000
    # recorded, and every one freed. The interpreter keeps one 56-byte block
    # (a tuple in its free list; traced exactly, it is always there), recorded
    # in about one run in seventy: at the REALLOC line, or, where the tracer
    # follows free-list reuse (3.13 and later), at whichever of the two lines
    # last made a tuple in it.
    assert raw_traces == 0 and realloc_traces == 0, out
    assert raw_small + realloc_small <= 1, out
    assert dropped == 0
    assert growth < 2_000_000, out  # what the threads' own bookkeeping keeps

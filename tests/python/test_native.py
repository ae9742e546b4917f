"""Native memory (heaplens.start(native=True)): what a library allocates with
libc directly (malloc and the rest, anonymous mmap) is traced at the Python
line that called it, until it is freed (src/ext/native_hooks.c).

The library is native/native_calls.c, loaded with ctypes after tracing
started (so it is patched when dlopen loads it) or before. Each test runs in
a fresh interpreter: the redirection lasts as long as the process."""

import os
import re
import textwrap

import pytest

from isolated import run_isolated
from native import build


def _run(body, load_first=False, start="heaplens.start(5, native=True)", timeout=120):
    """Run `body` (dedented) with `lib` (native_calls through ctypes.CDLL,
    typed), `heaplens`, `tm`, `N` (the native domain) and `native()`: the
    native blocks now as [(size, count)] per line, with `line()` the number
    of the line after the one that calls it."""
    load = f"""
import ctypes
lib = ctypes.CDLL({build("native_calls")!r})
P, S = ctypes.c_void_p, ctypes.c_size_t
for name, args in {{
    "nc_malloc": [S], "nc_calloc": [S, S], "nc_realloc": [P, S], "nc_posix_memalign": [S, S],
    "nc_aligned_alloc": [S, S], "nc_memalign": [S, S], "nc_valloc": [S], "nc_pvalloc": [S],
    "nc_mmap_anonymous": [S], "nc_mmap_file": [ctypes.c_int, S], "nc_mremap": [P, S, S],
    "nc_malloc_in_thread": [S],
}}.items():
    getattr(lib, name).restype = P
    getattr(lib, name).argtypes = args
lib.nc_free.argtypes = [P]
lib.nc_munmap.argtypes = [P, S]
lib.nc_touch.argtypes = [P, S]
"""
    helpers = """
import sys
import heaplens, heaplens.tracemalloc as tm
N = heaplens.NATIVE_DOMAIN

def native():
    snapshot = tm.take_snapshot().filter_traces([tm.DomainFilter(True, N)])
    return {(s.traceback[0].filename, s.traceback[0].lineno): (s.size, s.count)
            for s in snapshot.statistics("lineno")}

def line():
    return sys._getframe(1).f_lineno + 1

def at(n):
    return native().get(("<string>", n))
"""
    prefix = helpers + (load + start + "\n" if load_first else start + "\n" + load)
    return run_isolated(prefix + textwrap.dedent(body), timeout=timeout)


@pytest.mark.parametrize("load_first", [False, True], ids=["loaded-later", "loaded-before"])
def test_malloc_realloc_free_at_the_calling_line(load_first):
    out = _run(
        """
        n = line()
        block = lib.nc_malloc(1_000_000)
        assert at(n) == (1_000_000, 1), native()
        m = line()
        block = lib.nc_realloc(block, 3_000_000)
        assert at(n) is None and at(m) == (3_000_000, 1), native()
        lib.nc_free(block)
        assert at(m) is None, native()
        lib.nc_free(None)  # free(NULL): nothing
        n = line()
        block = lib.nc_realloc(None, 5000)  # realloc(NULL): a malloc
        assert at(n) == (5000, 1), native()
        assert lib.nc_realloc(block, 0) is None  # realloc to zero: a free (glibc)
        assert at(n) is None, native()
        print("ok")
        """,
        load_first=load_first,
    )
    assert out.strip() == "ok"


def test_libc_called_through_ctypes_is_seen_at_the_calling_line():
    """ctypes finds malloc with dlsym, whose answer no GOT stands between:
    the lookup hands out heaplens's wrapper, so the call is traced too."""
    out = _run("""
        libc = ctypes.CDLL(None)
        libc.malloc.restype = ctypes.c_void_p
        libc.malloc.argtypes = [ctypes.c_size_t]
        libc.free.argtypes = [ctypes.c_void_p]
        n = line()
        block = libc.malloc(2_500_000)
        assert at(n) == (2_500_000, 1), native()
        libc.free(block)
        assert at(n) is None, native()
        print("ok")
    """)
    assert out.strip() == "ok"


def test_every_allocator_of_the_family():
    out = _run("""
        page = 4096
        calls = [
            (lambda: lib.nc_calloc(1000, 30), 30_000),
            (lambda: lib.nc_posix_memalign(64, 7000), 7000),
            (lambda: lib.nc_aligned_alloc(256, 8192), 8192),
            (lambda: lib.nc_memalign(128, 9000), 9000),
            (lambda: lib.nc_valloc(10_000), 10_000),
            (lambda: lib.nc_pvalloc(10_000), 3 * page),
        ]
        for make, size in calls:  # each recorded at its lambda's line
            block = make()
            assert block, make
            assert list(native().values()).count((size, 1)) == 1, (size, native())
            lib.nc_free(block)
            assert (size, 1) not in native().values(), (size, native())
        print("ok")
    """)
    assert out.strip() == "ok"


def test_anonymous_mappings_and_not_file_mappings(tmp_path):
    data = tmp_path / "data.bin"
    data.write_bytes(b"x" * 100_000)
    out = _run(f"""
        import os
        mib = 1 << 20
        n = line()
        mapping = lib.nc_mmap_anonymous(mib + 1)  # whole pages
        assert at(n) == (mib + 4096, 1), native()
        assert lib.nc_munmap(mapping, mib // 2) == 0  # the first half
        assert at(n) == (mib // 2 + 4096, 1), native()
        moved = lib.nc_mremap(mapping + mib // 2, mib // 2 + 4096, 4 * mib)
        assert moved and at(n) == (4 * mib, 1), native()
        assert lib.nc_munmap(moved, 4 * mib) == 0
        assert at(n) is None, native()
        fd = os.open({str(data)!r}, os.O_RDONLY)
        n = line()
        mapped = lib.nc_mmap_file(fd, 100_000)
        assert mapped and at(n) is None, native()  # a file's pages: not allocated memory
        lib.nc_munmap(mapped, 100_000)
        os.close(fd)
        print("ok")
    """)
    assert out.strip() == "ok"


def test_a_thread_python_does_not_know_and_blocks_from_before_tracing():
    out = _run(
        """
        old = lib.nc_malloc(123_457)       # before tracing: never recorded
        heaplens.start(5, native=True)
        asked = line()
        block = lib.nc_malloc_in_thread(77_777)
        sizes = [size for size, _ in native().values()]
        assert 77_777 in sizes, native()
        where = [key for key, value in native().items() if value == (77_777, 1)]
        # No Python frames of its own: the line that had the library start
        # the thread (its creator's stack).
        assert where == [("<string>", asked)], where
        # After a restart (a new stack epoch), a new thread gets the new
        # start's stack of its creator.
        heaplens.stop()
        heaplens.start(5, native=True)
        again = line()
        second = lib.nc_malloc_in_thread(33_333)
        assert native().get(("<string>", again)) == (33_333, 1), native()
        lib.nc_free(second)
        lib.nc_free(old)                   # freed while tracing: nothing to forget
        lib.nc_free(block)
        assert 77_777 not in [size for size, _ in native().values()], native()
        assert heaplens.get_tracer_counters()["dropped"] == 0
        print("ok")
        """,
        load_first=True,
        start="",
    )
    assert out.strip() == "ok"


def test_counted_once_in_the_total_and_stopped_cleanly():
    """A native block counts in get_traced_memory(); CPython's own
    allocations are the Python domains' only (its object is not redirected);
    after stop(), nothing native is recorded, and tracing without native
    records none."""
    out = _run("""
        before = heaplens.get_traced_memory()[0]
        block = lib.nc_malloc(8_000_000)
        grown = heaplens.get_traced_memory()[0] - before
        assert 8_000_000 <= grown < 8_100_000, grown
        python_big = bytearray(6_000_000)   # PyMem -> malloc in CPython's object
        domains = {}
        for trace in tm.take_snapshot().traces:
            domains[trace.domain] = domains.get(trace.domain, 0) + trace.size
        assert 6_000_000 <= domains[0] < 7_000_000, domains
        assert 8_000_000 <= domains[N] < 8_100_000, domains   # not 14 MB
        lib.nc_free(block)
        heaplens.stop()
        heaplens.start(5)                   # without native
        block = lib.nc_malloc(1_000_000)
        assert native() == {}, native()
        lib.nc_free(block)
        print("ok")
    """)
    assert out.strip() == "ok"


def test_native_and_numpy_count_each_array_once():
    """NumPy allocates its arrays' data with malloc and reports it with
    PyTraceMalloc_Track: the block is counted once, in NumPy's domain."""
    out = run_isolated("""
        import heaplens, heaplens.tracemalloc as tm
        import numpy as np
        heaplens.start(3, native=True)
        kept = [np.ones(250_000) for _ in range(8)]
        domains = {}
        for trace in tm.take_snapshot().traces:
            domains[trace.domain] = domains.get(trace.domain, 0) + trace.size
        assert domains[389047] == 16_000_000, domains
        assert domains.get(heaplens.NATIVE_DOMAIN, 0) < 1_000_000, domains
        print("ok")
    """)
    assert out.strip() == "ok"


def test_a_forked_child_traces_native_blocks():
    out = _run("""
        import os
        pid = os.fork()
        if pid == 0:
            ok = False
            try:
                n = line()
                block = lib.nc_malloc(55_555)
                ok = at(n) == (55_555, 1)
                lib.nc_free(block)
            finally:
                os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        print("ok")
    """)
    assert out.strip() == "ok"


def test_fork_with_a_library_that_allocates_in_its_fork_handlers():
    """A library whose pthread_atfork handlers malloc and free (OpenBLAS,
    loaded with NumPy, frees in its prepare handler), registered before
    heaplens's: its prepare handler runs while heaplens holds its lock for
    the fork, and its malloc reaches heaplens's wrapper. The fork must not
    deadlock, and the child must trace."""
    out = run_isolated(
        f"""
        import ctypes, os
        lib = ctypes.CDLL({build("native_calls")!r})
        assert lib.nc_register_fork_handlers() == 0   # before heaplens's own
        lib.nc_malloc.restype = ctypes.c_void_p
        lib.nc_malloc.argtypes = [ctypes.c_size_t]
        lib.nc_free.argtypes = [ctypes.c_void_p]
        import heaplens
        heaplens.start(5, native=True)
        for _ in range(3):
            pid = os.fork()
            if pid == 0:
                block = lib.nc_malloc(12345)
                found = any(t.size == 12345 for t in heaplens.take_snapshot().traces)
                lib.nc_free(block)
                os._exit(0 if found else 3)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0, status
        print("ok")
        """,
        timeout=60,
    )
    assert out.strip() == "ok"


def test_sampled_native_tracing_estimates_the_total():
    out = _run(
        """
        blocks = [lib.nc_malloc(10_000) for _ in range(2000)]  # 20 MB
        total = sum(size for size, _ in native().values())
        assert 14_000_000 < total < 26_000_000, total
        for block in blocks:
            lib.nc_free(block)
        assert sum(size for size, _ in native().values()) < 1_000_000, native()
        print("ok")
        """,
        start="heaplens.start(5, native=True, sample_rate=64 * 1024)",
    )
    assert out.strip() == "ok"


@pytest.mark.parametrize("native", [True, False], ids=["native", "python-only"])
def test_heaplens_run_native_shows_the_libraries_memory(tmp_path, native):
    """`heaplens run --native` puts what a library mallocs in the peak, the
    summary and the capture, at the Python line that asked. Without --native
    none of it is traced, and the summary says that the RSS is far above the
    traced peak and which flag traces the rest (the capture says which it
    was)."""
    import subprocess
    import sys

    import heaplens

    prog = tmp_path / "prog.py"
    prog.write_text(
        textwrap.dedent(f"""\
        import ctypes, time
        lib = ctypes.CDLL({build("native_calls")!r})
        lib.nc_malloc.restype = ctypes.c_void_p
        lib.nc_malloc.argtypes = [ctypes.c_size_t]
        kept = [lib.nc_malloc(1_000_000) for _ in range(100)]  # line 5: 100 MB
        lib.nc_touch.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        for block in kept:
            lib.nc_touch(block, 1_000_000)  # in RSS
        time.sleep(0.1)  # a timeline point (with its RSS) after that
        """)
    )
    out = tmp_path / "cap.hlc"
    flags = ["--native"] if native else []
    done = subprocess.run(
        [sys.executable, "-m", "heaplens", "run", *flags, "-o", str(out), str(prog)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    capture = heaplens.load(str(out))
    at_line = sum(
        stat.size
        for stat in capture.exit.statistics("lineno")
        if stat.traceback[0].filename == str(prog) and stat.traceback[0].lineno == 5
    )
    assert capture.info["native"] == ("1" if native else "0")
    summary = " ".join(done.stderr.split())
    if native:
        assert 100_000_000 <= at_line < 101_000_000, at_line
        assert int(capture.info["peak_traced"]) >= 100_000_000
        assert "--native traces it" not in summary, summary
        # The summary says how much of the peak is outside Python's allocators.
        assert re.search(
            r"Peak heap: [\d.]+ MiB \(native (9\d|1\d\d)(\.\d+)? MiB\)", summary
        ), summary
    else:
        assert at_line < 1_000_000, at_line
        assert "is not traced. heaplens run --native traces it." in summary, summary


def test_start_stop_and_clear_racing_threads_that_allocate_natively():
    """Threads Python does not know malloc, realloc, mmap and free without a
    pause while the main thread starts, clears and stops native tracing, and
    Python threads allocate natively with the GIL released: no crash, no
    hang, no block dropped, and nothing left recorded after the threads
    freed everything."""
    out = _run(
        """
        import threading, time
        lib.nc_churn_start.argtypes = [ctypes.c_int, ctypes.c_size_t]
        lib.nc_churn_stop.restype = ctypes.c_uint64
        assert lib.nc_churn_start(4, 3000) == 0
        stop = threading.Event()

        def python_thread():
            while not stop.is_set():
                lib.nc_free(lib.nc_malloc(5000))

        workers = [threading.Thread(target=python_thread) for _ in range(2)]
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + 3
        rounds = 0
        while time.monotonic() < deadline:
            heaplens.start(5, native=True)
            time.sleep(0.01)
            tm.clear_traces()
            time.sleep(0.01)
            tm.take_snapshot()
            heaplens.stop()
            rounds += 1
        heaplens.start(5, native=True)
        time.sleep(0.2)
        stop.set()
        for worker in workers:
            worker.join()
        allocated = lib.nc_churn_stop()
        left = native()
        counters = heaplens.get_tracer_counters()
        heaplens.stop()
        assert allocated > 1000 and rounds > 10, (allocated, rounds)
        assert counters["dropped"] == 0, counters
        assert left == {} or all(size < 100_000 for size, _ in left.values()), left
        print("ok")
        """,
        load_first=True,
        start="",
        timeout=120,
    )
    assert out.strip() == "ok"


@pytest.mark.skipif(
    "libasan" in os.environ.get("LD_PRELOAD", ""),
    reason="memray interposes on malloc itself; not run beside ASan's interposition",
)
def test_heaplens_run_native_peak_is_memrays(tmp_path):
    """On a NumPy script whose peak is a freed scratch array, `heaplens run
    --native` reports a peak within 5% of memray's (memray sees every malloc:
    the reference), run side by side here. memray is a test dependency."""
    import subprocess
    import sys

    import heaplens

    prog = tmp_path / "arrays.py"
    prog.write_text(
        textwrap.dedent("""\
        import numpy as np
        kept = np.ones(4_000_000)        # 32 MB, kept
        scratch = np.ones(32_000_000)    # 256 MB, freed: the peak
        scratch += 1
        del scratch
        leaked = [np.ones(250_000) for _ in range(10)]  # 20 MB
        """)
    )
    ours, theirs = tmp_path / "cap.hlc", tmp_path / "memray.bin"
    for command in (
        [sys.executable, "-m", "heaplens", "run", "--native", "-q", "-o", str(ours), str(prog)],
        [sys.executable, "-m", "memray", "run", "-q", "-f", "-o", str(theirs), str(prog)],
    ):
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (command, done.stderr)
    from memray import FileReader

    memray_peak = FileReader(str(theirs)).metadata.peak_memory
    heaplens_peak = int(heaplens.load(str(ours)).info["peak_traced"])
    assert memray_peak > 256_000_000, memray_peak
    assert abs(heaplens_peak - memray_peak) <= 0.05 * memray_peak, (heaplens_peak, memray_peak)


def test_heaplens_diff_shows_the_native_change(tmp_path):
    """`heaplens diff` of two --native runs says how the memory outside
    Python's allocators changed, beside the totals."""
    import subprocess
    import sys

    captures = []
    for megabytes in (10, 30):
        prog = tmp_path / f"run{megabytes}.py"
        prog.write_text(
            textwrap.dedent(f"""\
            import ctypes
            lib = ctypes.CDLL({build("native_calls")!r})
            lib.nc_malloc.restype = ctypes.c_void_p
            lib.nc_malloc.argtypes = [ctypes.c_size_t]
            kept = [lib.nc_malloc(1_000_000) for _ in range({megabytes})]
            """)
        )
        out = tmp_path / f"run{megabytes}.hlc"
        done = subprocess.run(
            [sys.executable, "-m", "heaplens", "run", "--native", "-q", "-o", str(out), str(prog)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        captures.append(str(out))
    done = subprocess.run(
        [sys.executable, "-m", "heaplens", "diff", *captures],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if "native (outside" in line)
    assert re.search(r"9\.\d+ MiB -> 28\.\d+ MiB \(\+19\.\d+ MiB\)", line), line

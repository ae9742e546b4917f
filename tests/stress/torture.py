"""Everything at once, in one process, while heaplens traces it: the stress run
of `make stress` (every Python) and `make stress-asan` (the extension built
with ASan+UBSan).

    python tests/stress/torture.py [--seconds S] [--only FACET,...] [--seed N]

For S seconds (default: $STRESS_SECONDS, else 10), with these facets (all
unless --only names some):

  threads          Python threads allocating (lists, dicts, objects in cycles,
                   blocks over 512 bytes), and threads born and ended all along
  ctypes           Python threads calling PyMem_RawMalloc/Realloc/Free through
                   ctypes.CDLL, which releases the GIL around each call
  pthreads         pthreads with no Python thread state doing the same from C
                   (tests/python/native/stress_threads.c); every block is
                   filled and checked, so a tracer that writes into user
                   memory shows
  fork             the main thread forks; the child allocates, checks that it
                   is still traced, stops and restarts tracing, and exits
  signals          a SIGALRM interval timer whose handler allocates and takes
                   snapshots, interrupting the main thread anywhere
  subinterpreters  legacy subinterpreters (_testcapi.run_in_subinterp), some
                   importing heaplens, and, where present, _interpreters /
                   _xxsubinterpreters created, run and destroyed
  tracemalloc      the stdlib tracemalloc started and stopped around heaplens,
                   in every order
  native           pthreads with no Python thread state calling libc's malloc,
                   calloc, realloc, mmap, munmap and free without a pause
                   (tests/python/native/native_calls.c), while every other
                   start() traces native memory too (start(native=True)),
                   half of those with native frames (native_frames=True)

while the main thread starts (random nframe, sometimes sampling), stops,
clears, takes snapshots and computes statistics at random.

After each step it checks: is_tracing() says what the run did (started
means True, stopped means False) and, when True, a new allocation is
recorded (tracing did not silently stop); a stopped tracer reports (0, 0);
a snapshot's statistics add up to its traces; no fill mismatch in the
pthreads' blocks; every forked child exits 0; nothing raised in any thread or
signal handler. A watchdog (faulthandler, a C thread) dumps every thread and
exits 1 when the run outlives S + --grace seconds: a hang fails, it does not
block CI.

Exit 0 and a summary line on success; exit 1 with "torture: FAIL (facet):
what" and the last steps taken on the first broken invariant."""

import argparse
import collections
import ctypes
import faulthandler
import gc
import os
import pathlib
import random
import signal
import sys
import threading
import time
import traceback
import warnings
import weakref

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "python"))

import heaplens  # noqa: E402
from heaplens import _core  # noqa: E402
from heaplens import tracemalloc as heaplens_tracemalloc  # noqa: E402

# Running against the ASan+UBSan extension (make stress-asan preloads them).
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")

FACETS = (
    "threads",
    "ctypes",
    "pthreads",
    "fork",
    "signals",
    "subinterpreters",
    "tracemalloc",
    "native",
)

# The last steps taken, for the failure message. Main thread only.
recent = collections.deque(maxlen=25)
# What went wrong outside the main thread (worker threads, signal handlers):
# (facet, text). list.append is atomic under the GIL.
errors = []
counts = collections.Counter()


class Broken(Exception):
    """An invariant does not hold: args are (facet, message)."""


def fail(facet, message):
    raise Broken(facet, message)


def step(name):
    """Note a step of the main thread: kept whole for the failure message,
    counted by its first word for the summary."""
    recent.append(name)
    counts[name.split("(")[0].split()[0]] += 1


# ---- what the checks allocate ------------------------------------------------

MARKER_SIZE = 1 << 20


def allocate_marker():
    return bytearray(MARKER_SIZE)  # MARKER


MARKER_LINE = allocate_marker.__code__.co_firstlineno + 1


def records_new_allocations():
    """True when a block allocated now shows up in a snapshot at its line.
    The block is 1 MiB, so even sampling (rates up to 64 KiB here) records
    it with probability 1 - e^-16."""
    marker = allocate_marker()
    snapshot = heaplens.take_snapshot()
    found = any(
        frame.filename == __file__ and frame.lineno == MARKER_LINE
        for trace in snapshot.traces
        for frame in trace.traceback
    )
    del marker
    return found


def check_honest(facet, expected):
    """is_tracing() is `expected`, and when tracing, tracing records."""
    tracing = heaplens.is_tracing()
    if tracing != expected:
        fail(
            facet,
            f"is_tracing() is {tracing}, but the run {'started' if expected else 'stopped'} it",
        )
    if tracing and not records_new_allocations():
        fail(
            facet,
            "is_tracing() is True but a new 1 MiB block is not in the snapshot (tracing silently stopped)",
        )
    if not tracing and _core.get_traced_memory() != (0, 0):
        fail(facet, f"stopped, yet get_traced_memory() is {_core.get_traced_memory()}")


def check_snapshot(facet, snapshot):
    """The statistics of `snapshot` add up to its traces: sizes, and counts
    (a trace may stand for several blocks: sampled, or aggregated)."""
    data = snapshot._data  # the _core.Snapshot under it
    traces = snapshot.traces
    size = sum(trace.size for trace in traces)
    blocks = sum(data.trace_count(i) for i in range(data.n_traces))
    if data.n_traces != len(traces) or data.total_size() != size:
        fail(
            facet,
            f"_core has {data.n_traces} traces, {data.total_size()} B; the Snapshot {len(traces)}, {size} B",
        )
    for key in ("filename", "lineno", "traceback"):
        stats = snapshot.statistics(key)
        if sum(s.size for s in stats) != size or sum(s.count for s in stats) != blocks:
            fail(
                facet,
                f"statistics({key!r}) add up to {sum(s.size for s in stats)} B in "
                f"{sum(s.count for s in stats)} blocks, the traces to {size} B in {blocks}",
            )
    if any(trace.size < 0 for trace in traces):
        fail(facet, "a trace with a negative size")


# ---- the facets that run beside the main thread -----------------------------


def python_allocator(stop, seed):
    rng = random.Random(seed)

    class Node:
        def __init__(self, payload):
            self.payload = payload
            self.peer = self  # a cycle: only the collector frees it

    def nested(depth, keep):
        if depth:
            return nested(depth - 1, keep)
        keep.append([seed] * rng.randrange(1, 200))
        keep.append({"k": rng.random(), "s": "x" * rng.randrange(1, 100)})
        keep.append(bytearray(rng.randrange(513, 20000)))  # RAW domain via pymalloc
        keep.append(Node(bytes(rng.randrange(0, 300))))
        keep.append(weakref.ref(keep[-1]))

    try:
        keep = []
        while not stop.is_set():
            nested(rng.randrange(0, 12), keep)
            if len(keep) > 600:
                del keep[: rng.randrange(100, 600)]
            if rng.random() < 0.01:
                gc.collect(rng.randrange(0, 3))
    except BaseException:
        errors.append(("threads", traceback.format_exc()))


def thread_spawner(stop):
    """Threads born and ended all along: thread states come and go while the
    tracer reads them."""
    try:
        while not stop.is_set():
            batch = [
                threading.Thread(target=lambda: [str(i) for i in range(300)]) for _ in range(4)
            ]
            for t in batch:
                t.start()
            for t in batch:
                t.join()
            counts["threads spawned"] += len(batch)
    except BaseException:
        errors.append(("threads", traceback.format_exc()))


def raw_allocator_without_gil(stop, seed):
    """PyMem_Raw* through ctypes.CDLL: the GIL is released around each call,
    so the tracer's hook runs on a thread that has a thread state but not the
    GIL."""
    lib = ctypes.CDLL(None)
    lib.PyMem_RawMalloc.restype = ctypes.c_void_p
    lib.PyMem_RawMalloc.argtypes = [ctypes.c_size_t]
    lib.PyMem_RawRealloc.restype = ctypes.c_void_p
    lib.PyMem_RawRealloc.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    lib.PyMem_RawFree.argtypes = [ctypes.c_void_p]
    rng = random.Random(seed)
    try:
        while not stop.is_set():
            blocks = []
            for _ in range(100):
                size = rng.choice((16, 64 + seed, 600, 4096, 70000))
                block = lib.PyMem_RawMalloc(size)
                if not block:
                    continue
                ctypes.memset(block, seed & 0xFF, size)
                if rng.random() < 0.3:
                    grown = lib.PyMem_RawRealloc(block, size * 2)
                    if grown:
                        if ctypes.string_at(grown, size) != bytes([seed & 0xFF]) * size:
                            errors.append(("ctypes", "PyMem_RawRealloc lost the block's contents"))
                        block = grown
                        ctypes.memset(block, seed & 0xFF, size * 2)
                blocks.append(block)
            for block in blocks:
                lib.PyMem_RawFree(block)
            counts["ctypes rounds"] += 1
    except BaseException:
        errors.append(("ctypes", traceback.format_exc()))


class NativeThreads:
    """The pthreads of native/stress_threads.c (no thread state, no GIL)."""

    def __init__(self):
        from native import build

        self.lib = ctypes.CDLL(build("stress_threads"))
        self.lib.stress_threads_start.argtypes = [ctypes.c_int, ctypes.c_uint]
        self.lib.stress_threads_stop.restype = ctypes.c_longlong
        self.lib.stress_threads_stop.argtypes = [
            ctypes.POINTER(ctypes.c_longlong),
            ctypes.POINTER(ctypes.c_longlong),
        ]
        self.running = False

    def start(self, n, seed):
        started = self.lib.stress_threads_start(n, seed & 0xFFFFFFFF)
        if started != n:
            fail("pthreads", f"stress_threads_start({n}) started {started}")
        self.running = True

    def stop(self):
        mismatches, failed = ctypes.c_longlong(), ctypes.c_longlong()
        operations = self.lib.stress_threads_stop(ctypes.byref(mismatches), ctypes.byref(failed))
        self.running = False
        counts["pthread operations"] += max(operations, 0)
        if mismatches.value:
            fail(
                "pthreads", f"{mismatches.value} RAW blocks lost their contents (memory corruption)"
            )
        if failed.value:
            fail("pthreads", f"{failed.value} PyMem_Raw allocations failed")


class LibcThreads:
    """The pthreads of native/native_calls.c that call libc's allocator."""

    def __init__(self):
        from native import build

        self.lib = ctypes.CDLL(build("native_calls"))
        self.lib.nc_churn_start.argtypes = [ctypes.c_int, ctypes.c_size_t]
        self.lib.nc_churn_stop.restype = ctypes.c_uint64

    def start(self, n):
        if self.lib.nc_churn_start(n, 3000) != 0:
            fail("native", f"nc_churn_start({n}) could not start its threads")

    def stop(self):
        counts["libc allocations"] += self.lib.nc_churn_stop()


_in_alarm_handler = False


def alarm_handler(signum, frame):
    """Runs in the main thread between any two bytecodes of whatever it does,
    itself included: a handler slower than the timer's interval (a big
    snapshot under ASan on a loaded machine) would nest without end and the
    main thread never get on, so a nested call only counts itself."""
    global _in_alarm_handler
    if _in_alarm_handler:
        counts["signal handlers nested"] += 1
        return
    _in_alarm_handler = True
    try:
        junk = [dict(i=i) for i in range(50)]
        if _core.is_tracing():
            try:
                snapshot = heaplens.take_snapshot()
            except RuntimeError:
                if _core.is_tracing():
                    raise
            else:
                if len(snapshot.traces) < 0:
                    raise AssertionError("negative trace count")
        del junk
        counts["signal handlers"] += 1
    except BaseException:
        errors.append(("signals", traceback.format_exc()))
    finally:
        _in_alarm_handler = False


# ---- steps of the main thread -------------------------------------------------


class Run:
    def __init__(self, args, rng):
        self.args = args
        self.rng = rng
        self.tracing = False  # what the run asked for
        self.facets = args.facets
        self.libc_threads = None  # the native facet's LibcThreads, once started

    def start(self, facet="main"):
        nframe = self.rng.randrange(1, 12)
        rate = self.rng.choice((0, 0, 0, 512, 4096, 65536))
        native = "native" in self.facets and self.rng.random() < 0.5
        frames = native and self.rng.random() < 0.5
        step(f"start({nframe}, sample_rate={rate}, native={native}, native_frames={frames})")
        heaplens.start(nframe, sample_rate=rate, native=native, native_frames=frames)
        self.tracing = True
        check_honest(facet, True)

    def stop(self, facet="main"):
        step("stop")
        heaplens.stop()
        self.tracing = False
        check_honest(facet, False)

    def clear(self):
        step("clear_traces")
        _core.clear_traces()
        check_honest("main", self.tracing)

    def snapshot(self):
        if not self.tracing:
            return
        step("take_snapshot")
        data = _core.take_snapshot()
        check_snapshot("main", heaplens_tracemalloc.Snapshot(data, data.traceback_limit))
        check_snapshot("main", heaplens.take_snapshot())
        current, peak = _core.get_traced_memory()
        if peak < current:
            fail("main", f"peak {peak} below current {current}")

    def fork(self, native):
        step(f"fork (tracing={self.tracing})")
        # GCC 12's ASan runtime does not hold its allocator's locks across
        # fork(): a child forked while another thread was inside malloc
        # waits for that lock for ever (seen with gdb: the child blocked in
        # SizeClassAllocator64::GetFromAllocator, heaplens's hooks not
        # recording). Under ASan the libc threads stop for the fork; in the
        # plain run they go on, and the fork meets them.
        pause = self.libc_threads is not None and UNDER_ASAN
        if pause:
            self.libc_threads.stop()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, 3.12+
            pid = os.fork()
        if pid == 0:
            self.child_after_fork(native)
        if pause:
            self.libc_threads.start(3)
        deadline = time.monotonic() + 30
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                fail("fork", "a forked child was still running after 30 s (deadlock after fork?)")
            time.sleep(0.01)
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            fail("fork", f"a forked child ended with status {status:#x} (see its message above)")

    def child_after_fork(self, native):
        """In the child: only this thread exists. Never returns."""
        code = 0
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
            # No watchdog of its own: faulthandler's lock may be held by the
            # parent's watchdog thread, which did not survive the fork. The
            # parent kills a child that runs past 30 s.
            if native is not None:
                native.lib.stress_threads_forget_after_fork()
            more = [dict(a=i) for i in range(2000)]
            check_honest("fork", self.tracing)
            if self.tracing:
                check_snapshot("fork", heaplens.take_snapshot())
                heaplens.stop()
            heaplens.start(3)
            check_honest("fork", True)
            heaplens.stop()
            del more
        except Broken as broken:
            print(
                f"torture: FAIL ({broken.args[0]}, in a forked child): {broken.args[1]}",
                file=sys.stderr,
            )
            code = 3
        except BaseException:
            print("torture: forked child failed:\n" + traceback.format_exc(), file=sys.stderr)
            code = 4
        sys.stderr.flush()
        os._exit(code)

    def subinterpreter(self):
        import _testcapi  # noqa: PLC0415 (checked present before the run)

        code = self.rng.choice(
            (
                "x = 1",
                "import heaplens._core",
                "import heaplens\nkept = [bytes(100) for _ in range(2000)]",
                "y = [bytes(100) for _ in range(1000)]",
            )
        )
        step(f"_testcapi.run_in_subinterp({code!r})")
        status = _testcapi.run_in_subinterp(code)
        if status != 0:
            fail("subinterpreters", f"run_in_subinterp({code!r}) returned {status}")
        check_honest("subinterpreters", self.tracing)
        module = interpreters_module()
        if module is not None and self.rng.random() < 0.5:
            step(f"{module.__name__}.create()")
            interp = module.create()
            try:
                run = getattr(module, "run_string", None) or module.exec
                run(interp, "z = [str(i) for i in range(1000)]")
            finally:
                step(f"{module.__name__}.destroy()")
                module.destroy(interp)
            check_honest("subinterpreters", self.tracing)

    def tracemalloc_around(self):
        """The stdlib tracemalloc started and stopped around heaplens: heaplens
        must keep recording or say that it stopped (is_tracing() False or a
        warning); what it must not do is claim to trace and record nothing."""
        import tracemalloc  # noqa: PLC0415

        # Every order in turn, so that a short run meets each of them.
        order = TRACEMALLOC_ORDERS[counts["tracemalloc"] % len(TRACEMALLOC_ORDERS)]
        step(f"tracemalloc {order}")
        if self.tracing:
            self.stop("tracemalloc")
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            for move in order.split():
                if move == "S+":
                    tracemalloc.start(self.rng.randrange(1, 5))
                elif move == "S-":
                    tracemalloc.stop()
                elif move == "H+":
                    if heaplens.is_tracing():
                        continue
                    heaplens.start(self.rng.randrange(1, 6))
                    self.tracing = True
                elif move == "H-":
                    heaplens.stop()
                    self.tracing = False
                if self.tracing and not heaplens.is_tracing() and not said:
                    fail(
                        "tracemalloc",
                        f"after {move} of {order!r}: heaplens stopped tracing without a word",
                    )
                if self.tracing and heaplens.is_tracing() and not records_new_allocations():
                    fail(
                        "tracemalloc",
                        f"after {move} of {order!r}: is_tracing() is True but a new 1 MiB block is not "
                        "recorded (tracing silently stopped)",
                    )
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        if self.tracing and not heaplens.is_tracing():
            self.tracing = False  # it said so: accepted
        check_honest("tracemalloc", self.tracing)


# The stdlib tracemalloc (S) and heaplens (H) started (+) and stopped (-).
TRACEMALLOC_ORDERS = ("S+ H+ S- H- H+", "H+ S+ S-", "H+ S+ H- S- H+", "S+ H+ H- S-", "S+ H+ S- H+")


def report(broken, seed):
    """Print what broke, the seed and the last steps, on stderr."""
    facet, message = broken.args
    print(f"torture: FAIL ({facet}): {message}", file=sys.stderr)
    print(f"  seed {seed}; the last steps, oldest first:", file=sys.stderr)
    for name in recent:
        print(f"    {name}", file=sys.stderr)
    sys.stderr.flush()


def recover(run):
    """After a facet broke: both tracers stopped, heaplens started afresh."""
    import tracemalloc  # noqa: PLC0415

    if tracemalloc.is_tracing():
        tracemalloc.stop()
    heaplens.stop()
    run.tracing = False
    try:
        run.start()
    except Broken as broken:
        fail("main", f"after that, stop() and start() did not bring tracing back: {broken.args[1]}")


_interpreters_checked = False
_interpreters = None


def interpreters_module():
    """_interpreters (3.13+) or _xxsubinterpreters (3.12), or None."""
    global _interpreters_checked, _interpreters
    if not _interpreters_checked:
        _interpreters_checked = True
        for name in ("_interpreters", "_xxsubinterpreters"):
            try:
                _interpreters = __import__(name)
                break
            except ImportError:
                pass
        if sys.version_info < (3, 12):
            _interpreters = None  # 3.11's has no create(isolated=); legacy only there
    return _interpreters


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=float, default=float(os.environ.get("STRESS_SECONDS", 10))
    )
    parser.add_argument("--only", default=",".join(FACETS), help="facets, comma-separated")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--grace", type=float, default=60, help="seconds past --seconds before the watchdog"
    )
    args = parser.parse_args()
    args.facets = [f for f in args.only.split(",") if f]
    unknown = set(args.facets) - set(FACETS)
    if unknown:
        parser.error(f"unknown facets {sorted(unknown)}; known: {', '.join(FACETS)}")
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    if (
        "tracemalloc" in args.facets
        and {"ctypes", "pthreads"} & set(args.facets)
        and sys.version_info < (3, 13, 2)
    ):
        # Before CPython 3.13.2 the stdlib tracemalloc's own RAW hook reads
        # the buffer that stop() freed when a thread without the GIL
        # allocates meanwhile (gh-128679: SIGSEGV in traceback_new without
        # heaplens too; seen here on 3.11.7, 3.12.1, 3.13.0), so it is left
        # out beside GIL-less raw allocators there. test_stress_torture runs
        # it with Python threads, which hold the GIL when they allocate.
        print(
            "torture: the stdlib tracemalloc is left out beside GIL-less raw allocators "
            "(CPython gh-128679 before 3.13.2)",
            flush=True,
        )
        args.facets.remove("tracemalloc")
    header = (
        f"torture: Python {sys.version.split()[0]}, {args.seconds:g} s, seed {seed}, "
        f"facets {','.join(args.facets)}"
    )
    print(header, flush=True)
    print(
        f"torture: a hang ends after {args.seconds + args.grace:g} s with faulthandler's \"Timeout\" and every thread's stack",
        flush=True,
    )

    faulthandler.enable()
    faulthandler.dump_traceback_later(args.seconds + args.grace, exit=True)

    if "subinterpreters" in args.facets:
        try:
            import _testcapi  # noqa: F401
        except ImportError:
            print("torture: no _testcapi here: legacy subinterpreters not exercised")
            args.facets.remove("subinterpreters")
    if "fork" in args.facets and not hasattr(os, "fork"):
        args.facets.remove("fork")

    run = Run(args, rng)
    failed = []  # the facets that broke, the run going on without them
    stop_workers = threading.Event()
    workers = []
    native = None
    libc_threads = None
    try:
        run.start()
        if "threads" in args.facets:
            workers += [
                threading.Thread(target=python_allocator, args=(stop_workers, i)) for i in range(4)
            ]
            workers.append(threading.Thread(target=thread_spawner, args=(stop_workers,)))
        if "ctypes" in args.facets:
            workers += [
                threading.Thread(target=raw_allocator_without_gil, args=(stop_workers, i))
                for i in range(4)
            ]
        for worker in workers:
            worker.daemon = True
            worker.start()
        if "pthreads" in args.facets:
            native = NativeThreads()
            native.start(4, seed)
        if "native" in args.facets:
            libc_threads = LibcThreads()
            libc_threads.start(3)
            run.libc_threads = libc_threads
        if "signals" in args.facets:
            signal.signal(signal.SIGALRM, alarm_handler)
            signal.setitimer(signal.ITIMER_REAL, 0.011, 0.013)

        steps = [
            (run.snapshot, 6),
            (run.clear, 3),
            (lambda: run.stop() if run.tracing else run.start(), 4),
        ]
        steps.append((lambda: (step("gc.collect"), gc.collect()), 1))
        facet_steps = {
            "fork": (lambda: run.fork(native), 1),
            "subinterpreters": (run.subinterpreter, 2),
            "tracemalloc": (run.tracemalloc_around, 2),
        }
        steps += [facet_steps[f] for f in args.facets if f in facet_steps]
        actions = [action for action, weight in steps for _ in range(weight)]

        deadline = time.monotonic() + args.seconds
        # Each facet's step once first, so that even a short or slow run (ASan)
        # meets every facet; then at random.
        first = [facet_steps[f][0] for f in args.facets if f in facet_steps]
        while time.monotonic() < deadline or first:
            action = first.pop(0) if first else rng.choice(actions)
            try:
                action()
            except Broken as broken:
                # A facet of the main thread broke: say so now, drop its steps,
                # put the tracer back in a known state and go on, so that one
                # defect does not hide the others. The run still fails.
                facet = broken.args[0]
                if facet not in facet_steps:
                    raise
                report(broken, seed)
                failed.append(facet)
                actions = [a for a in actions if a is not facet_steps[facet][0]]
                recover(run)
            if errors:
                fail(*errors[0])
            time.sleep(rng.choice((0, 0, 0.001, 0.01)))

        if "signals" in args.facets:
            signal.setitimer(signal.ITIMER_REAL, 0)
        stop_workers.set()
        for worker in workers:
            worker.join(30)
            if worker.is_alive():
                fail("threads", f"{worker.name} did not stop within 30 s")
        if native is not None:
            native.stop()
            native = None
        if libc_threads is not None:
            libc_threads.stop()
            libc_threads = None
            run.libc_threads = None
        if errors:
            fail(*errors[0])
        if not run.tracing:
            run.start()
        check_snapshot("main", heaplens.take_snapshot())
        run.stop()
    except Broken as broken:
        report(broken, seed)
        for facet, text in errors[1:4]:
            print(f"  also ({facet}): {text}", file=sys.stderr)
        sys.stderr.flush()
        os._exit(1)  # threads may still run: do not wait for them
    faulthandler.cancel_dump_traceback_later()
    summary = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
    if failed:
        print(f"torture: FAIL: {', '.join(failed)} broke (above); the rest held: {summary}")
        sys.exit(1)
    print(f"torture: OK: {summary}")


if __name__ == "__main__":
    main()

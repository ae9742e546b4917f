"""heaplens: a memory debugger for Python.

The tracer records every block allocated through Python's allocators with the
stack that allocated it. heaplens.tracemalloc offers the stdlib tracemalloc's
API on top of it; this module offers the short version. The heap graph
(census, growth_since, why_alive, referrers, refcount_report) answers what
is alive and why.

Importing heaplens loads the C extension and the tracing API
(heaplens.tracemalloc and its snapshot model): take_snapshot(), start(),
stop(), get_traced_memory() and the heaplens.tracemalloc functions then
import nothing when called, so they are safe in a signal handler, a fork
handler or a gc callback (an import there can meet a module half
initialised, or wait in a forked child on an import lock that another thread
of the parent held). The heap graph and report modules load on first use.
"""

from __future__ import annotations

from heaplens import _args, _core
from heaplens import tracemalloc as _tracemalloc

# typing is not imported at run time (a memory tool imports no more than it
# needs); mypy reads TYPE_CHECKING as true. The imports below show type
# checkers and IDEs the classes that __getattr__ loads on first use; at run
# time they import nothing.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from collections.abc import Callable

    from heaplens._graph.census import Census as Census
    from heaplens._graph.census import CensusRow as CensusRow
    from heaplens._graph.census import Growth as Growth
    from heaplens._graph.census import Mark as Mark
    from heaplens._graph.census import TypeGrowth as TypeGrowth
    from heaplens._graph.cycles import CycleGroup as CycleGroup
    from heaplens._graph.cycles import CycleReport as CycleReport
    from heaplens._graph.heap import Chain as Chain
    from heaplens._graph.heap import HeapGraph as HeapGraph
    from heaplens._graph.heap import RefcountReport as RefcountReport
    from heaplens._graph.heap import Referrer as Referrer
    from heaplens._graph.heap import Step as Step
    from heaplens._graph.retained import Retainer as Retainer
    from heaplens._graph.retained import RetainerReport as RetainerReport
    from heaplens._graph.retained import TypeRetainer as TypeRetainer
    from heaplens._leaks.hunt import leak_check as _LeakCheck
    from heaplens._leaks.report import Holder as Holder
    from heaplens._leaks.report import LeakGroup as LeakGroup
    from heaplens._leaks.report import LeakReport as LeakReport
    from heaplens._leaks.report import NativeLeak as NativeLeak
    from heaplens._report.protocol import Report as Report
    from heaplens._slots.advice import SlotsAdvice as SlotsAdvice
    from heaplens._slots.advice import SlotsReport as SlotsReport
    from heaplens._trace.capture import Capture as Capture
    from heaplens._trace.capture import Timeline as Timeline
    from heaplens._trace.gc_monitor import GcMonitor as GcMonitor
    from heaplens._trace.gc_monitor import GcReport as GcReport
    from heaplens._trace.snapshot import Snapshot as Snapshot

    # Read from heaplens._version by __getattr__.
    __version__: str

# Classes that live in submodules, loaded on first access.
_LAZY_CLASSES = {
    "Capture": "heaplens._trace.capture",
    "Timeline": "heaplens._trace.capture",
    "Snapshot": "heaplens._trace.snapshot",
    "Census": "heaplens._graph.census",
    "CensusRow": "heaplens._graph.census",
    "Growth": "heaplens._graph.census",
    "TypeGrowth": "heaplens._graph.census",
    "Mark": "heaplens._graph.census",
    "Chain": "heaplens._graph.heap",
    "Step": "heaplens._graph.heap",
    "HeapGraph": "heaplens._graph.heap",
    "Referrer": "heaplens._graph.heap",
    "RefcountReport": "heaplens._graph.heap",
    "CycleReport": "heaplens._graph.cycles",
    "CycleGroup": "heaplens._graph.cycles",
    "RetainerReport": "heaplens._graph.retained",
    "Retainer": "heaplens._graph.retained",
    "TypeRetainer": "heaplens._graph.retained",
    "GcMonitor": "heaplens._trace.gc_monitor",
    "GcReport": "heaplens._trace.gc_monitor",
    "LeakReport": "heaplens._leaks.report",
    "LeakGroup": "heaplens._leaks.report",
    "Holder": "heaplens._leaks.report",
    "NativeLeak": "heaplens._leaks.report",
    "SlotsReport": "heaplens._slots.advice",
    "SlotsAdvice": "heaplens._slots.advice",
    "Report": "heaplens._report.protocol",
}


def __getattr__(name: str) -> object:
    if name == "__version__":
        # Written by meson from project() in meson.build, the one place the
        # version is kept; read on first use so that `import heaplens` loads
        # no more than the tracing API.
        from heaplens._version import version

        return version
    module_name = _LAZY_CLASSES.get(name)
    if module_name is None:
        raise AttributeError(f"module 'heaplens' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)


# The tracemalloc domain of native blocks (start(native=True)): "HLN".
NATIVE_DOMAIN: int = _core.NATIVE_DOMAIN

__all__ = [
    "NATIVE_DOMAIN",
    "Capture",
    "Census",
    "CensusRow",
    "Chain",
    "CycleGroup",
    "CycleReport",
    "GcMonitor",
    "GcReport",
    "Growth",
    "HeapGraph",
    "Holder",
    "LeakGroup",
    "LeakReport",
    "Mark",
    "NativeLeak",
    "RefcountReport",
    "Referrer",
    "Report",
    "Retainer",
    "RetainerReport",
    "SlotsAdvice",
    "SlotsReport",
    "Snapshot",
    "Step",
    "Timeline",
    "TypeGrowth",
    "TypeRetainer",
    "census",
    "cycles",
    "find_leaks",
    "gc_monitor",
    "get_traced_memory",
    "get_tracer_counters",
    "growth_since",
    "is_tracing",
    "leak_check",
    "load",
    "refcount_report",
    "referrers",
    "retained",
    "show_cycle",
    "slots_advice",
    "start",
    "stop",
    "take_snapshot",
    "top_retainers",
    "why_alive",
]


def start(
    nframe: int = 1, *, sample_rate: int = 0, native: bool = False, native_frames: bool = False
) -> None:
    """Start tracing, keeping up to nframe (1..65535) frames per allocation.

    sample_rate=BYTES records about one allocation per BYTES allocated
    (Poisson sampling by bytes) and scales what it records up: sizes and
    counts become estimates, at a fraction of the cost.

    native=True also traces native memory: what extensions and the libraries
    they use allocate with malloc and the rest, or map anonymously, in the
    domain heaplens.NATIVE_DOMAIN, at the Python line that was running
    (docs/native.md). Blocks that extensions report with PyTraceMalloc_Track
    (NumPy's arrays) are traced either way, in their own domains.

    native_frames=True (which implies native=True) also puts the native (C)
    frames of those blocks in their tracebacks, between the Python frames
    that called them: Frame.lineno is -1 for a native frame, its filename is
    the library's path and its function the C function. Each such block
    unwinds its thread's C stack, which costs microseconds: use it with
    sample_rate on allocation-heavy code.
    """

    _args.count("start", "nframe", nframe, minimum=1, maximum=_core.MAX_NFRAME)
    # The tracer's own limit (1 TiB): past it the C parser would overflow first.
    _args.count("start", "sample_rate", sample_rate, maximum=1 << 40)
    _args.instance("start", "native", native, bool, "a bool")
    _args.instance("start", "native_frames", native_frames, bool, "a bool")
    _core.start(
        nframe, sample_rate=sample_rate, native=native or native_frames, native_frames=native_frames
    )


def stop() -> None:
    """Stop tracing and free every trace."""
    _core.stop()


def is_tracing() -> bool:
    """True while allocations are traced."""
    return _core.is_tracing()


def get_traced_memory() -> tuple[int, int]:
    """(current, peak) bytes of the traced blocks."""
    return _core.get_traced_memory()


def get_tracer_counters() -> dict[str, int]:
    """The tracer's health: {'dropped', 'unknown_stacks', 'stale_stacks',
    'gil_unsafe', 'gil_timeouts', 'bad_stack_ids', 'hooks_lost', 'stacks',
    'live_blocks', 'peaks_not_copied', 'sample_rate', 'sums',
    'redirected_slots', 'redirect_failed'}.

    'dropped' counts blocks the tracer could not record (out of memory);
    'unknown_stacks' counts blocks recorded without Python frames: 'gil_unsafe'
    those of them whose stack could not safely be asked for, 'gil_timeouts'
    those of a thread without the GIL whose stack heaplens could not read in
    50 ms (the thread never waits for the GIL itself);
    'stale_stacks' counts blocks not recorded because clear_traces() emptied
    the stack table while their stack was being captured; 'bad_stack_ids'
    counts traces left out of a snapshot for a stack id out of range (0 unless
    heaplens has a bug); 'hooks_lost' counts the times another tool took the
    allocator hooks away and heaplens put them back;
    'peaks_not_copied' counts new highs reached by a thread without the GIL,
    when the per-stack copy at the peak could not be taken;
    'redirected_slots' counts the call sites of loaded objects redirected to
    heaplens (PyTraceMalloc_Track for NumPy's arrays; malloc and the rest with
    native=True), and 'redirect_failed' is 1 when one could not be
    (docs/native.md).
    """
    return _core.get_tracer_counters()


def take_snapshot() -> Snapshot:
    """A heaplens.tracemalloc.Snapshot of the traced blocks (RuntimeError when not tracing)."""
    return _tracemalloc.take_snapshot()


def load(path: str | os.PathLike[str]) -> Capture:
    """The Capture stored in a capture file: from `heaplens run` (snapshots
    "peak" and "exit", the timeline, facts about the run) or from
    Snapshot.dump() (one snapshot). capture.snapshot() is the Snapshot to look
    at first ("exit", or the only one); capture.snapshots has them all.

    Raises ValueError, naming the file, when it is not a valid capture, and
    OSError when it cannot be read. Files are checked in C; nothing is
    unpickled.
    """
    from heaplens._trace.recorder import load_capture

    return load_capture(path)


def census(*, untracked: bool = True) -> Census:
    """Count and size every live object by type: a Census, largest total first.

    untracked=True (the default) walks the heap graph, so str, int and other
    objects the collector does not track are counted too; untracked=False
    counts gc.get_objects() only, as objgraph does, and is faster.
    """
    from heaplens._graph.census import census as _census

    return _census(untracked=untracked)


def cycles() -> CycleReport:
    """Every reference cycle among live objects, grouped by shape (a CycleReport).

    Each group says how many cycles of that shape there are, their total size,
    one example drawn as labelled references, and which members have
    finalizers. Classes, modules and module globals are left out: everything
    defined in a module is in one cycle with it.
    """
    from heaplens._graph.cycles import cycles as _cycles

    return _cycles()


def show_cycle(
    obj: object, filename: str | bytes | os.PathLike[str] | os.PathLike[bytes] = "cycle.png"
) -> int:
    """Draw the shortest reference cycle through obj with Graphviz: labelled
    edges, members with finalizers filled red. A .dot filename writes only the
    .dot file; without Graphviz's `dot` the .dot file is kept and a line says so.
    Returns the number of objects drawn (0 when obj is in no cycle)."""
    from heaplens._graph.cycles import show_cycle as _show_cycle

    return _show_cycle(obj, filename)


def gc_monitor(breakdown: bool = True) -> GcMonitor:
    """A GcMonitor that records each garbage collection between start() and
    stop() (or within a `with` block): generation, duration, objects collected
    and uncollectable and, with breakdown=True, what was freed by type and, with
    the tracer on, by allocation site; collected objects with finalizers and
    what was left in gc.garbage. It never changes what the program keeps alive.

        with heaplens.gc_monitor() as monitor:
            run()
        print(monitor.report)
    """
    from heaplens._trace.gc_monitor import gc_monitor as _gc_monitor

    return _gc_monitor(breakdown)


def growth_since(mark: Mark, limit: int | None = 10, collect: bool = False) -> Growth:
    """Types whose count grew since `mark` (a heaplens.Mark), most new objects first.

    No gc.collect() runs unless collect=True.
    """
    from heaplens._graph.census import growth_since as _growth_since

    return _growth_since(mark, limit=limit, collect=collect)


def why_alive(obj: object) -> Chain:
    """The shortest chain of labelled references that keeps obj alive (a Chain).

    print(heaplens.why_alive(obj)) reads like
    `module app .__dict__['_cache'] -> list [0] -> Item object at 0x...`; with
    the tracer on, each object on the chain also shows where it was allocated.
    This walks the heap once; for many questions build one heaplens.HeapGraph()
    and call its why_alive().
    """
    from heaplens._graph.heap import HeapGraph

    return HeapGraph().why_alive(obj)


def referrers(obj: object) -> list[Referrer]:
    """Every reference to obj the heap graph knows: Referrer(description, label, holder)."""
    from heaplens._graph.heap import HeapGraph

    return HeapGraph().referrers(obj)


def refcount_report(obj: object) -> RefcountReport:
    """sys.getrefcount(obj) against the references the heap graph can explain.

    What is left over is held from C or an interpreter stack: a reference
    leaked by an extension shows up as `unexplained`.
    """
    from heaplens._graph.describe import counted
    from heaplens._graph.heap import refcount_report as _refcount_report

    obj = counted(obj)  # a parameter lent by the caller (3.14+) is in no count
    return _refcount_report(obj)


def retained(obj: object) -> int:
    """Bytes that would be freed if obj went away: the sizes of the objects it
    dominates in the heap graph (every chain from a root to them passes
    through it), its own included."""
    from heaplens._graph.retained import retained as _retained

    return _retained(obj)


def top_retainers(n: int = 10) -> RetainerReport:
    """The n objects that retain the most memory (a RetainerReport), each with
    its retained size, its why_alive chain and, with the tracer on, where it
    was allocated. Modules, their globals and classes are left out."""
    from heaplens._graph.retained import top_retainers as _top_retainers

    return _top_retainers(n)


def find_leaks(
    func: Callable[..., object],
    *args: object,
    repeat: int = 5,
    warmup: int = 2,
    native: bool = False,
    **kwargs: object,
) -> LeakReport:
    """Call func(*args, **kwargs) warmup + repeat times and report what the
    measured calls left alive and kept accumulating (a LeakReport): objects
    grouped by type and allocation site, each group with its count per call,
    size, retained size, allocation traceback and the chain of references to
    the object that holds it. report.headline names the biggest holder, as in
    `app.py: module global _cache (list) holds 5 new Request per call`.

    The warm-up calls fill the caches a first call fills (interpreter,
    `re`, `typing`, functools caches that stop growing); objects a garbage
    collection frees are not leaks. The tracer is started for the hunt if it
    is off, and stopped again after it.

    native=True also reports the native memory the calls left alive and kept
    growing (report.native: NativeLeak rows by allocating Python line, with
    bytes and blocks per call): what C libraries allocated with malloc or
    mmap, and the blocks extensions report (NumPy's arrays), less what a
    leaked object's size already counts (an array's data). The hunt then
    needs native tracing: it starts the tracer with native=True when it is
    off (and stops it after), uses it when it traces native memory, and
    raises RuntimeError when it traces without (docs/leak-hunt.md).
    """
    from heaplens._leaks.hunt import find_leaks as _find_leaks

    return _find_leaks(func, *args, repeat=repeat, warmup=warmup, native=native, **kwargs)


def leak_check(nframe: int = 32) -> _LeakCheck:
    """A context manager whose LeakReport lists what the block created and left
    alive (after a garbage collection), grouped as find_leaks() does:

        with heaplens.leak_check() as report:
            run_once()
        report.show()

    The report is filled in when the block ends. With no repeated calls it
    cannot tell a leak from a cache the block filled once: prefer find_leaks()
    for a function.
    """
    from heaplens._leaks.hunt import leak_check as _leak_check

    return _leak_check(nframe=nframe)


def slots_advice(min_instances: int = 1000) -> SlotsReport:
    """Which classes would save memory with __slots__ (a SlotsReport): for each
    class with at least min_instances live instances, the bytes its instances
    spend on per-instance dicts or inline values, the attribute names seen, a
    suggested `__slots__ = (...)`, the saving measured on this interpreter, and
    warnings where __slots__ would break code."""
    from heaplens._slots.advice import slots_advice as _slots_advice

    return _slots_advice(min_instances=min_instances)

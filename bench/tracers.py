"""The tracers the benchmark compares, and how to run code under each.

Three kinds: no tracer at all, a module with the stdlib tracemalloc API
(tracemalloc itself, or heaplens.tracemalloc, its drop-in), and memray tracing
Python's allocators without native stacks. A tracer whose module does not
import is skipped, with the reason (availability.py): not installed for this
Python, or the import error.
"""

import contextlib
import importlib
import os
from dataclasses import dataclass

import availability

NONE = "none"
TRACEMALLOC_API = "tracemalloc-api"
HEAPLENS_RUN = "heaplens-run"
MEMRAY = "memray"


@dataclass(frozen=True)
class Tracer:
    name: str  # as given to --tracers
    label: str  # column header
    kind: str  # NONE, TRACEMALLOC_API, HEAPLENS_RUN or MEMRAY
    module: str | None  # what to import; None for NONE
    nframe: int  # frames kept per trace; 0 when the tracer has no such limit
    sample_rate: int = 0  # HEAPLENS_RUN: mean bytes between recorded blocks; 0: all
    native: bool = False  # HEAPLENS_RUN: --native; MEMRAY: native stack traces


TRACERS = {
    tracer.name: tracer
    for tracer in (
        Tracer("none", "untraced", NONE, None, 0),
        Tracer("tm1", "tm(1)", TRACEMALLOC_API, "tracemalloc", 1),
        Tracer("tm25", "tm(25)", TRACEMALLOC_API, "tracemalloc", 25),
        Tracer("hl1", "hl(1)", TRACEMALLOC_API, "heaplens.tracemalloc", 1),
        Tracer("hl25", "hl(25)", TRACEMALLOC_API, "heaplens.tracemalloc", 25),
        # What `heaplens run` does: per-stack sums, the peak copy and the
        # timeline thread, 64 frames; every block, or one per 512 KiB.
        Tracer("hlrun", "hl run", HEAPLENS_RUN, "heaplens._trace.recorder", 64),
        Tracer("hls", "hl run -s512K", HEAPLENS_RUN, "heaplens._trace.recorder", 64, 512 * 1024),
        # Native memory too (malloc and mmap of every library): heaplens run
        # --native, exact and sampled; memray with native stacks.
        Tracer("hlnat", "hl run --native", HEAPLENS_RUN, "heaplens._trace.recorder", 64, 0, True),
        Tracer(
            "hlnats",
            "hl run --native -s512K",
            HEAPLENS_RUN,
            "heaplens._trace.recorder",
            64,
            512 * 1024,
            True,
        ),
        Tracer("memray", "memray", MEMRAY, "memray", 0),
        Tracer("memnat", "memray --native", MEMRAY, "memray", 0, 0, True),
    )
}


def unavailable_reason(tracer):
    """Return why the tracer cannot run in this interpreter, or None if it can."""
    if tracer.module is None:
        return None
    try:
        importlib.import_module(tracer.module)
    except Exception as exc:  # noqa: BLE001 - a broken build can raise more than ImportError
        package = tracer.module.partition(".")[0]
        return availability.import_failure(package, package, exc)
    return None


@contextlib.contextmanager
def tracing(tracer, scratch_dir):
    """Trace the body of the with statement with the tracer.

    Yields the tracemalloc-API module for that kind of tracer, else None.
    memray writes its capture file into scratch_dir.
    """
    if tracer.kind == NONE:
        yield None
    elif tracer.kind == MEMRAY:
        import memray

        capture = os.path.join(scratch_dir, "memray.bin")
        with memray.Tracker(capture, native_traces=tracer.native, trace_python_allocators=True):
            yield None
    elif tracer.kind == HEAPLENS_RUN:
        from heaplens._trace.recorder import Recorder

        recorder = Recorder(
            nframe=tracer.nframe, sample_rate=tracer.sample_rate, native=tracer.native
        )
        recorder.start()
        try:
            yield None
        finally:
            recorder.stop()
    else:
        module = importlib.import_module(tracer.module)
        module.start(tracer.nframe)
        try:
            yield module
        finally:
            module.stop()

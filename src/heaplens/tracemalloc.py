"""heaplens.tracemalloc: a drop-in replacement for the stdlib's tracemalloc.

The same functions and classes, with the same results and text, recorded by
heaplens's tracer (heaplens._core) instead of CPython's. The two tracers are
independent: starting one does not start the other. Differences from the
stdlib:
- Snapshot.dump() writes a heaplens capture file, not a pickle.
- Filters are evaluated once per distinct (domain, traceback), so a custom
  BaseFilter's _match sees None as the trace size; an item that is not a
  filter raises TypeError (the stdlib fails with AttributeError).
- On 3.11 and 3.12, an object CPython reuses from a free list (tuple, list,
  dict, float) stays traced at the line that first allocated its block; the
  stdlib moves the trace to the reusing line, as heaplens does from 3.13 on.
"""

from __future__ import annotations

from heaplens import _core
from heaplens._trace.snapshot import (
    BaseFilter,
    DomainFilter,
    Filter,
    Frame,
    Snapshot,
    Statistic,
    StatisticDiff,
    Trace,
    Traceback,
    _format_size,  # noqa: F401 (the stdlib module has it too)
)

__all__ = [
    "BaseFilter",
    "DomainFilter",
    "Filter",
    "Frame",
    "Snapshot",
    "Statistic",
    "StatisticDiff",
    "Trace",
    "Traceback",
    "clear_traces",
    "get_object_traceback",
    "get_traceback_limit",
    "get_traced_memory",
    "get_tracemalloc_memory",
    "is_tracing",
    "reset_peak",
    "start",
    "stop",
    "take_snapshot",
]

# The C functions themselves, not Python wrappers, as in the stdlib: what they
# allocate (the tuple of get_traced_memory()) is then traced at the caller's line.
start = _core.start  # start(nframe=1): keeps the first nframe when already tracing
stop = _core.stop
is_tracing = _core.is_tracing
clear_traces = _core.clear_traces
get_traceback_limit = _core.get_traceback_limit
get_traced_memory = _core.get_traced_memory
reset_peak = _core.reset_peak
get_tracemalloc_memory = _core.get_tracer_memory


def get_object_traceback(obj: object) -> Traceback | None:
    """The Traceback where obj was allocated, or None if it was not traced.

    Like the stdlib's, the result has total_nframe None.
    """
    found = _core.get_object_traceback(obj)
    return None if found is None else Traceback(found[0])


def take_snapshot() -> Snapshot:
    """A Snapshot of the blocks traced now. RuntimeError when not tracing."""
    if not _core.is_tracing():
        raise RuntimeError(
            "the tracemalloc module must be tracing memory allocations to take a snapshot"
        )
    data = _core.take_snapshot()
    return Snapshot(data, data.traceback_limit)

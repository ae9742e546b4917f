"""heaplens: a memory debugger for Python.

The tracer records every block allocated through Python's allocators with the
stack that allocated it. heaplens.tracemalloc offers the stdlib tracemalloc's
API on top of it; this module offers the short version. Importing heaplens
loads only the C extension; the snapshot classes load on first use.
"""

from heaplens import _core

__version__ = "0.1.0"

__all__ = [
    "get_traced_memory",
    "get_tracer_counters",
    "is_tracing",
    "load",
    "start",
    "stop",
    "take_snapshot",
]


def start(nframe=1):
    """Start tracing, keeping up to nframe (1..65535) frames per allocation."""
    _core.start(nframe)


def stop():
    """Stop tracing and free every trace."""
    _core.stop()


def is_tracing():
    """True while allocations are traced."""
    return _core.is_tracing()


def get_traced_memory():
    """(current, peak) bytes of the traced blocks."""
    return _core.get_traced_memory()


def get_tracer_counters():
    """The tracer's health: {'dropped', 'unknown_stacks', 'stacks', 'live_blocks'}.

    'dropped' counts blocks the tracer could not record (out of memory);
    'unknown_stacks' counts blocks recorded without Python frames.
    """
    return _core.get_tracer_counters()


def take_snapshot():
    """A heaplens.tracemalloc.Snapshot of the traced blocks (RuntimeError when not tracing)."""
    from heaplens import tracemalloc

    return tracemalloc.take_snapshot()


def load(path):
    """The Snapshot stored in a capture file written by Snapshot.dump().

    Raises ValueError, naming the file, when it is not a valid capture.
    """
    from heaplens._snapshot import Snapshot

    return Snapshot.load(path)

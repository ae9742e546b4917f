"""The leak hunt: run code, find what it left alive, and name what holds it.

find_leaks() calls a function warmup + repeat times; leak_check() wraps a
block. The tracer stamps each block with the measured call that allocated it
and the collector's young generation catches objects CPython reused from its
free lists (src/ext/leak_tags.h), so after a full collection the heap graph
can say which live objects each call created. A group of them (same type,
same allocation site) that survives from several calls keeps accumulating:
that is a leak. Its holder is the last object, on the shortest chain of
references from a root, that is not itself part of a leak: `module global
_cache (list)`, a dict inside a long-lived manager, an lru_cache, gc.garbage,
or nothing at all (a reference leaked by C code).

The report keeps names, numbers and text only: no reference to any object.
"""

from __future__ import annotations

import gc
import sys
import types
from typing import NamedTuple, cast

from heaplens import _args, _core
from heaplens._graph.describe import (
    function_name,
    type_name,
)
from heaplens._leaks.analysis import analyse
from heaplens._leaks.report import LeakReport

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Literal

    from heaplens._leaks.native import NativeTrail

DEFAULT_NFRAME = 32


class NativeSettings(NamedTuple):
    """What a hunt counts as a native leak (see _leaks/native.py): at least
    min_per_call bytes per call, and (every_call) growth in every call."""

    min_per_call: int = 0
    every_call: bool = False


class _Hunt:
    """One leak hunt of n_calls measured calls; see leak_tags.h. With
    `native`, it also follows the native memory the calls leave alive
    (_leaks/native.py), with native tracing on for the hunt."""

    def __init__(
        self,
        n_calls: int,
        nframe: int,
        ignore: Iterable[str] = (),
        native: NativeSettings | None = None,
    ) -> None:
        self.n_calls = n_calls
        self.ignore = tuple(ignore)
        self.native = native
        self.trail: NativeTrail | None = None
        self.started_tracer = not _core.is_tracing()
        if self.started_tracer:
            _core.start(nframe, native=native is not None)
        elif native is not None:
            _require_native_tracing()
        if native is not None:
            from heaplens._leaks.native import NativeTrail

            self.trail = NativeTrail()
        self.nframe = _core.get_traceback_limit()
        self.call = 0
        self.begun = False

    def begin(self) -> None:
        _realize_log_streams()
        _collect()
        _core.leak_tags_begin(self.n_calls)
        self.begun = True
        gc.callbacks.append(_core.leak_tags_gc_callback)

    def enter_call(self) -> None:
        """Start the next measured call: after a full collection everything
        older is in the oldest generation and CPython's free lists are empty."""
        gc.collect()
        if self.trail is not None:
            self.trail.take(whole=self.call == 0)
        _core.leak_tags_young()  # what finalizers made during it: not the call's
        if self.trail is not None:
            # What taking the snapshot made (its list of file names, which
            # only C refers to) is tagged as the hunt's now, over any tag
            # left at its address by an object a call made and freed; then
            # out of the young generations, whose objects the collections
            # during the call tag with the call's number.
            gc.collect()
            _core.leak_tags_young()
        self.call += 1
        _core.leak_tags_set_call(self.call)

    def leave_call(self) -> None:
        _core.leak_tags_young()
        _core.leak_tags_set_call(0)

    def finish(self, report: LeakReport) -> None:
        """Collect, walk the heap and fill `report`; always ends the hunt."""
        try:
            self._remove_callback()
            _collect()
            if self.trail is not None:
                self.trail.take(whole=True)
            from heaplens._graph.heap import HeapGraph

            # Whatever is young now was made after the calls (by the
            # collection's finalizers, or here): tag it as not the calls'.
            _core.leak_tags_young()
            heap = HeapGraph(ignore=(report,))
            # And what building the graph made (its arguments, such as the
            # ignore tuple and build_graph's keyword dict): a tracked object
            # from a free list would otherwise keep the stale tag of the
            # object that had its address during a call.
            _core.leak_tags_young()
            rows = heap.graph.leak_tags()
            object_sizes = analyse(heap, rows, self.n_calls, report, self.ignore)
            del heap, rows
            if self.trail is not None and self.native is not None:
                from heaplens._leaks.native import analyse_native

                analyse_native(
                    report,
                    self.trail,
                    object_sizes,
                    self.n_calls,
                    min_per_call=self.native.min_per_call,
                    every_call=self.native.every_call,
                )
            if self.started_tracer:
                native = " and native tracing" if self.native is not None else ""
                report.notes.append(
                    f"The tracer was started for this hunt with {self.nframe} frames{native} "
                    "and stopped after it."
                )
        finally:
            self.end()

    def end(self) -> None:
        self.trail = None
        self._remove_callback()
        if self.begun:
            self.begun = False
            dropped = _core.leak_tags_end()
            if dropped:
                raise MemoryError(f"the leak hunt could not record {dropped} objects")
        if self.started_tracer:
            self.started_tracer = False
            _core.stop()

    @staticmethod
    def _remove_callback() -> None:
        while _core.leak_tags_gc_callback in gc.callbacks:
            gc.callbacks.remove(_core.leak_tags_gc_callback)


def _require_native_tracing() -> None:
    """Return when the running tracer traces native memory; raise
    RuntimeError, saying what to do, when it does not. (start() with the
    running tracer's settings does nothing, and refuses when native=True is
    a setting the tracer does not have.)"""
    rate = _core.get_tracer_counters().get("sample_rate", 0)
    try:
        _core.start(_core.get_traceback_limit(), sample_rate=int(rate), native=True)
    except RuntimeError:
        raise RuntimeError(
            "a native leak hunt needs native tracing, and heaplens is tracing without it: "
            "stop it first (heaplens.stop(); the hunt then starts the tracer with "
            "native=True and stops it after), or start it with heaplens.start(..., native=True) "
            "(under heaplens run: heaplens run --native)"
        ) from None


def _realize_log_streams() -> None:
    """On Python 3.11 an io.StringIO that is only written to keeps each write
    as a str in a list that only C code refers to (CPython's _PyAccu; 3.12
    writes into the StringIO's buffer). Log handlers, pytest's capture among
    them, write every record to one, and the hunt would report those strings
    as held from C. Reading at the end of a StringIO makes it keep its text in
    its buffer, and later writes go there; the text and position do not change."""
    if sys.version_info >= (3, 12):
        return
    import io
    import logging

    for handler in logging.getLogger().handlers:
        stream = getattr(handler, "stream", None)
        if type(stream) is io.StringIO and not stream.closed:
            position = stream.tell()
            stream.seek(0, io.SEEK_END)
            stream.readline()
            stream.seek(position)


def _collect() -> None:
    """Collect until nothing more goes (finalizers can free more next time)."""
    for _ in range(4):
        if gc.collect() == 0:
            break


def _name_of(func: object) -> str:
    """'app.handle' for a function, the type's name for another callable:
    read from C fields, as the callable may be a proxy."""
    module: str | None
    if type(func) is types.FunctionType:
        module = func.__module__
        module = module if type(module) is str else None
    elif type(func) is types.MethodType and type(func.__func__) is types.FunctionType:
        module = func.__func__.__module__
        module = module if type(module) is str else None
        func = func.__func__
    else:
        module = None
    name = function_name(func)
    return f"{module}.{name}" if module and module != "__main__" else name


def find_leaks(
    func: Callable[..., object],
    *args: object,
    repeat: int = 5,
    warmup: int = 2,
    native: bool = False,
    **kwargs: object,
) -> LeakReport:
    """See heaplens.find_leaks."""
    _args.callable_("find_leaks", "func", func)
    _args.instance("find_leaks", "native", native, bool, "a bool")
    return run_hunt(
        lambda: func(*args, **kwargs),
        repeat=repeat,
        warmup=warmup,
        title=f"find_leaks({_name_of(func)})",
        native=NativeSettings() if native else None,
    )


def run_hunt(
    call: Callable[[], object],
    *,
    repeat: int,
    warmup: int,
    title: str,
    ignore: Iterable[str] = (),
    native: NativeSettings | None = None,
) -> LeakReport:
    """Call call() warmup + repeat times and return the LeakReport of the
    measured calls. Holders reached from a module, a frame or an object type
    of a package in `ignore` (module name prefixes such as '_pytest') are
    listed but not counted as leaks. With `native`, the native memory the
    calls left alive is reported too, by those settings."""
    _args.count("find_leaks", "repeat", repeat, minimum=1, maximum=1000)
    _args.count("find_leaks", "warmup", warmup)
    report = LeakReport(title, repeat, warmup)
    hunt = _Hunt(repeat, DEFAULT_NFRAME, ignore, native)
    try:
        for _ in range(warmup):
            call()
        hunt.begin()
        for _ in range(repeat):
            hunt.enter_call()
            try:
                call()
            finally:
                hunt.leave_call()
    except BaseException:
        hunt.end()
        raise
    hunt.finish(report)
    return report


class leak_check:
    """See heaplens.leak_check."""

    def __init__(self, nframe: int = DEFAULT_NFRAME) -> None:
        _args.count("leak_check", "nframe", nframe, minimum=1, maximum=_core.MAX_NFRAME)
        self.report = LeakReport("the leak_check block", 1, 0)
        self.hunt: _Hunt | None = None
        self.nframe = nframe

    def __enter__(self) -> LeakReport:
        self.hunt = _Hunt(1, self.nframe)
        try:
            self.hunt.begin()
            self.hunt.enter_call()
        except BaseException:
            self.hunt.end()
            raise
        return self.report

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> Literal[False]:
        hunt, self.hunt = cast(_Hunt, self.hunt), None  # set by __enter__
        try:
            hunt.leave_call()
        except BaseException:
            hunt.end()
            raise
        del exc, tb  # the exception's frames would hold the block's objects
        hunt.finish(self.report)
        if exc_type is not None:
            self.report.notes.append(
                f"The block raised {type_name(exc_type)}; its traceback was dropped before the "
                "heap was walked, so what it held is not counted."
            )
        return False


__all__ = ["NativeSettings", "find_leaks", "leak_check", "run_hunt"]

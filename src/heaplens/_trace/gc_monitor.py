"""What the cyclic garbage collector does while a program runs.

heaplens.gc_monitor() records every collection: its generation, how long it
took, how many objects it collected and found uncollectable, and (with the
breakdown, on by default) what it freed by type and, when the tracer is on,
by the line that allocated it. That tells a user which code keeps producing
cyclic garbage and what it costs in collector time. Objects with finalizers
(__del__, a C tp_finalize, legacy tp_del) that were collected are listed, and
so is what the collector had to leave in gc.garbage.

The monitor changes nothing about what the program keeps alive: it never
sets gc.DEBUG_SAVEALL, never touches gc.garbage, and holds no reference to
an object or a type it saw. It watches the memory blocks of the objects a
collection examines and counts those freed during it (see docs/gc-monitor.md).
"""

from __future__ import annotations

import gc
import os
import threading
import time
from typing import NamedTuple

from heaplens import _core
from heaplens._report.protocol import Report, plain
from heaplens._report.units import format_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any, Literal, Self

    from heaplens._report.protocol import JSON

    # An allocation site: ((filename, lineno), ...), most recent frame first.
    _Site = tuple[tuple[str, int], ...]

_lock = threading.Lock()


class Freed(NamedTuple):
    """Objects of one type (and allocation site) that collections freed."""

    type: str  # 'module.Class', or a builtin's name
    finalizer: str | None  # '__del__', 'tp_finalize', 'tp_del' or None
    site: _Site | None  # ((filename, lineno), ...) most recent first, tracer on
    count: int  # type: ignore[assignment]  # shadows tuple.count; a public field
    size: int  # bytes, sys.getsizeof of each object as the collection began


class Uncollectable(NamedTuple):
    """An object a collection put in gc.garbage."""

    type: str
    finalizer: str | None
    address: int  # id() of the object
    site: _Site | None


class Collection(NamedTuple):
    """One run of the cyclic garbage collector (the report keeps the last
    GcReport.RECENT of them; its totals count them all)."""

    generation: int
    started: float  # time.perf_counter() when it began
    duration: float  # seconds
    collected: int  # as the collector counts it
    uncollectable: int
    freed: int  # objects the monitor saw it free (0 without the breakdown)
    freed_bytes: int  # their sys.getsizeof sizes
    garbage: int  # objects it added to gc.garbage
    watched: int  # objects the monitor watched for this collection


def format_site(site: Sequence[tuple[str, int]] | None) -> str:
    """'app.py:12' for a site's most recent frame, or '?' when unknown."""
    if not site:
        return "?"
    filename, lineno = site[0]
    return f"{os.path.basename(filename)}:{lineno}"


class GenerationSummary(NamedTuple):
    generation: int
    collections: int
    seconds: float
    longest: float
    collected: int
    uncollectable: int


def _merge(
    rows: Iterable[Freed], key: Callable[[Freed], tuple[str, str | None, _Site | None]]
) -> list[Freed]:
    """Freed rows merged by key(row): new Freed rows, most objects first."""
    merged: dict[tuple[str, str | None, _Site | None], tuple[int, int]] = {}
    for row in rows:
        k = key(row)
        count, size = merged.get(k, (0, 0))
        merged[k] = (count + row.count, size + row.size)
    out = []
    for (type_name, finalizer, site), (count, size) in merged.items():
        out.append(Freed(type_name, finalizer, site, count, size))
    out.sort(key=lambda row: (-row.count, -row.size, row.type))
    return out


class GcReport(Report):
    """What the collector did while a monitor ran.

    The monitor's memory does not grow with the number of collections: it
    keeps running totals (n_collections, gc_seconds, collected, by_generation(),
    by_type(), by_site(), n_garbage), the last RECENT collections
    (.collections) and the last GARBAGE_KEPT objects added to gc.garbage
    (garbage()).
    """

    RECENT = _core.GC_RECENT
    GARBAGE_KEPT = _core.GC_GARBAGE_KEPT

    def __init__(self, recorded: dict[str, Any], breakdown: bool, elapsed: float) -> None:
        self.collections = [Collection(*row) for row in recorded["recent"]]
        self.n_collections: int = recorded["n_collections"]
        # Per generation: (runs, seconds, longest, collected, uncollectable).
        self._generations: Sequence[tuple[int, float, float, int, int]] = recorded["generations"]
        self._freed = [Freed(*row) for row in recorded["freed"]]
        self._garbage = [Uncollectable(*entry) for entry in recorded["garbage"]]
        self.n_garbage: int = recorded["n_garbage"]  # objects added to gc.garbage, all of them
        # The monitor's own time inside collections.
        self.own_seconds: float = recorded["own_seconds"]
        self.peak_watch_bytes: int = recorded["peak_watch_bytes"]  # most its tables held
        self.dropped: int = recorded["dropped"]  # objects not watched, or lost, for lack of memory
        self.breakdown = breakdown
        self.elapsed = elapsed  # seconds the monitor ran

    @property
    def gc_seconds(self) -> float:
        return sum(runs[1] for runs in self._generations)

    @property
    def collected(self) -> int:
        return sum(runs[3] for runs in self._generations)

    @property
    def uncollectable(self) -> int:
        return sum(runs[4] for runs in self._generations)

    def by_generation(self) -> list[GenerationSummary]:
        """A GenerationSummary per generation that ran."""
        return [
            GenerationSummary(generation, *runs)
            for generation, runs in enumerate(self._generations)
            if runs[0]
        ]

    def _freed_rows(self) -> list[Freed]:
        return self._freed

    def by_type(self) -> list[Freed]:
        """What the collections freed, by type: Freed rows (site None), most objects first."""
        return _merge(self._freed_rows(), lambda row: (row.type, row.finalizer, None))

    def by_site(self) -> list[Freed]:
        """What the collections freed, by type and allocation site (tracer on)."""
        return _merge(self._freed_rows(), lambda row: (row.type, row.finalizer, row.site))

    def by_line(self) -> list[tuple[tuple[str, int], int, int, dict[str, int]]]:
        """Objects freed by the line that allocated them (the most recent frame),
        all types together: [((filename, lineno), count, bytes, {type: count})],
        most objects first. Empty when the tracer was off."""
        lines: dict[tuple[str, int], tuple[int, int, dict[str, int]]] = {}
        for row in self._freed_rows():
            if not row.site:
                continue
            key: tuple[str, int] = tuple(row.site[0])  # type: ignore[assignment]  # the pair
            count, size, types = lines.get(key, (0, 0, {}))
            types[row.type] = types.get(row.type, 0) + row.count
            lines[key] = (count + row.count, size + row.size, types)
        out = [(key,) + value for key, value in lines.items()]
        out.sort(key=lambda line: (-line[1], -line[2]))
        return out

    def finalized(self) -> list[Freed]:
        """Collected objects that had finalizers, by type and site: Freed rows."""
        return [row for row in self.by_site() if row.finalizer is not None]

    def garbage(self) -> list[Uncollectable]:
        """Objects the collections added to gc.garbage (Uncollectable entries):
        the last GARBAGE_KEPT of them, oldest first (n_garbage counts all)."""
        return list(self._garbage)

    def still_in_garbage(self) -> list[Uncollectable]:
        """Those of garbage() that gc.garbage still holds now."""
        present = {id(obj) for obj in list(gc.garbage)}
        return [entry for entry in self.garbage() if entry.address in present]

    def _lines(self, limit: int | None, width: int | None) -> list[str]:
        lines = []
        runs = self.n_collections
        lines.append(
            f"{runs:,} collections in {self.elapsed:.2f} s: {self.gc_seconds * 1e3:.1f} ms in the "
            f"collector ({_share(self.gc_seconds, self.elapsed)}), {self.collected:,} objects "
            f"collected, {self.uncollectable:,} uncollectable"
        )
        for g in self.by_generation():
            lines.append(
                f"  generation {g.generation}: {g.collections:,} runs, {g.seconds * 1e3:.1f} ms "
                f"(longest {g.longest * 1e3:.2f} ms), {g.collected:,} collected"
                + (f", {g.uncollectable:,} uncollectable" if g.uncollectable else "")
            )
        if self.breakdown and self._freed_rows():
            lines.append("freed by collections, by type:")
            for row in self.by_type()[:limit]:
                lines.append(
                    f"  {row.count:>10,}  {format_bytes(row.size, decimals=1):>10}  {_type_label(row)}"
                )
            if any(row.site for row in self._freed_rows()):
                lines.append("by the line that allocated them:")
                for line, count, size, types in self.by_line()[:limit]:
                    kinds = ", ".join(
                        f"{name} x{n:,}"
                        for name, n in sorted(types.items(), key=lambda kv: -kv[1])[:4]
                    )
                    lines.append(
                        f"  {count:>10,}  {format_bytes(size, decimals=1):>10}  {format_site((line,))}  ({kinds})"
                    )
        elif not self.breakdown:
            lines.append("(no breakdown by type: gc_monitor(breakdown=False))")
        finalized = self.finalized()
        if finalized:
            lines.append("collected objects with finalizers:")
            for row in finalized[:limit]:
                where = f" allocated at {format_site(row.site)}" if row.site else ""
                lines.append(f"  {row.count:>10,}  {row.type} ({row.finalizer}){where}")
        garbage = self.garbage()
        if garbage:
            still = self.still_in_garbage()
            kept = "" if len(garbage) == self.n_garbage else f", the last {len(garbage):,} kept"
            lines.append(
                f"left in gc.garbage by the collector: {self.n_garbage:,} objects "
                f"({len(still):,} still there{kept})"
            )
            for entry in still[:limit]:
                kind = f" ({entry.finalizer})" if entry.finalizer else ""
                where = f" allocated at {format_site(entry.site)}" if entry.site else ""
                lines.append(f"  {entry.type} at {entry.address:#x}{kind}{where}")
        if self.dropped:
            lines.append(f"(the monitor lost track of {self.dropped:,} objects for lack of memory)")
        lines.append(
            f"monitor overhead: {self.own_seconds * 1e3:.1f} ms, "
            f"{format_bytes(self.peak_watch_bytes, decimals=1)} at most"
        )
        return lines

    def to_dict(self) -> dict[str, JSON]:
        """{"n_collections", "elapsed", "gc_seconds", "collected",
        "uncollectable", "generations", "recent", "freed_by_type",
        "freed_by_line", "finalized", "n_garbage", "garbage", "dropped",
        "own_seconds", "peak_watch_bytes"}: the rows of by_generation(),
        collections, by_type(), by_line(), finalized() and garbage() as
        dicts of their fields; a site as [[filename, lineno], ...]."""
        return {
            "n_collections": self.n_collections,
            "elapsed": self.elapsed,
            "gc_seconds": self.gc_seconds,
            "collected": self.collected,
            "uncollectable": self.uncollectable,
            "generations": plain(self.by_generation()),
            "recent": plain(self.collections),
            "freed_by_type": plain(self.by_type()),
            "freed_by_line": [
                {"site": plain(line), "count": count, "size": size, "types": plain(types)}
                for line, count, size, types in self.by_line()
            ],
            "finalized": plain(self.finalized()),
            "n_garbage": self.n_garbage,
            "garbage": plain(self.garbage()),
            "dropped": self.dropped,
            "own_seconds": self.own_seconds,
            "peak_watch_bytes": self.peak_watch_bytes,
        }

    def __repr__(self) -> str:
        return (
            f"<GcReport {self.n_collections} collections, {self.collected} collected, "
            f"{self.gc_seconds * 1e3:.1f} ms>"
        )


def _type_label(row: Freed) -> str:
    return f"{row.type} ({row.finalizer})" if row.finalizer else row.type


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}% of the time" if whole > 0 else "-"


class GcMonitor:
    """Records what each garbage collection does, from start() to stop().

    Use it as a context manager (`with heaplens.gc_monitor() as monitor:`)
    and read monitor.report afterwards, or call start() and stop(), which
    returns the GcReport. One monitor runs at a time.
    """

    def __init__(self, breakdown: bool = True) -> None:
        self.breakdown = bool(breakdown)
        # Typed as what stop() sets, to be read after it (None until then).
        self.report: GcReport = None  # type: ignore[assignment]
        self._started: float | None = None

    def start(self) -> Self:
        with _lock:
            if self._started is not None:
                raise RuntimeError("this gc monitor is already running")
            _core.gc_watch_start(self.breakdown, gc.garbage)
            gc.callbacks.append(_core.gc_watch_callback)
            self._started = time.perf_counter()
        return self

    def stop(self) -> GcReport:
        """Stop recording and return the GcReport (also kept as .report)."""
        with _lock:
            if self._started is None:
                raise RuntimeError("this gc monitor is not running")
            while _core.gc_watch_callback in gc.callbacks:
                gc.callbacks.remove(_core.gc_watch_callback)
            recorded = _core.gc_watch_stop()
            elapsed = time.perf_counter() - self._started
            self._started = None
        self.report = GcReport(recorded, self.breakdown, elapsed)
        return self.report

    @property
    def running(self) -> bool:
        return self._started is not None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> Literal[False]:
        self.stop()
        return False


def gc_monitor(breakdown: bool = True) -> GcMonitor:
    """A GcMonitor, not yet started: use `with gc_monitor() as m:` or m.start()."""
    return GcMonitor(breakdown)

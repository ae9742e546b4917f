"""Native memory in a leak hunt (find_leaks(native=True), the pytest plugin's
--heaplens-native): what the measured calls allocated outside Python's
allocators and left alive, by the Python line that allocated it.

The tracer records native blocks (start(native=True): malloc, mmap and the
rest, in heaplens.NATIVE_DOMAIN) and the blocks that extensions report with
PyTraceMalloc_Track (NumPy's arrays, in NumPy's domain), each at the Python
stack that was running. The hunt takes a snapshot before the first measured
call and one after each call, each after a full collection (NativeTrail),
and compares the native bytes alive at each stack: a stack whose bytes keep
growing, call after call, holds memory the calls left alive. Snapshots hold
no addresses, so they are compared by stack: a block freed and another
allocated at the same stack in one call cancel out.

Counted once: a leaked Python object's size can count native memory it owns
(ndarray.__sizeof__ counts the data of an array that owns its data). At each
stack where leaked objects were allocated, what their sizes can account for
is taken off the native bytes gained there, and kept as the row's
held_by_objects:
- blocks an extension reported (PyTraceMalloc_Track: NumPy's arrays' data)
  are what that API is for, memory of the extension's objects: they are
  taken off up to the leaked objects' sizes at that stack;
- malloc'd and mapped blocks (NATIVE_DOMAIN) only up to the part of those
  sizes that Python's allocators do not explain (the sizes less what the
  Python domains gained at that stack, less what was taken off already).
This is a reckoning by stack, not by block (snapshots hold no addresses):
at a stack where leaked objects are allocated beside native memory that no
object's size counts, the two can be mixed up: some bytes counted twice (a
list that grew at that line too makes the Python part look bigger), or
native bytes taken for an object's (an extension's object whose size counts
less than the memory it reports).

Invariant: between the measured calls the hunt keeps the snapshots only
(C objects, made while the hunt's own generation is set); everything else is
computed after the heap was walked, so no object of this module is ever
taken for one the calls made.
"""

from __future__ import annotations

from heaplens import _core
from heaplens._leaks.analysis import site_of_frames
from heaplens._leaks.report import NativeLeak
from heaplens._report.units import format_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from heaplens._leaks.analysis import Frame
    from heaplens._leaks.report import LeakReport

    # The frames of a stack as snapshots give them: ((filename, lineno), ...),
    # most recent first.
    Frames = tuple[tuple[str, int], ...]
    # {(domain, frames): (bytes, blocks)}
    Sums = dict[tuple[int, Frames], tuple[int, int]]


class NativeTrail:
    """The snapshots of one hunt: before the first measured call (whole), after
    each call but the last (native domains only), after the last (whole)."""

    def __init__(self) -> None:
        self.snapshots: list[_core.Snapshot] = []

    def take(self, whole: bool) -> None:
        snapshot = _core.take_snapshot()
        if not whole:
            snapshot = _only(snapshot, native=True)
        self.snapshots.append(snapshot)


def _only(snapshot: _core.Snapshot, native: bool, domain: int | None = None) -> _core.Snapshot:
    """The traces of `snapshot` in `domain`, or (domain None) in every domain
    but Python's (0) when `native`."""
    domains = snapshot.domains()
    n_stacks = snapshot.n_stacks
    keep = bytearray(len(domains) * n_stacks)
    for position, each in enumerate(domains):
        if (each == domain) if domain is not None else (native and each != 0):
            keep[position * n_stacks : (position + 1) * n_stacks] = b"\x01" * n_stacks
    return snapshot.filter(domains, bytes(keep))


def _sums(snapshot: _core.Snapshot, python: bool) -> Sums:
    """Bytes and blocks by (domain, frames) of the native domains, and of
    Python's domain 0 too when `python`."""
    sums: Sums = {}
    for domain in snapshot.domains():
        if domain == 0 and not python:
            continue
        part = _only(snapshot, native=False, domain=domain)
        stacks = part.stacks()
        for index, size, count in part.group(0, False):
            key = (domain, python_frames(stacks[index][0]))
            old_size, old_count = sums.get(key, (0, 0))
            sums[key] = (old_size + size, old_count + count)
    return sums


def python_frames(frames: Sequence[tuple[str, int]]) -> Frames:
    """The Python frames of a stack: with native frames (start(native_frames=
    True)) the C functions between them have line -1. Rows are by Python
    line, and leaked objects' blocks (never unwound) match on these."""
    return tuple((filename, lineno) for filename, lineno in frames if lineno >= 0)


class _Row:
    """A NativeLeak being added up: one (site, domain)."""

    def __init__(self, n_calls: int) -> None:
        self.size = 0
        self.blocks = 0
        self.held = 0
        self.per_call = [0.0] * n_calls
        self.traceback: list[Frame] = []
        self.biggest = -1  # the size of the stack whose traceback is shown


def analyse_native(
    report: LeakReport,
    trail: NativeTrail,
    object_sizes: dict[int, list[int]],
    n_calls: int,
    min_per_call: int = 0,
    every_call: bool = False,
) -> None:
    """Fill report.native from the trail's snapshots (n_calls + 1 of them).

    object_sizes: the leaked objects' sizes by tracer stack id and call (what
    analyse() returns). A row is a leak when the calls left bytes alive at
    its line and it grew in at least two calls (in the only call, with one);
    a leak under `min_per_call` bytes per call, or (every_call) that did not
    grow in every call, is listed with the reason it is not counted."""
    report.native_checked = True
    snapshots = trail.snapshots
    if len(snapshots) != n_calls + 1:
        return  # the hunt did not get through its calls
    last = len(snapshots) - 1
    sums = [_sums(snapshot, python=index in (0, last)) for index, snapshot in enumerate(snapshots)]
    # The leaked objects' sizes by frames (stack ids are the tracer's; the
    # snapshots speak of frames).
    objects: dict[Frames, list[int]] = {}
    for stack, sizes in object_sizes.items():
        try:
            frames, _ = _core.get_stack_traceback(stack)
        except (IndexError, MemoryError):
            continue
        totals = objects.setdefault(python_frames(frames), [0] * n_calls)
        for call, size in enumerate(sizes):
            totals[call] += size

    grown: dict[Frames, list[int]] = {}  # frames -> native domains that grew there
    for domain, frames in sums[last]:
        if domain == 0:
            continue
        if sums[last][domain, frames][0] > sums[0].get((domain, frames), (0, 0))[0]:
            grown.setdefault(frames, []).append(domain)

    rows: dict[tuple[str | None, int], _Row] = {}
    total_held = 0
    for frames, domains in grown.items():
        # Extensions' domains first: their blocks are the data of objects
        # (NumPy's arrays), whose sizes count them.
        domains.sort(key=lambda d: (d == _core.NATIVE_DOMAIN, d))
        unexplained = tracked_budget = 0
        object_sizes_here = objects.get(frames)
        if object_sizes_here:
            tracked_budget = sum(object_sizes_here)
            python_first = sums[0].get((0, frames), (0, 0))[0]
            python_last = sums[last].get((0, frames), (0, 0))[0]
            unexplained = max(0, tracked_budget - max(0, python_last - python_first))
        site, traceback = site_of_frames(frames)
        for domain in domains:
            series = [each.get((domain, frames), (0, 0)) for each in sums]
            gained = series[last][0] - series[0][0]
            gained_blocks = series[last][1] - series[0][1]
            if domain == _core.NATIVE_DOMAIN:
                held = min(unexplained, gained)
            else:
                held = min(tracked_budget, gained)
                tracked_budget -= held
            unexplained = max(0, unexplained - held)
            total_held += held
            row = rows.get((site, domain))
            if row is None:
                row = rows[site, domain] = _Row(n_calls)
            row.size += gained - held
            row.held += held
            row.blocks += round(gained_blocks * (gained - held) / gained)
            for call in range(n_calls):
                step: float = series[call + 1][0] - series[call][0]
                if held and object_sizes_here:
                    step -= held * object_sizes_here[call] / sum(object_sizes_here)
                row.per_call[call] += step
            if gained - held > row.biggest:
                row.biggest = gained - held
                row.traceback = traceback

    leaks: list[NativeLeak] = []
    for (site, domain), row in rows.items():
        per_call = [round(step) for step in row.per_call]
        grew = sum(1 for step in per_call if step > 0)
        if row.size <= 0 or (n_calls > 1 and grew < 2):
            continue  # freed, or allocated in one call and kept (a cache filled once)
        excluded = None
        if every_call and grew < n_calls:
            excluded = (
                f"it grew in {grew} of the {n_calls} calls, and only native memory that "
                "grows in every call is counted"
            )
        elif row.size / n_calls < min_per_call:
            excluded = (
                f"{format_bytes(round(row.size / n_calls), decimals=1)} per call is under "
                f"the threshold of {format_bytes(min_per_call, decimals=1)} per call"
            )
        leaks.append(
            NativeLeak(
                site=site,
                traceback=row.traceback,
                domain=domain,
                size=row.size,
                blocks=max(row.blocks, 0),
                per_call=per_call,
                bytes_per_call=row.size / n_calls,
                blocks_per_call=max(row.blocks, 0) / n_calls,
                held_by_objects=row.held,
                excluded=excluded,
            )
        )
    leaks.sort(key=lambda leak: (leak.excluded is not None, -leak.size, leak.site or ""))
    report.native = leaks
    if total_held:
        report.notes.append(
            f"{format_bytes(total_held, decimals=1)} of native memory that the calls left alive "
            "is counted in the size of leaked objects (an array's data in its ndarray's size) "
            "and is not listed again as native memory."
        )
    counters = _core.get_tracer_counters()
    if counters.get("redirect_failed"):
        report.notes.append(
            "Some libraries' calls to the allocator could not be redirected to heaplens "
            "(get_tracer_counters()['redirect_failed']): their native memory is not seen."
        )
    rate = counters.get("sample_rate", 0)
    if rate:
        report.notes.append(
            f"The tracer samples about one block per {format_bytes(int(rate))} allocated: "
            "the native figures are estimates."
        )


__all__ = ["NativeTrail", "analyse_native"]

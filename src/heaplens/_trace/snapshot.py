"""The snapshot model behind heaplens.tracemalloc.

Value classes with the stdlib tracemalloc's attributes, comparisons and text
(Frame, Traceback, Trace, Statistic, StatisticDiff), its filters, and the
Snapshot that answers statistics(), compare_to() and filter_traces().

A Snapshot wraps a heaplens._core.Snapshot, which holds the traces in C. The
per-trace work (grouping, filtering) runs there; this module only handles the
few distinct stacks, frames and file names, and builds a Trace object only when
one is asked for. Raw tuples keep the stdlib's layout: a trace is
(domain, size, frames, total_nframe) and frames run most recent first, so
filters written for the stdlib (their _match method) work unchanged.

Longer than 500 lines on purpose: it is the counterpart of the stdlib's one
Lib/tracemalloc.py (the same classes in the same module, so that the two read
side by side), and `import heaplens` loads it whole and up front, so that a
snapshot taken in a signal handler imports nothing; a split would add modules
to that import for no reader's gain. For the same reason it keeps
tracemalloc's own size format (_format_size, as stdlib tracemalloc prints it)
instead of heaplens._report.units, which is not loaded by `import heaplens`.
"""

from __future__ import annotations

import fnmatch
import functools
import linecache
import os.path
from collections.abc import Iterable, Sequence

from heaplens import _core

# typing is not imported at run time: `import heaplens` loads this module.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import SupportsIndex, TypeVar, overload

    T = TypeVar("T")

    # (filename, lineno), as tracemalloc's frames are.
    _FrameTuple = tuple[str, int]
    # A trace as the stdlib's Snapshot takes it: (domain, size, frames most
    # recent first[, total_nframe]).
    _TraceTuple = (
        tuple[int, int, Sequence[_FrameTuple], int | None] | tuple[int, int, Sequence[_FrameTuple]]
    )
    # A trace as this module builds it: (domain, size, frames, total_nframe).
    _RawTrace = tuple[int, int, tuple[_FrameTuple, ...], int | None]
    # What a filter's _match sees: heaplens passes None as the size.
    _FilterTrace = tuple[int, int | None, tuple[_FrameTuple, ...], int | None]
    # (frames most recent first, total_nframe) of one stack.
    _StackTuple = tuple[tuple[_FrameTuple, ...], int | None]

_SIZE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")

# statistics() key types and the matching _core.Snapshot.group() key.
_GROUP_KEYS = {"traceback": 0, "lineno": 1, "filename": 2}


def _format_size(size: float, sign: bool) -> str:
    """Format a byte count as tracemalloc does: '12.3 KiB', or '+12.3 KiB' with sign."""
    plus = "+" if sign else ""
    for unit in _SIZE_UNITS:
        # Below 100 in a unit larger than bytes: keep one decimal (xx.x).
        if unit != "B" and abs(size) < 100:
            return f"{size:{plus}.1f} {unit}"
        # Up to 4 digits of whole units; TiB takes whatever is left.
        if abs(size) < 10 * 1024 or unit == _SIZE_UNITS[-1]:
            return f"{size:{plus}.0f} {unit}"
        size /= 1024
    raise AssertionError("unreachable: the last unit returns")


@functools.total_ordering
class Frame:
    """One frame of a traceback: a file name and a line number."""

    __slots__ = ("_frame",)

    def __init__(self, frame: _FrameTuple) -> None:
        self._frame = frame  # (filename, lineno)

    @property
    def filename(self) -> str:
        return self._frame[0]

    @property
    def lineno(self) -> int:
        return self._frame[1]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Frame):
            return self._frame == other._frame
        return NotImplemented

    def __lt__(self, other: Frame) -> bool:
        if isinstance(other, Frame):
            return self._frame < other._frame
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._frame)

    def __str__(self) -> str:
        return f"{self.filename}:{self.lineno}"

    def __repr__(self) -> str:
        return f"<Frame filename={self.filename!r} lineno={self.lineno!r}>"


@functools.total_ordering
class Traceback(Sequence[Frame]):
    """The frames of an allocation, oldest first.

    `frames` is given most recent first (the order the tracer records) and
    stored reversed. total_nframe is the stack depth before truncation, or None
    when unknown (statistics and get_object_traceback leave it unset, as the
    stdlib does).
    """

    __slots__ = ("_frames", "_total_nframe")

    def __init__(self, frames: Iterable[_FrameTuple], total_nframe: int | None = None) -> None:
        self._frames = tuple(frames)[::-1]
        self._total_nframe = total_nframe

    @property
    def total_nframe(self) -> int | None:
        return self._total_nframe

    def __len__(self) -> int:
        return len(self._frames)

    if TYPE_CHECKING:

        @overload
        def __getitem__(self, index: SupportsIndex) -> Frame: ...
        @overload
        def __getitem__(self, index: slice) -> tuple[Frame, ...]: ...

    def __getitem__(self, index: SupportsIndex | slice) -> Frame | tuple[Frame, ...]:
        if isinstance(index, slice):
            return tuple(map(Frame, self._frames[index]))
        return Frame(self._frames[index])

    # Frame only, as the stdlib's (anything else raises AttributeError).
    def __contains__(self, frame: Frame) -> bool:  # type: ignore[override]
        return frame._frame in self._frames

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Traceback):
            return self._frames == other._frames
        return NotImplemented

    def __lt__(self, other: Traceback) -> bool:
        if isinstance(other, Traceback):
            return self._frames < other._frames
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._frames)

    def __str__(self) -> str:
        # The stdlib shows the first (oldest) frame; keep that.
        return str(self[0])

    def __repr__(self) -> str:
        text = f"<Traceback {tuple(self)}"
        if self._total_nframe is not None:
            text += f" total_nframe={self._total_nframe}"
        return text + ">"

    def format(self, limit: int | None = None, most_recent_first: bool = False) -> list[str]:
        """Lines in the style of the traceback module, with source from linecache.

        A positive limit keeps the `limit` most recent frames, a negative one
        the oldest abs(limit) frames.
        """
        frames: tuple[Frame, ...]
        if limit is None:
            frames = tuple(self)
        elif limit > 0:
            frames = self[-limit:]
        else:
            frames = self[:limit]
        if most_recent_first:
            frames = frames[::-1]
        lines = []
        for frame in frames:
            lines.append(f'  File "{frame.filename}", line {frame.lineno}')
            source = linecache.getline(frame.filename, frame.lineno).strip()
            if source:
                lines.append(f"    {source}")
        return lines


class Trace:
    """One traced memory block: its domain, size and traceback."""

    __slots__ = ("_trace",)

    def __init__(self, trace: _TraceTuple) -> None:
        self._trace = trace  # (domain, size, frames most recent first, total_nframe)

    @property
    def domain(self) -> int:
        return self._trace[0]

    @property
    def size(self) -> int:
        return self._trace[1]

    @property
    def traceback(self) -> Traceback:
        return Traceback(*self._trace[2:])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Trace):
            return self._trace == other._trace
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._trace)

    def __str__(self) -> str:
        return f"{self.traceback}: {_format_size(self.size, False)}"

    def __repr__(self) -> str:
        size = _format_size(self.size, False)
        return f"<Trace domain={self.domain} size={size}, traceback={self.traceback!r}>"


class Statistic:
    """Size and count of the blocks grouped under one traceback."""

    __slots__ = ("count", "size", "traceback")

    count: int
    size: int
    traceback: Traceback

    def __init__(self, traceback: Traceback, size: int, count: int) -> None:
        self.traceback = traceback
        self.size = size
        self.count = count

    def _sort_key(self) -> tuple[int, int, Traceback]:
        return (self.size, self.count, self.traceback)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Statistic):
            return (self.traceback, self.size, self.count) == (
                other.traceback,
                other.size,
                other.count,
            )
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.traceback, self.size, self.count))

    def __str__(self) -> str:
        text = f"{self.traceback}: size={_format_size(self.size, False)}, count={self.count:d}"
        if self.count:
            text += f", average={_format_size(self.size / self.count, False)}"
        return text

    def __repr__(self) -> str:
        return f"<Statistic traceback={self.traceback!r} size={self.size:d} count={self.count:d}>"


class StatisticDiff:
    """A Statistic of a new snapshot with its change from an old one."""

    __slots__ = ("count", "count_diff", "size", "size_diff", "traceback")

    count: int
    count_diff: int
    size: int
    size_diff: int
    traceback: Traceback

    def __init__(
        self, traceback: Traceback, size: int, size_diff: int, count: int, count_diff: int
    ) -> None:
        self.traceback = traceback
        self.size = size
        self.size_diff = size_diff
        self.count = count
        self.count_diff = count_diff

    def _fields(self) -> tuple[Traceback, int, int, int, int]:
        return (self.traceback, self.size, self.size_diff, self.count, self.count_diff)

    def _sort_key(self) -> tuple[int, int, int, int, Traceback]:
        return (abs(self.size_diff), self.size, abs(self.count_diff), self.count, self.traceback)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StatisticDiff):
            return self._fields() == other._fields()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._fields())

    def __str__(self) -> str:
        text = (
            f"{self.traceback}: size={_format_size(self.size, False)} "
            f"({_format_size(self.size_diff, True)}), "
            f"count={self.count:d} ({self.count_diff:+d})"
        )
        if self.count:
            text += f", average={_format_size(self.size / self.count, False)}"
        return text

    def __repr__(self) -> str:
        return (
            f"<StatisticDiff traceback={self.traceback!r} size={self.size:d} "
            f"({self.size_diff:+d}) count={self.count:d} ({self.count_diff:+d})>"
        )


def _diff_groups(
    old: dict[Traceback, Statistic], new: dict[Traceback, Statistic]
) -> list[StatisticDiff]:
    """StatisticDiffs of two {traceback: Statistic} maps: the new groups in
    order, then the groups only the old snapshot has."""
    diffs: list[StatisticDiff] = []
    for traceback, stat in new.items():
        before = old.get(traceback)
        old_size, old_count = (before.size, before.count) if before else (0, 0)
        diffs.append(
            StatisticDiff(
                traceback, stat.size, stat.size - old_size, stat.count, stat.count - old_count
            )
        )
    for traceback, stat in old.items():
        if traceback not in new:
            diffs.append(StatisticDiff(traceback, 0, -stat.size, 0, -stat.count))
    return diffs


# ---- filters ---------------------------------------------------------------


def _normalize_filename(filename: str) -> str:
    filename = os.path.normcase(filename)
    return filename[:-1] if filename.endswith(".pyc") else filename


class BaseFilter:
    """A trace filter: inclusive filters keep what they match, others drop it.

    Subclasses implement _match(trace) on a raw trace tuple. heaplens calls it
    once per distinct (domain, traceback), with None as the size.
    """

    def __init__(self, inclusive: bool) -> None:
        self.inclusive = inclusive

    def _match(self, trace: _FilterTrace) -> bool:
        raise NotImplementedError


class Filter(BaseFilter):
    """Match traces by file name pattern (fnmatch), line number and domain."""

    def __init__(
        self,
        inclusive: bool,
        filename_pattern: str,
        lineno: int | None = None,
        all_frames: bool = False,
        domain: int | None = None,
    ) -> None:
        super().__init__(inclusive)
        self._filename_pattern = _normalize_filename(filename_pattern)
        self.lineno = lineno
        self.all_frames = all_frames
        self.domain = domain

    @property
    def filename_pattern(self) -> str:
        return self._filename_pattern

    def _frame_matches(self, filename: str, lineno: int) -> bool:
        """Whether the frame matches the pattern and line, ignoring inclusive."""
        if not fnmatch.fnmatch(_normalize_filename(filename), self._filename_pattern):
            return False
        return self.lineno is None or lineno == self.lineno

    def _match_frames(self, frames: tuple[_FrameTuple, ...]) -> bool:
        if self.all_frames:
            if any(self._frame_matches(*frame) for frame in frames):
                return self.inclusive
            return not self.inclusive
        # Only the most recent frame counts.
        return self._frame_matches(*frames[0]) ^ (not self.inclusive)

    def _match(self, trace: _FilterTrace) -> bool:
        domain, _size, frames, _total_nframe = trace
        matched = self._match_frames(frames)
        if self.domain is None:
            return matched
        if self.inclusive:
            return matched and domain == self.domain
        return matched or domain != self.domain


class DomainFilter(BaseFilter):
    """Match traces by address space (domain)."""

    def __init__(self, inclusive: bool, domain: int) -> None:
        super().__init__(inclusive)
        self._domain = domain

    @property
    def domain(self) -> int:
        return self._domain

    def _match(self, trace: _FilterTrace) -> bool:
        return (trace[0] == self._domain) ^ (not self.inclusive)


def _check_filters(filters: Iterable[BaseFilter]) -> list[BaseFilter]:
    """The filters as a list, checking that each has the filter protocol."""
    if not isinstance(filters, Iterable):
        raise TypeError(f"filters must be a list of filters, not {type(filters).__name__}")
    filters = list(filters)
    for trace_filter in filters:
        if not (
            hasattr(trace_filter, "inclusive") and callable(getattr(trace_filter, "_match", None))
        ):
            raise TypeError(
                "filters must be Filter or DomainFilter instances, "
                f"not {type(trace_filter).__name__}"
            )
    return filters


def _keeps(include: list[BaseFilter], exclude: list[BaseFilter], trace: _FilterTrace) -> bool:
    """stdlib rule: some inclusive filter matches (if any) and every exclusive one does."""
    if include and not any(f._match(trace) for f in include):
        return False
    return all(f._match(trace) for f in exclude)


# ---- snapshots -------------------------------------------------------------


class _Traces(Sequence[Trace]):
    """The traces of a Snapshot, built one Trace at a time on access."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    def __len__(self) -> int:
        return self._snapshot._data.n_traces

    def _raw(self, index: int) -> _RawTrace:
        domain, size, stack = self._snapshot._data.trace(index)
        frames, total_nframe = self._snapshot._stacks()[stack]
        return (domain, size, frames, total_nframe)

    def _iter_raw(self) -> Iterator[_RawTrace]:
        trace, stacks = self._snapshot._data.trace, self._snapshot._stacks()
        for index in range(len(self)):
            domain, size, stack = trace(index)
            frames, total_nframe = stacks[stack]
            yield (domain, size, frames, total_nframe)

    if TYPE_CHECKING:

        @overload
        def __getitem__(self, index: int) -> Trace: ...
        @overload
        def __getitem__(self, index: slice) -> tuple[Trace, ...]: ...

    def __getitem__(self, index: int | slice) -> Trace | tuple[Trace, ...]:
        if isinstance(index, slice):
            return tuple(Trace(self._raw(i)) for i in range(len(self))[index])
        return Trace(self._raw(index))

    def __iter__(self) -> Iterator[Trace]:
        return map(Trace, self._iter_raw())

    def __contains__(self, trace: object) -> bool:
        # A Trace made from a stdlib-style tuple (frames a list...) compares
        # with the raw tuples all the same.
        return (
            isinstance(trace, Trace) and trace._trace in self._iter_raw()  # type: ignore[operator]
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Traces):
            return NotImplemented
        if len(self) != len(other):
            return False
        return all(a == b for a, b in zip(self._iter_raw(), other._iter_raw(), strict=True))

    __hash__ = None  # type: ignore[assignment]  # unhashable, as a list is

    def __repr__(self) -> str:
        return f"<Traces len={len(self)}>"


class Snapshot:
    """Traces of the memory blocks allocated by Python at one moment.

    Made by take_snapshot() or Snapshot.load(); Snapshot(traces,
    traceback_limit) also accepts the stdlib's raw trace tuples, handled in
    Python (meant for small snapshots, pickling and tests).
    """

    def __init__(
        self, traces: Iterable[_TraceTuple] | _core.Snapshot | _TupleData, traceback_limit: int
    ) -> None:
        self._data: _core.Snapshot | _TupleData
        if isinstance(traces, (_core.Snapshot, _TupleData)):
            self._data = traces
        else:
            self._data = _TupleData(traces)
        self._stack_list: Sequence[_StackTuple] | None = None
        self.traces = _Traces(self)
        self.traceback_limit = traceback_limit

    def _stacks(self) -> Sequence[_StackTuple]:
        """[(frames, total_nframe)] by stack index, read from C once."""
        if self._stack_list is None:
            self._stack_list = self._data.stacks()
        return self._stack_list

    def __reduce__(self) -> tuple[type[Snapshot], tuple[list[_RawTrace], int]]:
        return (Snapshot, ([t for t in self.traces._iter_raw()], self.traceback_limit))

    def dump(self, filename: str | os.PathLike[str]) -> None:
        """Write the snapshot to `filename` in the heaplens capture format."""
        if isinstance(self._data, _TupleData):
            raise TypeError("only snapshots taken or loaded by heaplens can be dumped")
        self._data.dump(filename)  # any path (PyUnicode_FSConverter)

    @staticmethod
    def load(filename: str | os.PathLike[str]) -> Snapshot:
        """Read a snapshot written by dump(): ValueError naming the file when it
        is not a valid capture, OSError (FileNotFoundError...) when it cannot be
        read, as the stdlib's load does."""
        data = _core.load_snapshot(filename)  # any path, as dump()
        return Snapshot(data, data.traceback_limit)

    def stack_statistics(self) -> list[tuple[tuple[tuple[str, int, str], ...], int, int]]:
        """[(frames, size, count)] by stack, biggest size first, where frames
        is a tuple of (filename, lineno, function) most recent call first
        (function "" when unknown); a heaplens extension used by the reports.
        Unlike statistics("traceback"), two functions on one line stay apart."""
        stacks = self._stacks()
        functions = self._data.stack_functions()
        merged: dict[tuple[tuple[str, int, str], ...], tuple[int, int]] = {}
        for index, size, count in self._data.group(0, False):
            frames, _total = stacks[index]
            names = functions[index]
            key = tuple((f[0], f[1], names[i]) for i, f in enumerate(frames))
            old_size, old_count = merged.get(key, (0, 0))
            merged[key] = (old_size + size, old_count + count)
        rows = [(frames, size, count) for frames, (size, count) in merged.items()]
        rows.sort(key=lambda row: (-row[1], -row[2], row[0]))
        return rows

    def domain_sizes(self) -> dict[int, int]:
        """{domain: bytes} of the traces, computed in C; a heaplens extension
        used by the reports (domain 0 is Python's allocators)."""
        domains = self._data.domains()
        if len(domains) <= 1:
            return {domain: self._data.total_size() for domain in domains}
        n_stacks = self._data.n_stacks
        sizes = {}
        for i, domain in enumerate(domains):
            keep = bytearray(len(domains) * n_stacks)
            keep[i * n_stacks : (i + 1) * n_stacks] = b"\x01" * n_stacks
            sizes[domain] = self._data.filter(domains, bytes(keep)).total_size()
        return sizes

    def filter_traces(self, filters: Iterable[BaseFilter]) -> Snapshot:
        """A new Snapshot keeping the traces the filters select.

        Filters are evaluated once per (domain, stack); C applies the verdicts
        to the traces.
        """
        filter_list = _check_filters(filters)
        if not filter_list:
            return Snapshot(self._data, self.traceback_limit)
        include = [f for f in filter_list if f.inclusive]
        exclude = [f for f in filter_list if not f.inclusive]
        stacks = self._stacks()
        domains = self._data.domains()
        keep = bytearray(len(domains) * len(stacks))
        position = 0
        for domain in domains:
            for frames, total_nframe in stacks:
                keep[position] = _keeps(include, exclude, (domain, None, frames, total_nframe))
                position += 1
        return Snapshot(self._data.filter(domains, bytes(keep)), self.traceback_limit)

    def _group_traceback(self, key: int, index: int) -> Traceback:
        if key == 0:
            return Traceback(self._stacks()[index][0])
        if key == 1:
            return Traceback((self._data.frame(index),))
        return Traceback(((self._data.filename(index), 0),))

    def _group_by(self, key_type: str, cumulative: bool) -> dict[Traceback, Statistic]:
        """{Traceback: Statistic} for key_type, checked as the stdlib does."""
        if key_type not in ("traceback", "filename", "lineno"):
            raise ValueError(f"unknown key_type: {key_type!r}")
        if cumulative and key_type not in ("lineno", "filename"):
            raise ValueError(f"cumulative mode cannot by used with key type {key_type!r}")
        key = _GROUP_KEYS[key_type]
        stats: dict[Traceback, Statistic] = {}
        for index, size, count in self._data.group(key, bool(cumulative)):
            traceback = self._group_traceback(key, index)
            # Distinct C keys can share a Traceback (e.g. two stacks that differ
            # only in total_nframe): the stdlib groups by Traceback, so merge.
            stat = stats.get(traceback)
            if stat is None:
                stats[traceback] = Statistic(traceback, size, count)
            else:
                stat.size += size
                stat.count += count
        return stats

    def statistics(self, key_type: str, cumulative: bool = False) -> list[Statistic]:
        """Statistics grouped by key_type, biggest first."""
        stats = list(self._group_by(key_type, cumulative).values())
        stats.sort(key=Statistic._sort_key, reverse=True)
        return stats

    def compare_to(
        self, old_snapshot: Snapshot, key_type: str, cumulative: bool = False
    ) -> list[StatisticDiff]:
        """StatisticDiffs from old_snapshot to this one, biggest change first."""
        new = self._group_by(key_type, cumulative)
        old = old_snapshot._group_by(key_type, cumulative)
        diffs = _diff_groups(old, new)
        diffs.sort(key=StatisticDiff._sort_key, reverse=True)
        return diffs


class _TupleData:
    """The part of _core.Snapshot's interface that Snapshot uses, over raw
    trace tuples (domain, size, frames[, total_nframe]), in Python."""

    def __init__(self, traces: Iterable[_TraceTuple]) -> None:
        stack_ids: dict[_StackTuple, int] = {}
        self._traces: list[tuple[int, int, int]] = []
        for trace in traces:
            domain, size, frames = trace[:3]
            # tuple() of a (filename, lineno) pair, given as a tuple or a list, is that pair.
            stack: _StackTuple = (
                tuple(map(tuple, frames)),  # type: ignore[arg-type]
                trace[3] if len(trace) > 3 else None,
            )
            self._traces.append((domain, size, stack_ids.setdefault(stack, len(stack_ids))))
        self._stacks = list(stack_ids)
        # Frames and file names numbered by group(), in order of first use.
        self._frames: list[_FrameTuple] = []
        self._frame_ids: dict[_FrameTuple, int] = {}
        self._files: list[str] = []
        self._file_ids: dict[str, int] = {}

    @property
    def n_traces(self) -> int:
        return len(self._traces)

    @property
    def n_stacks(self) -> int:
        return len(self._stacks)

    def trace(self, index: int) -> tuple[int, int, int]:
        return self._traces[index]

    def stacks(self) -> list[_StackTuple]:
        return list(self._stacks)

    def domains(self) -> list[int]:
        return sorted({domain for domain, _, _ in self._traces})

    def total_size(self) -> int:
        return sum(size for _, size, _ in self._traces)

    def stack_functions(self) -> list[tuple[str, ...]]:
        return [("",) * len(frames) for frames, _total in self._stacks]

    def frame(self, index: int) -> _FrameTuple:
        return self._frames[index]

    def filename(self, index: int) -> str:
        return self._files[index]

    @staticmethod
    def _number(values: list[T], ids: dict[T, int], value: T) -> int:
        index = ids.get(value)
        if index is None:
            index = ids[value] = len(values)
            values.append(value)
        return index

    def _key_indices(self, key: int, cumulative: bool, stack: int) -> Sequence[int]:
        if key == 0:
            return (stack,)
        frames = self._stacks[stack][0]
        frames = frames if cumulative else frames[:1]
        if key == 1:
            return [self._number(self._frames, self._frame_ids, f) for f in frames]
        return [self._number(self._files, self._file_ids, f[0]) for f in frames]

    def group(self, key: int, cumulative: bool) -> list[tuple[int, int, int]]:
        totals: dict[int, tuple[int, int]] = {}
        for _, size, stack in self._traces:
            for index in self._key_indices(key, cumulative, stack):
                old_size, old_count = totals.get(index, (0, 0))
                totals[index] = (old_size + size, old_count + 1)
        return [(index, size, count) for index, (size, count) in totals.items()]

    def filter(self, domains: Sequence[int], keep: bytes) -> _TupleData:
        position = {domain: i for i, domain in enumerate(domains)}
        n_stacks = len(self._stacks)
        return _TupleData(
            (domain, size) + self._stacks[stack]
            for domain, size, stack in self._traces
            if domain in position and keep[position[domain] * n_stacks + stack]
        )

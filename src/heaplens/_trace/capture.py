"""Capture files as Python objects: the snapshots, the timeline and the facts
about the run that `heaplens run` records (docs/capture-format.md).

A Capture is plain data: it can be built from Python (tests, reports of
snapshots taken with the API) or read from a file with load_capture(), which
checks the file in C and never unpickles anything.
"""

from __future__ import annotations

import os
from collections import namedtuple

from heaplens._report.protocol import Report

# typing is not imported at run time: `heaplens run` loads this module before
# the program starts, and what it loads is not counted as the program's.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import NamedTuple

    from heaplens._report.protocol import JSON
    from heaplens._trace.snapshot import Snapshot

# Files of `heaplens run` itself (and runpy), as (package directories, file
# name) from the end of the path: outermost frames from them are the harness,
# not the program, and are left out of every stack. Both layouts: captures
# made before heaplens had subpackages name heaplens/_run.py and _cli.py.
_HARNESS_FILES = (
    (("heaplens",), "__main__.py"),
    (("heaplens", "_cli"), "main.py"),
    (("heaplens", "_cli"), "run.py"),
    (("heaplens", "_trace"), "recorder.py"),
    (("heaplens",), "_run.py"),
    (("heaplens",), "_cli.py"),
)


def is_harness_file(filename: str) -> bool:
    """Whether a frame's file belongs to the heaplens run harness: runpy, the
    heaplens package's run, CLI and __main__ modules, or the console script.
    Decided by name only, so it holds for captures made on other machines."""
    if filename == "<frozen runpy>" or filename.endswith(os.sep + "runpy.py"):
        return True
    parts = filename.split(os.sep)
    for directories, name in _HARNESS_FILES:
        if parts[-1] == name and tuple(parts[-1 - len(directories) : -1]) == directories:
            return True
    return parts[-1] == "heaplens" and parts[-2:-1] == ["bin"]


# One sample of the timeline. t_ns: nanoseconds since Timeline.start_ns;
# traced: traced bytes at that moment; traced_max: the highest traced size
# since the previous sample (>= traced); rss: resident set size in bytes, or
# 0 when the platform does not tell.
if TYPE_CHECKING:

    class TimelinePoint(NamedTuple):
        t_ns: int
        traced: int
        traced_max: int
        rss: int

else:
    TimelinePoint = namedtuple("TimelinePoint", "t_ns traced traced_max rss")


class Timeline:
    """Heap size over time: points in time order, at most a few thousand
    (long runs are thinned by merging neighbours, keeping the maxima)."""

    def __init__(
        self, start_ns: int, points: Iterable[tuple[int, int, int, int]], interval_ns: int = 0
    ) -> None:
        self.start_ns = int(start_ns)  # wall clock of t_ns == 0, ns since the epoch
        self.points = [TimelinePoint(*p) for p in points]
        self.interval_ns = int(interval_ns)  # the sampling interval asked for

    def __len__(self) -> int:
        return len(self.points)

    def __repr__(self) -> str:
        return f"<Timeline {len(self.points)} points>"


class Capture(Report):
    """What one capture file holds.

    snapshots: {name: Snapshot} in file order; `heaplens run` writes "peak"
    and "exit", Snapshot.dump() writes one named "". timeline: a Timeline or
    None. info: {key: str} facts about the run (command, pid, python_version,
    exit, sample_rate...; see docs/capture-format.md). path: the file it was
    read from, or None.

    format(limit, width) is the text of `heaplens report` (limit: the stacks
    shown per snapshot); to_dict() the data of `heaplens report --json`
    (docs/cli.md).
    """

    DEFAULT_LIMIT = 10
    DEFAULT_WIDTH = 100

    def _lines(self, limit: int | None, width: int | None) -> list[str]:
        from heaplens._report import data, text  # noqa: PLC0415 (the report layer is above this one)

        report = data.build_run_report(self)
        return text.format_report(
            report, width=100 if width is None else width, limit=2000 if limit is None else limit
        ).split("\n")

    def to_dict(self) -> dict[str, JSON]:
        from heaplens._report import data  # noqa: PLC0415

        return data.build_run_report(self)

    def __init__(
        self,
        snapshots: Mapping[str, Snapshot],
        timeline: Timeline | None = None,
        info: Mapping[str, str] | None = None,
        path: str | None = None,
    ) -> None:
        self.snapshots = dict(snapshots)
        self.timeline = timeline
        self.info = dict(info or {})
        self.path = path

    @property
    def peak(self) -> Snapshot | None:
        """The live heap at the highest traced size, or None."""
        return self.snapshots.get("peak")

    @property
    def exit(self) -> Snapshot | None:
        """The live heap when the program ended, or None."""
        return self.snapshots.get("exit")

    def snapshot(self, name: str | None = None) -> Snapshot:
        """The snapshot called name; without a name, "exit" when there is
        one, else the only snapshot. KeyError/ValueError otherwise."""
        if name is not None:
            if name not in self.snapshots:
                have = ", ".join(repr(n) for n in self.snapshots) or "none"
                raise KeyError(f"capture has no snapshot {name!r} (it has {have})")
            return self.snapshots[name]
        if "exit" in self.snapshots:
            return self.snapshots["exit"]
        if len(self.snapshots) == 1:
            return next(iter(self.snapshots.values()))
        raise ValueError(f"capture holds {len(self.snapshots)} snapshots: name one")

    def __repr__(self) -> str:
        names = ", ".join(repr(n) for n in self.snapshots)
        where = f" {self.path!r}" if self.path else ""
        return f"<Capture{where} snapshots=[{names}] timeline={self.timeline!r}>"

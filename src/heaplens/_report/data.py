"""The report of a capture, as data (docs/report-data.md).

build_run_report() and build_diff_report() turn a Capture or two Snapshots
into a plain, JSON-ready dict. heaplens._report.text writes it for a
terminal and heaplens._report.html.run as a page.

Types: a whole report is `dict[str, JSON]` (what Report.to_dict() returns,
and what the command line extends); its parts (a snapshot, a stack, a frame,
a site, the timeline, one side or one change of a diff) are the TypedDicts
below, for the checker only.
"""

from __future__ import annotations

import os
import time

from heaplens._report.units import format_bytes, format_count, format_percent, format_seconds
from heaplens._trace.capture import is_harness_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, Protocol, TypedDict

    from heaplens._report.protocol import JSON
    from heaplens._trace.capture import Capture
    from heaplens._trace.snapshot import Snapshot

    # A stack as Snapshot.stack_statistics() gives it: (filename, lineno,
    # function) frames, most recent call first.
    StackKey = tuple[tuple[str, int, str], ...]

    class Progress(Protocol):
        """What build_*_report tell of their progress (heaplens._cli.progress)."""

        def update(self, done: int, total: int, /) -> None: ...

    class Frame(TypedDict):
        """A frame of the report data."""

        file: str
        line: int
        function: str

    class Stack(TypedDict):
        """A stack of a SNAP (and of "leaks")."""

        frames: list[Frame]
        bytes: int
        blocks: int

    class Snap(TypedDict):
        """SNAP: the live heap at one moment."""

        label: str
        time_s: float | None
        total_bytes: int
        total_blocks: int
        outside_bytes: int  # of total_bytes, outside Python's allocators (native, NumPy)
        stacks: list[Stack]
        other_bytes: int
        other_blocks: int
        other_stacks: int

    class Point(TypedDict):
        """A point of the timeline."""

        t: float
        traced: int
        traced_max: int
        rss: int | None

    class Timeline(TypedDict):
        """The report's timeline."""

        points: list[Point]
        peak_t: float | None

    class Site(TypedDict):
        """A row of "top_sites": an allocating line (a Frame and more)."""

        file: str
        line: int
        function: str
        peak_bytes: int
        peak_blocks: int
        exit_bytes: int
        exit_blocks: int

    class Side(TypedDict):
        """One side of a diff: its label and totals."""

        label: str
        total_bytes: int
        total_blocks: int
        outside_bytes: int  # of total_bytes, outside Python's allocators (native, NumPy)

    class Change(TypedDict):
        """A changed stack of a diff."""

        frames: list[Frame]
        old_bytes: int
        new_bytes: int
        diff_bytes: int
        old_blocks: int
        new_blocks: int
        diff_blocks: int

    # (frames, old_bytes, new_bytes, old_blocks, new_blocks)
    StackChange = tuple[StackKey, int, int, int, int]


def _int(info: Mapping[str, Any], key: str) -> int | None:
    """info[key] as an int, or None when missing or not a number."""
    try:
        return int(info[key])
    except (KeyError, TypeError, ValueError):
        return None


def _snapshot_data(snapshot: Snapshot, label: str, time_s: float | None, top: int) -> Snap:
    """The report's SNAP dict: totals, the `top` biggest stacks, and what the
    cut-off left out."""
    stats: list[Stack] = [
        {"frames": _frame_dicts(frames), "bytes": size, "blocks": count}
        for frames, (size, count) in _by_stack(snapshot).items()
    ]
    stats.sort(key=lambda e: (-e["bytes"], -e["blocks"]))
    total_bytes = sum(e["bytes"] for e in stats)
    total_blocks = sum(e["blocks"] for e in stats)
    stacks = stats[:top]
    return {
        "label": label,
        "time_s": time_s,
        "total_bytes": total_bytes,
        "total_blocks": total_blocks,
        "outside_bytes": sum(
            size for domain, size in snapshot.domain_sizes().items() if domain != 0
        ),
        "stacks": stacks,
        "other_bytes": total_bytes - sum(s["bytes"] for s in stacks),
        "other_blocks": total_blocks - sum(s["blocks"] for s in stacks),
        "other_stacks": len(stats) - len(stacks),
    }


def _sites_by_line(snapshot: Snapshot | None) -> dict[tuple[str, int, str], tuple[int, int]]:
    """{(filename, lineno, function): (bytes, blocks)} grouped by allocating
    line (and its function)."""
    if snapshot is None:
        return {}
    sites: dict[tuple[str, int, str], tuple[int, int]] = {}
    for frames, size_, count_ in snapshot.stack_statistics():
        key = frames[0] if frames else ("<unknown>", 0, "")
        size, count = sites.get(key, (0, 0))
        sites[key] = (size + size_, count + count_)
    return sites


def _top_sites(peak: Snapshot | None, exit_: Snapshot | None, top: int) -> list[Site]:
    """The report's top_sites: allocating lines, biggest at the peak first
    (then biggest at exit), at most `top`."""
    at_peak, at_exit = _sites_by_line(peak), _sites_by_line(exit_)
    rows: list[Site] = []
    for key in at_peak.keys() | at_exit.keys():
        peak_bytes, peak_blocks = at_peak.get(key, (0, 0))
        exit_bytes, exit_blocks = at_exit.get(key, (0, 0))
        rows.append(
            {
                "file": key[0],
                "line": key[1],
                "function": key[2],
                "peak_bytes": peak_bytes,
                "peak_blocks": peak_blocks,
                "exit_bytes": exit_bytes,
                "exit_blocks": exit_blocks,
            }
        )
    rows.sort(key=lambda r: (-r["peak_bytes"], -r["exit_bytes"], r["file"], r["line"]))
    return rows[:top]


def _pick_snapshots(capture: Capture) -> tuple[Snapshot | None, Snapshot | None, bool]:
    """(peak, exit, lone): the peak and exit Snapshots of a capture (or None),
    and whether the capture holds snapshots that are neither, in which case
    the last of them stands in for exit (Snapshot.dump writes one named "")."""
    peak = capture.snapshots.get("peak")
    exit_ = capture.snapshots.get("exit")
    if peak is None and exit_ is None and capture.snapshots:
        return None, list(capture.snapshots.values())[-1], True
    return peak, exit_, False


def _timeline_data(capture: Capture, peak_t: float | None) -> Timeline | None:
    """The report's timeline dict, or None when the capture has no points."""
    timeline = capture.timeline
    if timeline is None or not timeline.points:
        return None
    points: list[Point] = [
        {
            "t": p.t_ns / 1e9,
            "traced": p.traced,
            "traced_max": max(p.traced_max, p.traced),
            "rss": p.rss or None,
        }
        for p in timeline.points
    ]
    return {"points": points, "peak_t": peak_t}


def _peak_time(capture: Capture) -> float | None:
    """Seconds from the start of the timeline (or of the run) to the peak, or
    None: from info's peak_ns, else the timeline's highest point."""
    info, timeline = capture.info, capture.timeline
    peak_ns = _int(info, "peak_ns")
    if peak_ns is not None:
        started = _int(info, "started_ns")
        if timeline is not None and started is not None and timeline.start_ns:
            peak_ns += started - timeline.start_ns
        return max(peak_ns, 0) / 1e9
    if timeline is not None and timeline.points:
        best = max(timeline.points, key=lambda p: max(p.traced_max, p.traced))
        return best.t_ns / 1e9
    return None


def _tracing_text(info: Mapping[str, Any], sample_rate: int) -> str:
    """The 'Tracing' meta value: what was recorded and how deep."""
    nframe = _int(info, "nframe")
    depth = f", {nframe} frame{'s' if nframe != 1 else ''}" if nframe is not None else ""
    if sample_rate > 0:
        what = f"sampled, about one allocation per {format_bytes(sample_rate)} allocated"
    else:
        what = "every allocation"
    if info.get("native_frames") == "1":
        what += ", native memory with its C frames"
    elif info.get("native") == "1":
        what += ", native memory"
    interval = _int(info, "interval_ms")
    every = f"; heap size every {interval} ms" if interval else ""
    return what + depth + every


def _meta(capture: Capture, sample_rate: int) -> list[list[str]]:
    """The report's meta rows [[name, value]], for the facts the capture has."""
    info = capture.info
    rows: list[list[str]] = []

    def add(name: str, value: object) -> None:
        if value not in (None, ""):
            rows.append([name, str(value)])

    add("Command", info.get("command"))
    if capture.path:
        add("Capture", os.fspath(capture.path))
    add("Python", info.get("python_version"))
    add("Platform", info.get("platform"))
    pid = info.get("pid")
    if pid and info.get("parent_pid"):
        pid = f"{pid} (child of {info['parent_pid']})"
    add("PID", pid)
    started = _int(info, "started_ns")
    if started is not None:
        add("Started", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started / 1e9)))
    duration = _int(info, "duration_ns")
    add("Duration", format_seconds(duration / 1e9) if duration is not None else None)
    add("Exit", info.get("exit"))
    if any(key in info for key in ("nframe", "sample_rate", "interval_ms")):
        add("Tracing", _tracing_text(info, sample_rate))
    add("heaplens", info.get("heaplens_version"))
    return rows


def _notes(capture: Capture, report: dict[str, JSON], lone: bool) -> list[str]:
    """Plain-words notes on how far to trust the numbers."""
    info = capture.info
    notes: list[str] = []
    rate = report["sample_rate"]
    if rate > 0:
        notes.append(
            f"Sizes and block counts are estimates: heaplens recorded about one allocation "
            f"per {format_bytes(rate)} allocated (--sample-rate {rate}) and scaled each "
            f"one up to stand for the memory around it. Big sites are close; small ones "
            f"may be missing."
        )
    dropped = _int(info, "dropped")
    if dropped:
        notes.append(
            f"The tracer could not record {format_count(dropped)} blocks (its tables "
            f"could not grow): the totals are a little low."
        )
    peak: Snap | None
    peak_traced, peak = _int(info, "peak_traced"), report["peak"]
    if peak_traced and peak is not None:
        total = peak["total_bytes"]
        if abs(total - peak_traced) > 0.01 * peak_traced:
            side = "less" if total < peak_traced else "more"
            share = format_percent(abs(total - peak_traced), peak_traced)
            notes.append(
                f"The tracer measured a peak of {format_bytes(peak_traced)}; the stacks "
                f"recorded at the peak add up to {format_bytes(total)} ({share} {side})."
            )
    untraced = _untraced(report, report.get("peak_bytes") or 0)
    if untraced and info.get("native") != "1":
        notes.append(
            f"The process's RSS reached {format_bytes(untraced[0])}, "
            f"{format_bytes(untraced[1])} more than the traced peak: memory allocated outside "
            f"Python's allocators (by NumPy, C extensions, or libraries that call malloc or "
            f"mmap themselves) is not traced. heaplens run --native traces it."
        )
    if lone:
        notes.append(
            "This capture holds a snapshot taken by the API (Snapshot.dump), not a run: "
            "it shows what was alive when the snapshot was taken; there is no peak."
        )
    return notes


# RSS counts the interpreter, its libraries and freed memory not yet given
# back, too: only a gap past both of these says that much memory went
# untraced.
UNTRACED_MIN_BYTES = 64 << 20
UNTRACED_MIN_RATIO = 2.0


def _untraced(report: dict[str, JSON], peak_traced: int) -> tuple[int, int] | None:
    """(the highest RSS of the timeline, that less the traced peak) when the
    RSS went far above the traced peak (see UNTRACED_MIN_*), else None. The
    highest RSS, not the RSS at the traced peak: untraced memory has its own
    peak, often later (arrays built after the imports)."""
    timeline: Timeline | None = report.get("timeline")
    if timeline is None:
        return None
    rss = max((p["rss"] or 0 for p in timeline["points"]), default=0)
    if rss - peak_traced < UNTRACED_MIN_BYTES or rss < UNTRACED_MIN_RATIO * peak_traced:
        return None
    return rss, rss - peak_traced


def _title(capture: Capture) -> str:
    """The report's title: the command line, else the capture's file name."""
    if capture.info.get("command"):
        return capture.info["command"]
    if capture.path:
        return os.path.basename(os.fspath(capture.path))
    return "heaplens capture"


def build_run_report(
    capture: Capture,
    top: int = 2000,
    leaks_top: int = 50,
    sites_top: int = 50,
    progress: Progress | None = None,
) -> dict[str, JSON]:
    """The report data of a Capture (docs/report-data.md) as a JSON-ready dict.

    top: stacks kept per snapshot; leaks_top: stacks in "leaks"; sites_top:
    rows of "top_sites". progress: optional object with update(done, total),
    told after each step. Also adds "peak_bytes" (the highest traced size
    known, or None) and "peak_t" (seconds, or None) to the contract's keys.
    """
    steps = 4

    def step(done: int) -> None:
        if progress is not None:
            progress.update(done, steps)

    info = capture.info
    peak, exit_, lone = _pick_snapshots(capture)
    peak_t = None if lone else _peak_time(capture)
    duration = _int(info, "duration_ns")
    exit_label = "In the snapshot" if lone else "At exit"
    exit_t = duration / 1e9 if duration is not None else None
    step(0)
    peak_data = _snapshot_data(peak, "At the peak", peak_t, top) if peak is not None else None
    step(1)
    exit_data = _snapshot_data(exit_, exit_label, exit_t, top) if exit_ is not None else None
    step(2)
    sites = _top_sites(peak, exit_, sites_top)
    step(3)
    sample_rate = max(_int(info, "sample_rate") or 0, 0)
    peak_bytes = _int(info, "peak_traced")
    if peak_bytes is None and peak_data is not None:
        peak_bytes = peak_data["total_bytes"]
    report: dict[str, JSON] = {
        "kind": "run",
        "title": _title(capture),
        "meta": _meta(capture, sample_rate),
        "exit_status": info.get("exit"),
        "sample_rate": sample_rate,
        "peak": peak_data,
        "exit": exit_data,
        "timeline": _timeline_data(capture, peak_t),
        "top_sites": sites,
        "leaks": [dict(s) for s in exit_data["stacks"][:leaks_top]] if exit_data else [],
        "notes": [],
        "peak_bytes": peak_bytes,
        "peak_t": peak_t,
    }
    report["notes"] = _notes(capture, report, lone)
    step(4)
    return report


def build_diff_report(
    old: Snapshot,
    new: Snapshot,
    old_label: str,
    new_label: str,
    top: int = 2000,
    progress: Progress | None = None,
) -> dict[str, JSON]:
    """The diff data of two Snapshots (docs/report-data.md): what changed,
    by stack, biggest change in bytes first; unchanged stacks left out."""
    if progress is not None:
        progress.update(0, 2)
    old_stats = _by_stack(old)
    new_stats = _by_stack(new)
    if progress is not None:
        progress.update(1, 2)
    changes = _stack_changes(old_stats, new_stats)
    stacks = [_change_data(change) for change in changes[:top]]
    rest = changes[top:]
    n_stacks = len(old_stats.keys() | new_stats.keys())
    unchanged = n_stacks - len(changes)
    notes: list[str] = []
    if unchanged:
        notes.append(
            f"{format_count(unchanged)} stack{'s' if unchanged != 1 else ''} held the same "
            f"memory in both and {'are' if unchanged != 1 else 'is'} not listed."
        )
    if stacks:
        notes.append(
            "Stacks are matched by their file names and line numbers: if the code changed "
            "between the two, a moved line shows as one stack gone and one new."
        )
    if progress is not None:
        progress.update(2, 2)
    return {
        "kind": "diff",
        "title": f"{old_label} -> {new_label}",
        "old": _side(old_label, old_stats, old),
        "new": _side(new_label, new_stats, new),
        "stacks": stacks,
        "other_stacks": len(rest),
        "other_diff_bytes": sum(new_bytes - old_bytes for _, old_bytes, new_bytes, _, _ in rest),
        "notes": notes,
    }


def _by_stack(snapshot: Snapshot) -> dict[StackKey, tuple[int, int]]:
    """{frames: (bytes, blocks)} of a Snapshot, keyed by its stacks'
    (filename, lineno, function) frames, most recent first, without the
    outermost frames of the run harness (stacks that differed only there
    become one; a stack made only of them is kept whole)."""
    stacks: dict[StackKey, tuple[int, int]] = {}
    for frames, size, count in snapshot.stack_statistics():
        end = len(frames)
        while end > 1 and is_harness_file(frames[end - 1][0]):
            end -= 1
        frames = tuple(frames[:end])
        old_size, old_count = stacks.get(frames, (0, 0))
        stacks[frames] = (old_size + size, old_count + count)
    return stacks


def _frame_dicts(frames: StackKey) -> list[Frame]:
    """The report's frame dicts of (filename, lineno, function) frames."""
    return [{"file": f, "line": n, "function": name} for f, n, name in frames]


def _stack_changes(
    old_by: dict[StackKey, tuple[int, int]], new_by: dict[StackKey, tuple[int, int]]
) -> list[StackChange]:
    """[(frames, old_bytes, new_bytes, old_blocks, new_blocks)] for the
    stacks whose bytes or blocks differ, biggest change in bytes first."""
    changes: list[StackChange] = []
    for frames in old_by.keys() | new_by.keys():
        old_bytes, old_blocks = old_by.get(frames, (0, 0))
        new_bytes, new_blocks = new_by.get(frames, (0, 0))
        if (old_bytes, old_blocks) != (new_bytes, new_blocks):
            changes.append((frames, old_bytes, new_bytes, old_blocks, new_blocks))
    changes.sort(key=lambda c: (abs(c[2] - c[1]), c[2], abs(c[4] - c[3]), c[4], c[0]), reverse=True)
    return changes


def _change_data(change: StackChange) -> Change:
    """The diff report's dict of one changed stack."""
    frames, old_bytes, new_bytes, old_blocks, new_blocks = change
    return {
        "frames": _frame_dicts(frames),
        "old_bytes": old_bytes,
        "new_bytes": new_bytes,
        "diff_bytes": new_bytes - old_bytes,
        "old_blocks": old_blocks,
        "new_blocks": new_blocks,
        "diff_blocks": new_blocks - old_blocks,
    }


def _side(label: str, stats: dict[StackKey, tuple[int, int]], snapshot: Snapshot) -> Side:
    """One side of a diff: its label and totals ({frames: (bytes, blocks)})."""
    return {
        "label": label,
        "total_bytes": sum(size for size, _ in stats.values()),
        "total_blocks": sum(count for _, count in stats.values()),
        "outside_bytes": sum(
            size for domain, size in snapshot.domain_sizes().items() if domain != 0
        ),
    }

"""The recorder behind `heaplens run`, and capture files.

Recorder does the recording: the tracer with per-stack sums (so the heap at
the peak is known by stack), the timeline thread, and at the end a Capture
with the "peak" and "exit" snapshots, the timeline and facts about the run.
Blocks allocated only by heaplens's own harness (is_harness_file) are left
out of the snapshots. save_capture() and load_capture() write and read the
capture file (checked in C, never unpickled; docs/capture-format.md).
"""

from __future__ import annotations

import os
import platform
import time

from heaplens import _core
from heaplens._trace.capture import Capture, Timeline, is_harness_file

# typing is not imported at run time: `heaplens run` loads this module before
# the program starts, and what it loads is not counted as the program's.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    # What take_final() keeps for finish(): the exit and peak snapshots, the
    # peak traced size, the duration, _core.timeline_stop() and the counters.
    _Final = tuple[
        _core.Snapshot,
        _core.Snapshot,
        int,
        int,
        tuple[int, int, list[Any], int] | None,
        dict[str, int | bool],
    ]


class Recorder:
    """One recording: start() turns tracing on, finish() turns it off and
    returns the Capture (once; later calls return the same one)."""

    def __init__(
        self,
        nframe: int = 64,
        sample_rate: int = 0,
        interval: float = 0.01,
        command: str = "",
        native: bool = False,
        native_frames: bool = False,
    ) -> None:
        self.nframe = nframe
        self.sample_rate = sample_rate
        self.native = native or native_frames
        self.native_frames = native_frames
        self.interval = interval
        self.command = command
        self.capture: Capture | None = None
        self._final: _Final | None = None  # what take_final() took, until finish() uses it
        self._started_ns = 0
        self._started_mono = 0.0
        self._parent_pid: int | None = None

    def start(self) -> None:
        """Start tracing and sampling the timeline. RuntimeError when heaplens
        is already tracing (one recording per process)."""
        if _core.is_tracing():
            raise RuntimeError("heaplens is already tracing in this process")
        # The clock is read before tracing starts: the objects it returns are
        # the recorder's, and would otherwise stay in the capture to the end.
        self._mark_start()
        _core.start(
            self.nframe,
            sample_rate=self.sample_rate,
            sums=True,
            native=self.native,
            native_frames=self.native_frames,
        )
        try:
            _core.timeline_start(int(self.interval * 1e9))
        except BaseException:
            _core.stop()
            raise

    def _mark_start(self) -> None:
        self._started_ns = time.time_ns()
        self._started_mono = time.monotonic()
        self.capture = None
        self._final = None

    def after_fork_in_child(self) -> None:
        """In a forked child: the child records on its own from here."""
        self._parent_pid = os.getppid()
        _core.timeline_after_fork()
        _core.reset_peak()
        self._mark_start()

    @property
    def is_child(self) -> bool:
        return self._parent_pid is not None

    def take_final(self) -> None:
        """Take the exit and peak snapshots and stop tracing: the first thing
        to do when the program has ended, before heaplens makes an object of
        its own (even the duration's), so that what heaplens does next
        (printing the program's traceback, writing the file) is not counted
        as the program's. Does nothing when not recording or done already."""
        if self._final is not None or self.capture is not None or not _core.is_tracing():
            return
        exit_ = _core.take_sums_snapshot(False)
        peak = _core.take_sums_snapshot(True)
        current, peak_traced = _core.get_traced_memory()
        duration_ns = int((time.monotonic() - self._started_mono) * 1e9)
        timeline_data = _core.timeline_stop()
        counters = _core.get_tracer_counters()
        _core.stop()
        self._final = (exit_, peak, peak_traced, duration_ns, timeline_data, counters)

    def finish(self, exit_text: str = "", exit_code: int = 0) -> Capture | None:
        """Stop recording (take_final(), unless done already) and return the
        Capture (None when never started)."""
        if self.capture is not None:
            return self.capture
        self.take_final()
        if self._final is None:
            return None
        exit_, peak, peak_traced, duration_ns, timeline_data, counters = self._final
        self._final = None
        from heaplens._trace.snapshot import Snapshot

        exit_, _ = _without_harness_stacks(exit_)
        peak, harness_at_peak = _without_harness_stacks(peak)
        peak_traced -= harness_at_peak

        timeline = None
        peak_ns = -1
        if timeline_data is not None:
            start_ns, interval_ns, points, peak_ns = timeline_data
            timeline = Timeline(start_ns, points, interval_ns)
        info = {
            "command": self.command,
            "pid": str(os.getpid()),
            "python_version": platform.python_version(),
            "platform": platform.platform(),
            "heaplens_version": _heaplens_version(),
            "started_ns": str(self._started_ns),
            "duration_ns": str(duration_ns),
            "exit": exit_text,
            "exit_code": str(exit_code),
            "nframe": str(self.nframe),
            "sample_rate": str(self.sample_rate),
            "native": "1" if self.native else "0",
            "native_frames": "1" if self.native_frames else "0",
            "interval_ms": f"{self.interval * 1000:g}",
            "peak_traced": str(peak_traced),
            "dropped": str(counters["dropped"]),
        }
        if peak_ns >= 0 and timeline is not None:
            # Both clocks started together; the timeline's is the exact one.
            info["peak_ns"] = str(peak_ns + (timeline.start_ns - self._started_ns))
        if self._parent_pid is not None:
            info["parent_pid"] = str(self._parent_pid)
        info = {key: text_for_capture(value) for key, value in info.items()}
        snapshots = {
            "peak": Snapshot(peak, peak.traceback_limit),
            "exit": Snapshot(exit_, exit_.traceback_limit),
        }
        self.capture = Capture(snapshots, timeline, info)
        return self.capture

    def stop(self) -> None:
        """Stop without keeping anything (benchmarks)."""
        if _core.is_tracing():
            _core.timeline_stop()
            _core.stop()


def _without_harness_stacks(data: _core.Snapshot) -> tuple[_core.Snapshot, int]:
    """(data without the stacks made only of frames of heaplens run's own
    harness, the bytes they held). Those blocks were allocated while no frame
    of the program was running: the function exec() makes for the program's
    module, the frame and traceback objects Python makes as the program's
    exception reaches heaplens's frame. They are heaplens's, not the
    program's. Called once tracing has stopped."""
    stacks = data.stacks()
    # Whole stacks only: a stack cut at --nframe may have the program's
    # frames beyond the cut.
    harness = {
        index
        for index, (frames, total_nframe) in enumerate(stacks)
        if frames
        and total_nframe <= len(frames)
        and all(is_harness_file(frame[0]) for frame in frames)
    }
    if not harness:
        return data, 0
    dropped = sum(size for index, size, _count in data.group(0, False) if index in harness)
    domains = data.domains()
    keep = bytes(index not in harness for _domain in domains for index in range(len(stacks)))
    return data.filter(domains, keep), dropped


def text_for_capture(text: str) -> str:
    """text as the capture stores it (valid UTF-8, no NUL): the bytes of a
    file name or argument that Python keeps as surrogates (os.fsdecode) and
    NUL characters are written as \\xNN escapes."""
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that stands for no byte
        data = text.encode("utf-8", "backslashreplace")
    return data.decode("utf-8", "backslashreplace").replace("\0", "\\x00")


def _heaplens_version() -> str:
    import heaplens

    return heaplens.__version__


def save_capture(capture: Capture, path: str | os.PathLike[str]) -> None:
    """Write capture to path (atomically). OSError/ValueError on failure."""
    snapshots = [(name, snap._data) for name, snap in capture.snapshots.items()]
    timeline = None
    if capture.timeline is not None:
        t = capture.timeline
        timeline = (t.start_ns, t.interval_ns, [tuple(p) for p in t.points])
    # Ignored: the data of a Snapshot of raw tuples (_TupleData) is refused by
    # the C function (TypeError), which is what a user gets for one.
    _core.write_capture(
        os.fspath(path),
        snapshots,  # type: ignore[arg-type]
        list(capture.info.items()),
        timeline,
    )


def load_capture(path: str | os.PathLike[str]) -> Capture:
    """The Capture stored in the file at path. ValueError naming the file when
    it is not a valid capture; OSError when it cannot be read."""
    from heaplens._trace.snapshot import Snapshot

    snapshots, info, timeline, _version = _core.load_capture(path)  # any path
    return Capture(
        {name: Snapshot(data, data.traceback_limit) for name, data in snapshots},
        Timeline(timeline[0], timeline[2], timeline[1]) if timeline is not None else None,
        dict(info),
        os.fspath(path),
    )

"""`heaplens run`: run a program with tracing on and leave a capture file.

Recorder does the recording: the tracer with per-stack sums (so the heap at
the peak is known by stack), the timeline thread, and at the end a Capture
with the "peak" and "exit" snapshots, the timeline and facts about the run.
run_program() runs a script or module under a Recorder and makes sure that
every way of ending (returning, sys.exit, an uncaught exception, Ctrl-C,
os._exit, and forked children, which get a file each) writes a valid capture.
"""

import _signal  # signal's C module (see _ignore_sigint)
import os
import platform
import shlex
import sys
import time

from heaplens import _core
from heaplens._capture import Capture, Timeline


class Recorder:
    """One recording: start() turns tracing on, finish() turns it off and
    returns the Capture (once; later calls return the same one)."""

    def __init__(self, nframe=64, sample_rate=0, interval=0.01, command=""):
        self.nframe = nframe
        self.sample_rate = sample_rate
        self.interval = interval
        self.command = command
        self.capture = None
        self._started_ns = 0
        self._started_mono = 0.0
        self._parent_pid = None

    def start(self):
        """Start tracing and sampling the timeline. RuntimeError when heaplens
        is already tracing (one recording per process)."""
        if _core.is_tracing():
            raise RuntimeError("heaplens is already tracing in this process")
        # The clock is read before tracing starts: the objects it returns are
        # the recorder's, and would otherwise stay in the capture to the end.
        self._mark_start()
        _core.start(self.nframe, sample_rate=self.sample_rate, sums=True)
        try:
            _core.timeline_start(int(self.interval * 1e9))
        except BaseException:
            _core.stop()
            raise

    def _mark_start(self):
        self._started_ns = time.time_ns()
        self._started_mono = time.monotonic()
        self.capture = None

    def after_fork_in_child(self):
        """In a forked child: the child records on its own from here."""
        self._parent_pid = os.getppid()
        _core.timeline_after_fork()
        _core.reset_peak()
        self._mark_start()

    @property
    def is_child(self):
        return self._parent_pid is not None

    def finish(self, exit_text="", exit_code=0):
        """Stop recording and return the Capture (None when never started)."""
        if self.capture is not None or not _core.is_tracing():
            return self.capture
        # The snapshots first, before this method makes an object of its own
        # (even the duration's): what finishing allocates is not the program's.
        exit_ = _core.take_sums_snapshot(False)
        peak = _core.take_sums_snapshot(True)
        current, peak_traced = _core.get_traced_memory()
        duration_ns = int((time.monotonic() - self._started_mono) * 1e9)
        timeline_data = _core.timeline_stop()
        counters = _core.get_tracer_counters()
        _core.stop()
        from heaplens._snapshot import Snapshot

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
            "interval_ms": f"{self.interval * 1000:g}",
            "peak_traced": str(peak_traced),
            "dropped": str(counters["dropped"]),
        }
        if peak_ns >= 0 and timeline is not None:
            # Both clocks started together; the timeline's is the exact one.
            info["peak_ns"] = str(peak_ns + (timeline.start_ns - self._started_ns))
        if self._parent_pid is not None:
            info["parent_pid"] = str(self._parent_pid)
        snapshots = {
            "peak": Snapshot(peak, peak.traceback_limit),
            "exit": Snapshot(exit_, exit_.traceback_limit),
        }
        self.capture = Capture(snapshots, timeline, info)
        return self.capture

    def stop(self):
        """Stop without keeping anything (benchmarks)."""
        if _core.is_tracing():
            _core.timeline_stop()
            _core.stop()


def _heaplens_version():
    import heaplens

    return heaplens.__version__


def save_capture(capture, path):
    """Write capture to path (atomically). OSError/ValueError on failure."""
    snapshots = [(name, snap._data) for name, snap in capture.snapshots.items()]
    timeline = None
    if capture.timeline is not None:
        t = capture.timeline
        timeline = (t.start_ns, t.interval_ns, [tuple(p) for p in t.points])
    _core.write_capture(os.fspath(path), snapshots, list(capture.info.items()), timeline)


def load_capture(path):
    """The Capture stored in the file at path. ValueError naming the file when
    it is not a valid capture; OSError when it cannot be read."""
    from heaplens._snapshot import Snapshot

    snapshots, info, timeline, _version = _core.load_capture(path)
    return Capture(
        {name: Snapshot(data, data.traceback_limit) for name, data in snapshots},
        Timeline(timeline[0], timeline[2], timeline[1]) if timeline is not None else None,
        dict(info),
        os.fspath(path),
    )


def default_output(target, pid):
    """heaplens-<name>-<pid>.hlc for a script path or module name."""
    name = os.path.splitext(os.path.basename(target))[0] or "program"
    name = name.rpartition(".")[2] if "." in name else name
    return f"heaplens-{name}-{pid}.hlc"


def child_output(path, pid):
    """The file of a forked child: the parent's name with the child's pid."""
    root, ext = os.path.splitext(path)
    parent_pid = str(os.getppid())
    if root.endswith("-" + parent_pid):
        root = root[: -len(parent_pid) - 1]
    return f"{root}-{pid}{ext or '.hlc'}"


class UsageError(Exception):
    """The program cannot be started (no such module): one line for the user."""


class Run:
    """Running one program under a Recorder; see run_program()."""

    def __init__(self, target, args, is_module, output, recorder, quiet, stderr):
        self.target = target
        self.args = args
        self.is_module = is_module
        self.output = output
        self.recorder = recorder
        self.quiet = quiet
        self.stderr = stderr
        self.written = None  # (path, capture) once saved
        self._real_exit = os._exit

    def _on_fork_child(self):
        self.recorder.after_fork_in_child()
        self.output = child_output(self.output, os.getpid())
        self.written = None

    def _os_exit(self, code):
        self.finish(f"os._exit({code})", code if isinstance(code, int) else 1)
        self._real_exit(code)

    def _prepare(self):
        """The program's code and a fresh __main__ module to run it in, set up
        as `python script.py` or `python -m module` would. UsageError when the
        module cannot be found."""
        import builtins
        import types

        main = types.ModuleType("__main__")
        main.__builtins__ = builtins
        if self.is_module:
            import importlib.util

            try:
                spec = importlib.util.find_spec(self.target)
                if spec is not None and spec.submodule_search_locations is not None:
                    spec = importlib.util.find_spec(self.target + ".__main__")
            except (ImportError, ValueError) as exc:
                raise UsageError(str(exc)) from None
            if spec is None or spec.loader is None:
                raise UsageError(f"No module named {self.target}")
            code = spec.loader.get_code(spec.name)
            main.__file__ = spec.origin
            main.__spec__ = spec
            main.__loader__ = spec.loader
            main.__package__ = spec.parent
            sys.argv = [spec.origin or self.target, *self.args]
            sys.path.insert(0, os.getcwd())
        else:
            with open(self.target, "rb") as source:
                code = compile(source.read(), self.target, "exec")
            main.__file__ = self.target
            main.__spec__ = None
            main.__package__ = None
            sys.argv = [self.target, *self.args]
            sys.path.insert(0, os.path.dirname(os.path.abspath(self.target)))
        return code, main

    def execute(self):
        """Run the program; return its exit code after writing the capture.
        The program's __main__ module stays alive until the exit snapshot is
        taken, as it does in a plain run until the interpreter shuts down."""
        code, main = self._prepare()
        os.register_at_fork(after_in_child=self._on_fork_child)
        os._exit = self._os_exit
        exit_text, status = "exit status 0", 0
        previous_main = sys.modules.get("__main__")
        sys.modules["__main__"] = main
        try:
            self.recorder.start()
            exec(code, main.__dict__)
        except SystemExit as exc:
            exit_text, status = _system_exit(exc)
        except KeyboardInterrupt as exc:
            _print_program_traceback(exc)
            exit_text, status = "KeyboardInterrupt (Ctrl-C)", 130
        except BaseException as exc:  # noqa: BLE001 - the program's own error, reported as Python does
            _print_program_traceback(exc)
            message = str(exc)
            exit_text = f"uncaught {type(exc).__name__}" + (f": {message}" if message else "")
            status = 1
        finally:
            os._exit = self._real_exit
        self.finish(exit_text, status)
        del main
        if previous_main is not None and sys.modules.get("__main__") is not None:
            sys.modules["__main__"] = previous_main
        return status

    def finish(self, exit_text, code):
        """Write the capture (once per process) and print the summary."""
        if self.written is not None and self.written[2] == os.getpid():
            return
        previous = _ignore_sigint()
        try:
            capture = self.recorder.finish(exit_text, code)
            if capture is None:
                return
            save_capture(capture, self.output)
            self.written = (self.output, capture, os.getpid())
        except Exception as exc:  # noqa: BLE001 - never turn the program's exit into ours
            print(f"heaplens: could not write {self.output}: {exc}", file=self.stderr)
            return
        finally:
            _restore_sigint(previous)
        self._print_summary(capture)

    def _print_summary(self, capture):
        if self.quiet:
            return
        if self.recorder.is_child:
            print(
                f"heaplens: child process {os.getpid()} wrote {self.output}",
                file=self.stderr,
            )
            return
        try:
            from heaplens import _report

            report = _report.build_run_report(capture)
            html = os.path.splitext(self.output)[0] + ".html"
            command = f"heaplens report --html {shlex.quote(html)} {shlex.quote(self.output)}"
            text = _report.format_run_summary(report, self.output, command)
            print(text, file=self.stderr)
        except Exception as exc:  # noqa: BLE001 - the capture is written; say what failed
            print(f"heaplens: wrote {self.output}, but the summary failed: {exc}", file=self.stderr)


def _print_program_traceback(exc):
    """Print exc as the interpreter would, without the frames of heaplens and
    runpy that ran the program."""
    import traceback

    from heaplens._report import is_harness_file

    tb = exc.__traceback__
    while tb is not None and is_harness_file(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb or exc.__traceback__)


def _system_exit(exc):
    """(exit text, exit code) of a SystemExit, as the interpreter would exit."""
    code = exc.code
    if code is None:
        return "exit status 0", 0
    if isinstance(code, int):
        return (f"sys.exit({code})", code) if code else ("exit status 0", 0)
    print(code, file=sys.stderr)
    return f"sys.exit({code!r})", 1


def _ignore_sigint():
    """Ignore Ctrl-C while the capture is written (main thread only).

    This runs while the program is still traced, so it goes through _signal,
    the C module under signal: signal.signal converts the old handler to an
    enum member, and on 3.11 that conversion allocated enough to be the peak
    of a small program."""
    try:
        return _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    except ValueError:  # not the main thread
        return None


def _restore_sigint(previous):
    if previous is not None:
        try:
            _signal.signal(_signal.SIGINT, previous)
        except ValueError:
            pass


def run_program(
    target,
    args,
    is_module=False,
    output=None,
    nframe=64,
    sample_rate=0,
    interval=0.01,
    quiet=False,
    stderr=None,
):
    """Run a script (or module with is_module) with arguments under heaplens
    and return its exit code. The capture goes to output (default
    heaplens-<name>-<pid>.hlc)."""
    command = " ".join(
        shlex.quote(a) for a in (["-m", target] if is_module else [target]) + list(args)
    )
    recorder = Recorder(nframe, sample_rate, interval, command=f"python {command}")
    run = Run(
        target,
        list(args),
        is_module,
        output or default_output(target, os.getpid()),
        recorder,
        quiet,
        stderr or sys.stderr,
    )
    return run.execute()

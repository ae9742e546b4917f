"""`heaplens run`: run a program with tracing on and leave a capture file.

Recorder does the recording: the tracer with per-stack sums (so the heap at
the peak is known by stack), the timeline thread, and at the end a Capture
with the "peak" and "exit" snapshots, the timeline and facts about the run.
run_program() runs a script, a directory or zip file with a __main__.py, or a
module under a Recorder and makes sure that every way of ending (returning,
sys.exit, an uncaught exception, Ctrl-C, SIGTERM, os._exit, and forked
children, which get a file each) writes a valid capture, or exits non-zero
saying why it could not.

What heaplens does once the program has ended (printing its traceback,
building the summary) is not the program's: the snapshots are taken first,
before heaplens makes an object of its own.
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
        self._final = None  # what take_final() took, until finish() uses it
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
        self._final = None

    def after_fork_in_child(self):
        """In a forked child: the child records on its own from here."""
        self._parent_pid = os.getppid()
        _core.timeline_after_fork()
        _core.reset_peak()
        self._mark_start()

    @property
    def is_child(self):
        return self._parent_pid is not None

    def take_final(self):
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

    def finish(self, exit_text="", exit_code=0):
        """Stop recording (take_final(), unless done already) and return the
        Capture (None when never started)."""
        if self.capture is not None:
            return self.capture
        self.take_final()
        if self._final is None:
            return None
        exit_, peak, peak_traced, duration_ns, timeline_data, counters = self._final
        self._final = None
        from heaplens._snapshot import Snapshot

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

    def stop(self):
        """Stop without keeping anything (benchmarks)."""
        if _core.is_tracing():
            _core.timeline_stop()
            _core.stop()


def _without_harness_stacks(data):
    """(data without the stacks made only of frames of heaplens run's own
    harness, the bytes they held). Those blocks were allocated while no frame
    of the program was running: the function exec() makes for the program's
    module, the frame and traceback objects Python makes as the program's
    exception reaches heaplens's frame. They are heaplens's, not the
    program's. Called once tracing has stopped."""
    from heaplens._report import is_harness_file

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


def text_for_capture(text):
    """text as the capture stores it (valid UTF-8, no NUL): the bytes of a
    file name or argument that Python keeps as surrogates (os.fsdecode) and
    NUL characters are written as \\xNN escapes."""
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that stands for no byte
        data = text.encode("utf-8", "backslashreplace")
    return data.decode("utf-8", "backslashreplace").replace("\0", "\\x00")


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
    """The file of a forked child: the parent's name with the child's pid, in
    the same directory (path is absolute: see run_program)."""
    root, ext = os.path.splitext(path)
    parent_pid = str(os.getppid())
    if root.endswith("-" + parent_pid):
        root = root[: -len(parent_pid) - 1]
    return f"{root}-{pid}{ext or '.hlc'}"


class UsageError(Exception):
    """The program cannot be started (no such module): one line for the user."""


class NotStarted(Exception):
    """The program could not start because of an error in it (a syntax error,
    a package that fails to import): the error is printed as Python prints
    it, and args[0] is the exit status."""


# The exit status of a run whose program ended with status 0 but whose
# capture could not be written.
LOST_CAPTURE_STATUS = 1


def check_output(path):
    """UsageError unless a capture can be written at path (absolute): its
    directory must exist and take a new file, and path must not be a
    directory. Checked before the program starts, so that a run is not
    wasted on a capture that cannot be kept."""
    directory = os.path.dirname(path)
    if os.path.isdir(path):
        raise UsageError(f"cannot write the capture to {path}: it is a directory")
    if not os.path.isdir(directory):
        raise UsageError(f"cannot write the capture to {path}: no such directory {directory}")
    # Make and remove a file beside it, as writing will (FILE.part, renamed):
    # the one test that holds for permissions, read-only mounts and quotas.
    probe = f"{path}.{os.getpid()}.probe"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"cannot write the capture to {path}: {exc.strerror or exc}") from None


class Run:
    """Running one program under a Recorder; see run_program()."""

    def __init__(self, target, args, is_module, output, recorder, quiet, stderr):
        self.target = target
        self.args = args
        self.is_module = is_module
        self.output = output
        self.start_dir = os.getcwd()  # where the user is: paths are shown from here
        self.recorder = recorder
        self.quiet = quiet
        self.stderr = stderr
        self.written = None  # (path, capture, pid) once saved
        self._real_exit = os._exit
        self._finishing = False  # finish() is running: a SIGTERM waits for it
        self._pending_signal = 0
        self._watching_sigterm = False  # _core.term_watch_start() succeeded

    def _on_fork_child(self):
        # heaplens's bookkeeping, not the child's: recorded on no stack.
        token = _core.suspend_recording()
        try:
            if self._watching_sigterm:
                _core.term_watch_after_fork()
            self.recorder.after_fork_in_child()
            self.output = child_output(self.output, os.getpid())
            self.written = None
            self._finishing = False
            self._pending_signal = 0
        finally:
            _core.resume_recording(token)

    def _os_exit(self, code):
        self.recorder.take_final()
        status = code if isinstance(code, int) else 1
        if not self.finish(f"os._exit({code})", status) and status == 0:
            code = LOST_CAPTURE_STATUS
        self._real_exit(code)

    def _on_terminate(self, signum, frame):
        """SIGTERM: write the capture, then die by the signal, as the
        program would have without heaplens (multiprocessing terminates its
        pool workers this way)."""
        _core.term_watch_handled()
        if self._finishing:
            self._pending_signal = signum
            return
        self.recorder.take_final()
        name = "SIGTERM" if signum == _signal.SIGTERM else f"signal {signum}"
        self.finish(f"killed by {name}", -signum, brief=f"terminated by {name}")
        self._die_by(signum)

    def _die_by(self, signum):
        """End this process by signal signum with its default action."""
        _signal.signal(signum, _signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        self._real_exit(128 + signum)  # not reached unless the signal is blocked

    def _prepare(self):
        """The program's code and a fresh __main__ module to run it in, set up
        as `python script.py` or `python -m module` would. UsageError when the
        module cannot be found."""
        import builtins
        import types

        main = types.ModuleType("__main__")
        main.__builtins__ = builtins
        if self.is_module:
            sys.path.insert(0, os.getcwd())  # as `python -m` does, before the search
            spec = self._module_spec()
            code = self._code_of(spec)
            main.__file__ = spec.origin
            main.__spec__ = spec
            main.__loader__ = spec.loader
            main.__package__ = spec.parent
            sys.argv = [spec.origin or self.target, *self.args]
        elif _is_path_entry(self.target):
            # `python dir` and `python app.pyz`: the directory or zip file
            # goes first on sys.path and its __main__ module runs.
            import importlib.machinery

            entry = os.path.abspath(self.target)
            spec = importlib.machinery.PathFinder.find_spec("__main__", [entry])
            if spec is None or spec.loader is None:
                raise UsageError(f"can't find '__main__' module in {self.target!r}")
            code = self._code_of(spec)
            main.__file__ = spec.origin
            main.__spec__ = spec
            main.__loader__ = spec.loader
            main.__package__ = ""
            sys.argv = [self.target, *self.args]
            sys.path.insert(0, entry)
        else:
            # The script's absolute path names its code, as in Python 3.9+:
            # tracebacks still find its lines after the program chdirs.
            path = os.path.abspath(self.target)
            try:
                with open(path, "rb") as source:
                    text = source.read()
            except OSError as exc:
                raise UsageError(f"cannot read {self.target}: {exc.strerror or exc}") from None
            try:
                code = compile(text, path, "exec")
            except (SyntaxError, ValueError) as exc:  # ValueError: a NUL byte (3.11)
                _print_program_traceback(exc, whole=False)
                raise NotStarted(1) from None
            main.__file__ = path
            main.__spec__ = None
            main.__package__ = None
            sys.argv = [self.target, *self.args]
            sys.path.insert(0, os.path.dirname(path))
        return code, main

    def _module_spec(self):
        """The spec of the module -m names (its __main__ for a package).
        UsageError when there is none; NotStarted when importing its
        package raised (the error is printed as the program's)."""
        import importlib.util

        try:
            spec = importlib.util.find_spec(self.target)
            if spec is not None and spec.submodule_search_locations is not None:
                spec = importlib.util.find_spec(self.target + ".__main__")
        except (ImportError, ValueError) as exc:
            raise UsageError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - the package's own error, as Python shows it
            _print_program_traceback(exc)
            raise NotStarted(1) from None
        if spec is None or spec.loader is None:
            raise UsageError(f"No module named {self.target}")
        return spec

    def _code_of(self, spec):
        """The code object of spec's module. A syntax error in it is printed
        as Python prints it, without heaplens's frames (NotStarted)."""
        try:
            code = spec.loader.get_code(spec.name)
        except (SyntaxError, ValueError) as exc:
            _print_program_traceback(exc, whole=False)
            raise NotStarted(1) from None
        except ImportError as exc:
            raise UsageError(str(exc)) from None
        if code is None:
            raise UsageError(f"no code to run in {spec.origin or spec.name}")
        return code

    def execute(self):
        """Run the program; return its exit code after writing the capture.
        The program's __main__ module stays alive until the exit snapshot is
        taken, as it does in a plain run until the interpreter shuts down."""
        try:
            code, main = self._prepare()
        except NotStarted as not_started:
            return not_started.args[0]
        os.register_at_fork(after_in_child=self._on_fork_child)
        previous_sigterm = _catch_sigterm(self._on_terminate)
        self._watching_sigterm = previous_sigterm is not None and _watch_sigterm()
        os._exit = self._os_exit
        exit_text, status = "exit status 0", 0
        previous_main = sys.modules.get("__main__")
        sys.modules["__main__"] = main
        try:
            self.recorder.start()
            exec(code, main.__dict__)
        except SystemExit as exc:
            self.recorder.take_final()
            exit_text, status = _system_exit(exc)
        except KeyboardInterrupt as exc:
            self.recorder.take_final()
            _print_program_traceback(exc)
            exit_text, status = "KeyboardInterrupt (Ctrl-C)", 130
        except BaseException as exc:  # noqa: BLE001 - the program's own error, reported as Python does
            self.recorder.take_final()
            _print_program_traceback(exc)
            message = _str_of(exc)
            exit_text = f"uncaught {type(exc).__name__}" + (f": {message}" if message else "")
            status = 1
        finally:
            os._exit = self._real_exit
        if not self.finish(exit_text, status) and status == 0:
            status = LOST_CAPTURE_STATUS
        if self._watching_sigterm:
            _core.term_watch_stop()
        if previous_sigterm is not None:
            _signal.signal(_signal.SIGTERM, previous_sigterm)
        del main
        if previous_main is not None and sys.modules.get("__main__") is not None:
            sys.modules["__main__"] = previous_main
        return status

    def finish(self, exit_text, code, brief=None):
        """Write the capture (once per process) and print the summary (one
        line saying `brief` when given). True when this process's capture is
        written; False, having said why on stderr, when it is lost. A SIGTERM
        that comes meanwhile waits for it, then ends the process."""
        if self.written is not None and self.written[2] == os.getpid():
            return True
        previous = _ignore_sigint()
        self._finishing = True
        try:
            capture = self.recorder.finish(exit_text, code)
            if capture is None:
                print(f"heaplens: nothing recorded; no capture in {self.output}", file=self.stderr)
                return False
            save_capture(capture, self.output)
            self.written = (self.output, capture, os.getpid())
        except Exception as exc:  # noqa: BLE001 - never turn the program's exit into ours
            print(
                f"heaplens: the capture is lost: could not write {self.output}: {exc}",
                file=self.stderr,
            )
            return False
        finally:
            _restore_sigint(previous)
            self._finishing = False
            if self._pending_signal:
                self._die_by(self._pending_signal)
        if brief is not None:
            if not self.quiet:
                print(f"heaplens: {brief}; wrote {self._shown(self.output)}", file=self.stderr)
        else:
            self._print_summary(capture)
        return True

    def _shown(self, path):
        """path as the user may type it where `heaplens run` was started:
        relative to that directory when it lies under it."""
        prefix = os.path.join(self.start_dir, "")
        return path[len(prefix) :] if path.startswith(prefix) else path

    def _print_summary(self, capture):
        if self.quiet:
            return
        if self.recorder.is_child:
            print(
                f"heaplens: child process {os.getpid()} wrote {self._shown(self.output)}",
                file=self.stderr,
            )
            return
        try:
            from heaplens import _report

            report = _report.build_run_report(capture)
            output = self._shown(self.output)
            html = os.path.splitext(output)[0] + ".html"
            command = f"heaplens report --html {shlex.quote(html)} {shlex.quote(output)}"
            text = _report.format_run_summary(report, output, command)
            print(text, file=self.stderr)
        except Exception as exc:  # noqa: BLE001 - the capture is written; say what failed
            print(f"heaplens: wrote {self.output}, but the summary failed: {exc}", file=self.stderr)


def _print_program_traceback(exc, whole=True):
    """Print exc as the interpreter would, without the frames of heaplens and
    runpy that ran the program (whole=False: without any frame, as Python
    shows a syntax error in the script it was given)."""
    import traceback

    from heaplens._report import is_harness_file

    tb = exc.__traceback__
    while tb is not None and is_harness_file(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    if not whole:
        tb = None
    elif tb is None:
        tb = exc.__traceback__
    traceback.print_exception(type(exc), exc, tb)


def _str_of(exc):
    """str(exc), or a note when the program's exception cannot say."""
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - the program's own __str__
        return "<exception str() failed>"


def _is_path_entry(target):
    """Whether Python would run target as a path entry: a directory or a zip
    file (with a __main__.py) rather than a script."""
    if os.path.isdir(target):
        return True
    import zipfile

    try:
        return zipfile.is_zipfile(target)
    except OSError:
        return False


def _catch_sigterm(handler):
    """Install handler for SIGTERM unless SIGTERM is ignored or already
    handled (the main thread only); return the handler to put back, or None
    when nothing was installed."""
    try:
        if _signal.getsignal(_signal.SIGTERM) != _signal.SIG_DFL:
            return None
        return _signal.signal(_signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        return None


SIGTERM_GRACE_SECONDS = 5.0


def _watch_sigterm():
    """See that the SIGTERM handler just installed runs: CPython's only sets
    a flag, which a main thread asleep in a lock or a read may never look at
    (the signal came to another thread, or just before it went to sleep), and
    the program would hang where it would have ended. The watch re-sends the
    signal to the main thread until the handler starts; after
    HEAPLENS_SIGTERM_GRACE seconds (default 5) without it, it ends the program
    by the signal, without the capture, and says so (src/ext/term_watch.h).
    True when watching; False, having said why, when not."""
    grace = SIGTERM_GRACE_SECONDS
    text = os.environ.get("HEAPLENS_SIGTERM_GRACE")
    if text:
        try:
            grace = float(text)
        except ValueError:
            grace = 0.0
        if not 0 < grace <= 3600:
            print(
                f"heaplens: ignoring HEAPLENS_SIGTERM_GRACE={text!r}: "
                "a number of seconds from 0 to 3600 is expected",
                file=sys.stderr,
            )
            grace = SIGTERM_GRACE_SECONDS
    try:
        _core.term_watch_start(_signal.SIGTERM, grace)
    except (OSError, RuntimeError) as exc:
        print(f"heaplens: SIGTERM is handled without a watchdog: {exc}", file=sys.stderr)
        return False
    return True


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
    # Absolute now: the program may change directory (or delete the one it
    # was in) before it ends, and forked children write beside this file.
    output = os.path.abspath(output or default_output(target, os.getpid()))
    check_output(output)
    run = Run(target, list(args), is_module, output, recorder, quiet, stderr or sys.stderr)
    return run.execute()

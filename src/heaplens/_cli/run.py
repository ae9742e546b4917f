"""`heaplens run`: run a program with tracing on and leave a capture file.

run_program() runs a script, a directory or zip file with a __main__.py, or a
module under a Recorder (heaplens._trace.recorder) and makes sure that every
way of ending (returning, sys.exit, an uncaught exception, Ctrl-C, SIGTERM,
os._exit, and forked children, which get a file each) writes a valid capture,
or exits non-zero saying why it could not.

What heaplens does once the program has ended (printing its traceback,
building the summary) is not the program's: the snapshots are taken first,
before heaplens makes an object of its own.
"""

from __future__ import annotations

import os
import shlex
import sys

from heaplens import _core
from heaplens._trace.capture import is_harness_file
from heaplens._trace.recorder import Recorder, save_capture

TYPE_CHECKING = False
if TYPE_CHECKING:
    # _signal has no stub; signal's functions are its, with the same types.
    import signal as _signal
    from collections.abc import Callable, Sequence
    from importlib.abc import InspectLoader
    from importlib.machinery import ModuleSpec
    from types import CodeType, FrameType, ModuleType
    from typing import NoReturn, TextIO

    from heaplens._trace.capture import Capture

    # A signal handler as signal.signal() takes and returns it.
    _Handler = Callable[[int, FrameType | None], object] | int | None
else:
    import _signal  # signal's C module (see _ignore_sigint)


def default_output(target: str, pid: int) -> str:
    """heaplens-<name>-<pid>.hlc for a script path or module name."""
    name = os.path.splitext(os.path.basename(target))[0] or "program"
    name = name.rpartition(".")[2] if "." in name else name
    return f"heaplens-{name}-{pid}.hlc"


def child_output(path: str, pid: int) -> str:
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


def check_output(path: str) -> None:
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

    def __init__(
        self,
        target: str,
        args: list[str],
        is_module: bool,
        output: str,
        recorder: Recorder,
        quiet: bool,
        stderr: TextIO,
    ) -> None:
        self.target = target
        self.args = args
        self.is_module = is_module
        self.output = output
        self.start_dir = os.getcwd()  # where the user is: paths are shown from here
        self.recorder = recorder
        self.quiet = quiet
        self.stderr = stderr
        self.written: tuple[str, Capture, int] | None = None  # (path, capture, pid) once saved
        self._real_exit = os._exit
        self._finishing = False  # finish() is running: a SIGTERM waits for it
        self._pending_signal = 0
        self._watching_sigterm = False  # _core.term_watch_start() succeeded

    def _on_fork_child(self) -> None:
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

    def _os_exit(self, status: int) -> NoReturn:
        code = status  # named as os._exit names it: a caller may pass status=
        self.recorder.take_final()
        status = code if isinstance(code, int) else 1
        if not self.finish(f"os._exit({code})", status) and status == 0:
            code = LOST_CAPTURE_STATUS
        self._real_exit(code)

    def _on_terminate(self, signum: int, frame: FrameType | None) -> None:
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

    def _die_by(self, signum: int) -> NoReturn:
        """End this process by signal signum with its default action."""
        _signal.signal(signum, _signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        self._real_exit(128 + signum)  # not reached unless the signal is blocked

    def _prepare(self) -> tuple[CodeType, ModuleType]:
        """The program's code and a fresh __main__ module to run it in, set up
        as `python script.py` or `python -m module` would. UsageError when the
        module cannot be found."""
        import builtins
        import types

        main = types.ModuleType("__main__")
        main.__builtins__ = builtins  # type: ignore[attr-defined]  # as Python's __main__ has
        spec: ModuleSpec | None
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

    def _module_spec(self) -> ModuleSpec:
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

    def _code_of(self, spec: ModuleSpec) -> CodeType:
        """The code object of spec's module. A syntax error in it is printed
        as Python prints it, without heaplens's frames (NotStarted)."""
        try:
            # The callers checked that spec has a loader; one without get_code
            # raises AttributeError here, as it always did.
            loader: InspectLoader = spec.loader  # type: ignore[assignment]
            code = loader.get_code(spec.name)
        except (SyntaxError, ValueError) as exc:
            _print_program_traceback(exc, whole=False)
            raise NotStarted(1) from None
        except ImportError as exc:
            raise UsageError(str(exc)) from None
        if code is None:
            raise UsageError(f"no code to run in {spec.origin or spec.name}")
        return code

    def execute(self) -> int:
        """Run the program; return its exit code after writing the capture.
        The program's __main__ module stays alive until the exit snapshot is
        taken, as it does in a plain run until the interpreter shuts down."""
        try:
            code, main = self._prepare()
        except NotStarted as not_started:
            started_status: int = not_started.args[0]
            return started_status
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

    def finish(self, exit_text: str, code: int, brief: str | None = None) -> bool:
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

    def _shown(self, path: str) -> str:
        """path as the user may type it where `heaplens run` was started:
        relative to that directory when it lies under it."""
        prefix = os.path.join(self.start_dir, "")
        return path[len(prefix) :] if path.startswith(prefix) else path

    def _print_summary(self, capture: Capture) -> None:
        if self.quiet:
            return
        if self.recorder.is_child:
            print(
                f"heaplens: child process {os.getpid()} wrote {self._shown(self.output)}",
                file=self.stderr,
            )
            return
        try:
            from heaplens._report import data, text

            report = data.build_run_report(capture)
            output = self._shown(self.output)
            html = os.path.splitext(output)[0] + ".html"
            command = f"heaplens report --html {shlex.quote(html)} {shlex.quote(output)}"
            summary = text.format_run_summary(report, output, command)
            print(summary, file=self.stderr)
        except Exception as exc:  # noqa: BLE001 - the capture is written; say what failed
            print(f"heaplens: wrote {self.output}, but the summary failed: {exc}", file=self.stderr)


def _print_program_traceback(exc: BaseException, whole: bool = True) -> None:
    """Print exc as the interpreter would, without the frames of heaplens and
    runpy that ran the program (whole=False: without any frame, as Python
    shows a syntax error in the script it was given)."""
    import traceback

    tb = exc.__traceback__
    while tb is not None and is_harness_file(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    if not whole:
        tb = None
    elif tb is None:
        tb = exc.__traceback__
    traceback.print_exception(type(exc), exc, tb)


def _str_of(exc: BaseException) -> str:
    """str(exc), or a note when the program's exception cannot say."""
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - the program's own __str__
        return "<exception str() failed>"


def _is_path_entry(target: str) -> bool:
    """Whether Python would run target as a path entry: a directory or a zip
    file (with a __main__.py) rather than a script."""
    if os.path.isdir(target):
        return True
    import zipfile

    try:
        return zipfile.is_zipfile(target)
    except OSError:
        return False


def _catch_sigterm(handler: Callable[[int, FrameType | None], None]) -> _Handler:
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


def _watch_sigterm() -> bool:
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


def _system_exit(exc: SystemExit) -> tuple[str, int]:
    """(exit text, exit code) of a SystemExit, as the interpreter would exit."""
    code = exc.code
    if code is None:
        return "exit status 0", 0
    if isinstance(code, int):
        return (f"sys.exit({code})", code) if code else ("exit status 0", 0)
    print(code, file=sys.stderr)
    return f"sys.exit({code!r})", 1


def _ignore_sigint() -> _Handler:
    """Ignore Ctrl-C while the capture is written (main thread only).

    This runs while the program is still traced, so it goes through _signal,
    the C module under signal: signal.signal converts the old handler to an
    enum member, and on 3.11 that conversion allocated enough to be the peak
    of a small program."""
    try:
        return _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    except ValueError:  # not the main thread
        return None


def _restore_sigint(previous: _Handler) -> None:
    if previous is not None:
        try:
            _signal.signal(_signal.SIGINT, previous)
        except ValueError:
            pass


def run_program(
    target: str,
    args: Sequence[str],
    is_module: bool = False,
    output: str | None = None,
    nframe: int = 64,
    sample_rate: int = 0,
    interval: float = 0.01,
    quiet: bool = False,
    stderr: TextIO | None = None,
    native: bool = False,
    native_frames: bool = False,
) -> int:
    """Run a script (or module with is_module) with arguments under heaplens
    and return its exit code. The capture goes to output (default
    heaplens-<name>-<pid>.hlc)."""
    command = " ".join(
        shlex.quote(a) for a in (["-m", target] if is_module else [target]) + list(args)
    )
    recorder = Recorder(
        nframe,
        sample_rate,
        interval,
        command=f"python {command}",
        native=native or native_frames,
        native_frames=native_frames,
    )
    # Absolute now: the program may change directory (or delete the one it
    # was in) before it ends, and forked children write beside this file.
    output = os.path.abspath(output or default_output(target, os.getpid()))
    check_output(output)
    run = Run(target, list(args), is_module, output, recorder, quiet, stderr or sys.stderr)
    return run.execute()

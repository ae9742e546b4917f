"""The heaplens command: run, report, diff.

    heaplens run [options] script.py [args...]    run a program, write a capture
    heaplens run [options] -m module [args...]
    heaplens report [--html OUT] FILE              summarise a capture
    heaplens diff [--html OUT] OLD NEW             compare two captures by stack

Every error about the user's input (a missing or corrupt file, a bad option)
is one line on stderr and exit status 2; nothing is ever unpickled.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from heaplens._report.protocol import JSON
    from heaplens._trace.capture import Capture
    from heaplens._trace.snapshot import Snapshot

_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)(i?b)?\s*$", re.IGNORECASE)


# The most --sample-rate takes (the tracer's own limit: 1 TiB).
MAX_SAMPLE_RATE = 1 << 40


def parse_size(text: str) -> int:
    """Bytes from '524288', '512K', '512KiB', '1M', '2 MiB' (powers of 1024)."""
    match = _SIZE.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size in bytes: {text!r} (try 524288 or 512K)")
    scale = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match.group(2).lower()]
    return int(match.group(1)) * scale


def _sample_rate(text: str) -> int:
    value = parse_size(text)
    if value > MAX_SAMPLE_RATE:
        raise argparse.ArgumentTypeError(
            f"{text!r} is more than the largest sample rate, 1 TiB (1024G)"
        )
    return value


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def _nframe(text: str) -> int:
    value = _whole_number(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 1 and 65535, not {value}")
    return value


def _top(text: str) -> int:
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of milliseconds: {text!r}") from None
    if not 0.1 <= value <= 3_600_000:  # also refuses nan
        raise argparse.ArgumentTypeError("must be from 0.1 to 3600000 (milliseconds)")
    return value


def _parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    parser = argparse.ArgumentParser(
        prog="heaplens",
        description="Where did the memory of a Python program go, and why does it stay?",
    )
    parser.add_argument("--version", action="version", version=f"heaplens {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    run = commands.add_parser(
        "run",
        usage="heaplens run [options] script.py|dir|app.pyz [args...]\n"
        "       heaplens run [options] -m module [args...]",
        help="run a Python program with tracing on and write a capture file",
        description="Run a Python program with tracing on from its first line. Records the "
        "live heap by stack at the peak and at exit, and heap size and RSS over time. "
        "heaplens's options come first: everything after the script (or -m module) is the "
        "program's.",
    )
    run.add_argument(
        "-o",
        "--output",
        help="capture file (default: heaplens-NAME-PID.hlc); forked children write theirs "
        "beside it",
    )
    run.add_argument("--nframe", type=_nframe, default=64, help="frames kept per stack (64)")
    run.add_argument(
        "--sample-rate",
        type=_sample_rate,
        default=0,
        metavar="BYTES",
        help="record about one allocation per BYTES allocated (e.g. 512K) and scale the "
        "figures up; much faster, sizes become estimates (default: record every allocation)",
    )
    run.add_argument(
        "--native",
        action="store_true",
        help="trace native memory too: what extensions and the libraries they use allocate "
        "with malloc or map anonymously, at the Python line that was running (docs/native.md)",
    )
    run.add_argument(
        "--native-frames",
        action="store_true",
        help="--native, and put the C functions that allocated each native block in its "
        "stack, between the Python frames that called them (costs an unwind per block: "
        "pair it with --sample-rate on allocation-heavy code)",
    )
    run.add_argument(
        "--interval",
        type=_interval,
        default=10.0,
        metavar="MS",
        help="sample heap size every MS milliseconds (10)",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="print no summary at exit")
    run.add_argument("-m", dest="module", metavar="MODULE", help="run a library module as a script")

    report = commands.add_parser(
        "report", help="print the summary of a capture, or write it as an HTML page"
    )
    report.add_argument("file", help="a capture file (.hlc)")
    report.add_argument("--html", metavar="OUT", help="write a self-contained HTML report to OUT")
    report.add_argument("--top", type=_top, default=10, help="rows per table in the text (10)")

    diff = commands.add_parser(
        "diff", help="compare two captures (or snapshots) by stack: what grew, what shrank"
    )
    diff.add_argument("old", help="the earlier capture (.hlc)")
    diff.add_argument("new", help="the later capture (.hlc)")
    diff.add_argument(
        "--at",
        choices=("peak", "exit"),
        help="which snapshot of each capture to compare (default: exit, else the only one)",
    )
    diff.add_argument("--html", metavar="OUT", help="write the comparison as an HTML page to OUT")
    diff.add_argument("--top", type=_top, default=15, help="rows in the text table (15)")
    return parser, run


def _version() -> str:
    from heaplens import __version__

    return __version__


def split_run_arguments(
    run_parser: argparse.ArgumentParser, args: list[str]
) -> tuple[list[str], list[str]]:
    """(heaplens's options, the program's command line) of the arguments
    after `run`. heaplens's options end at the first argument that is not
    one of them (the script), after `-m MODULE`, or at `--`; everything from
    there on belongs to the program, even what looks like heaplens's options
    (`-o`, `--help`). The program's part is [script, args...], or the
    module's args when -m was given (it is then in heaplens's part)."""
    takes_value = {
        option: action.nargs != 0
        for action in run_parser._actions
        for option in action.option_strings
    }
    own: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            return own, args[index + 1 :]
        if arg == "-" or not arg.startswith("-"):
            return own, args[index:]
        own.append(arg)
        index += 1
        if arg.startswith("--"):
            # argparse accepts unique prefixes: --out FILE is --output FILE.
            name, equals, _value = arg.partition("=")
            matches = (
                [name]
                if name in takes_value
                else [o for o in takes_value if o.startswith(name) and o.startswith("--")]
            )
            if len(matches) == 1 and takes_value[matches[0]] and not equals and index < len(args):
                own.append(args[index])
                index += 1
            continue
        # Short options, maybe clustered: -q, -o FILE, -oFILE, -qo FILE, -mmodule.
        for position, letter in enumerate(arg[1:], 2):
            option = "-" + letter
            if option not in takes_value:
                break  # argparse says what is wrong with it
            if not takes_value[option]:
                continue
            if position == len(arg) and index < len(args):
                own.append(args[index])  # the value is the next argument
                index += 1
            if option == "-m":
                return own, args[index:]
            break
    return own, []


class UsageError(Exception):
    """A problem with the user's input, reported in one line."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the heaplens command; returns the exit status."""
    parser, run_parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    program: list[str] = []
    if argv and argv[0] == "run":
        own, program = split_run_arguments(run_parser, argv[1:])
        argv = ["run", *own]
    try:
        args = parser.parse_args(argv)
        args.program = program
        try:
            if args.command == "run":
                return _run(run_parser, args)
            if args.command == "report":
                return _report_command(args)
            return _diff_command(args)
        except UsageError as exc:
            print(f"heaplens {args.command}: {exc}", file=sys.stderr)
            return 2
    except BrokenPipeError:
        return _reader_gone()


def _reader_gone() -> int:
    """stdout's reader has gone (`heaplens report x.hlc | head`): end
    quietly, as Unix tools do, killed by SIGPIPE (status 141 in a shell)."""
    import signal

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # nothing left to fail at exit
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGPIPE)
    return 128 + signal.SIGPIPE  # not reached


def _run(run_parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from heaplens._cli import run

    program = list(args.program)
    if args.module:
        target, rest, is_module = args.module, program, True
    elif program:
        target, rest, is_module = program[0], program[1:], False
        if not os.path.exists(target):
            raise UsageError(f"no such script: {target}")
    else:
        run_parser.error("run needs a script or -m module")
    try:
        return run.run_program(
            target,
            rest,
            is_module=is_module,
            output=args.output,
            nframe=args.nframe,
            sample_rate=args.sample_rate,
            native=args.native or args.native_frames,
            native_frames=args.native_frames,
            interval=args.interval / 1000.0,
            quiet=args.quiet,
        )
    except run.UsageError as exc:
        raise UsageError(str(exc)) from None


def _load(path: str) -> Capture:
    """The Capture in path, or UsageError saying what is wrong with it."""
    from heaplens._cli.progress import Progress
    from heaplens._trace.recorder import load_capture

    with Progress(f"Loading {os.path.basename(path)}") as progress:
        progress.update(0, 1)
        try:
            capture = load_capture(path)
        except (OSError, ValueError) as exc:
            raise UsageError(str(exc)) from None
        progress.update(1, 1)
    return capture


def _show(
    data: dict[str, JSON],
    html_path: str | None,
    render_html: str,
    format_text: Callable[[dict[str, JSON]], str],
) -> int:
    """Write data as an HTML page to html_path (render_html's name in
    heaplens._report.html.run), or print it as text with format_text. Returns 0."""
    if html_path is None:
        print(format_text(data))
        sys.stdout.flush()  # a reader that has gone is noticed here, not at exit
        return 0
    from heaplens._report.html import run as _report_html

    try:
        with open(html_path, "w", encoding="utf-8") as out:
            out.write(getattr(_report_html, render_html)(data))
    except OSError as exc:
        raise UsageError(f"cannot write {html_path}: {exc.strerror or exc}") from None
    print(f"heaplens: wrote {html_path}", file=sys.stderr)
    return 0


def _report_command(args: argparse.Namespace) -> int:
    from heaplens._cli.progress import Progress
    from heaplens._report import data, text

    capture = _load(args.file)
    with Progress("Building the report") as progress:
        report = data.build_run_report(capture, progress=progress)
    return _show(
        report,
        args.html,
        "render_run_report",
        lambda report: text.format_report(report, limit=args.top),
    )


def _pick(capture: Capture, at: str | None, path: str) -> Snapshot:
    try:
        return capture.snapshot(at)
    except (KeyError, ValueError) as exc:
        raise UsageError(f"{path}: {exc.args[0]}") from None


def _diff_command(args: argparse.Namespace) -> int:
    from heaplens._report import data, text

    old_capture, new_capture = _load(args.old), _load(args.new)
    old, new = _pick(old_capture, args.at, args.old), _pick(new_capture, args.at, args.new)
    old_name = args.at or ("exit" if old_capture.exit is not None else "")
    new_name = args.at or ("exit" if new_capture.exit is not None else "")
    old_label = f"{os.path.basename(args.old)}" + (f" ({old_name})" if old_name else "")
    new_label = f"{os.path.basename(args.new)}" + (f" ({new_name})" if new_name else "")
    diff = data.build_diff_report(old, new, old_label, new_label)
    for capture in (old_capture, new_capture):
        if capture.info.get("sample_rate", "0") not in ("", "0"):
            diff["notes"].append(
                "At least one capture was sampled: its sizes are estimates, so small changes "
                "may be noise."
            )
            break
    return _show(
        diff,
        args.html,
        "render_diff_report",
        lambda diff: text.format_diff(diff, limit=args.top),
    )

"""`python -m test ARGS` (CPython's own regression tests) with heaplens tracing
from the first line:

    python tests/stress/regrtest_main.py ARGS...

heaplens starts before anything else is imported (nframe from
$HEAPLENS_STRESS_NFRAME, default 5); then regrtest runs in this process, as
`python -m test` would (its __main__, through runpy, so each version's own
entry point is used). Run its tests sequentially (no -j): a worker process
would not be traced.

At the end, whatever the tests did, it checks that heaplens is still tracing
and still records a new allocation, and that a snapshot can be taken. When not,
it says so on stderr and exits 90 (regrtest's own codes are below 10), so
"tracing silently stopped somewhere in the suite" is a failure of its own."""

import heaplens

heaplens.start(int(__import__("os").environ.get("HEAPLENS_STRESS_NFRAME", "5")))

import runpy  # noqa: E402
import sys  # noqa: E402

STOPPED_TRACING = 90


def _marker():
    return bytearray(1 << 20)  # MARKER


def tracing_problem():
    """None when heaplens traces and records; otherwise what is wrong."""
    if not heaplens.is_tracing():
        return "heaplens is no longer tracing at the end of the run (is_tracing() is False)"
    line = _marker.__code__.co_firstlineno + 1
    kept = _marker()
    snapshot = heaplens.take_snapshot()
    found = any(
        frame.filename == __file__ and frame.lineno == line
        for trace in snapshot.traces
        for frame in trace.traceback
    )
    del kept
    if not found:
        return (
            "is_tracing() is True but a new 1 MiB block is not recorded (tracing silently stopped)"
        )
    return None


def main():
    code = 0
    try:
        runpy.run_module("test", run_name="__main__", alter_sys=True)
    except SystemExit as exit:
        code = exit.code
    problem = tracing_problem()
    if problem:
        print(f"regrtest_main: {problem}", file=sys.stderr, flush=True)
        sys.exit(STOPPED_TRACING)
    print(
        f"regrtest_main: heaplens still tracing at the end: {heaplens.get_tracer_counters()}",
        flush=True,
    )
    sys.exit(code)


if __name__ == "__main__":
    main()

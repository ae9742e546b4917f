"""Cases from pyperformance, run in this process as pyperf workers.

pyperformance ships each benchmark as a script (bm_<case>/run_benchmark.py) that
builds a pyperf.Runner. Given --worker, a fixed loop count, one value and no
warmups, the runner times the loops once in the current process and never
spawns a worker subprocess, which matters because a tracer only sees its own
process. The measured time is pyperf's own: the timed loops, without the
script's imports and setup.
"""

import runpy
import sys
from pathlib import Path

# Loops per case, so that one untraced run takes about 0.5-1 s on the slow
# 2-core machine the suite was written on (raytrace cannot go below one loop).
# Traced runs take up to twenty times as long. Every case needs only pyperf.
LOOPS = {
    "chaos": 3,
    "deltablue": 50,
    "float": 3,
    "go": 2,
    "json_dumps": 20,
    "nqueens": 3,
    "raytrace": 1,
    "richards": 5,
}


def script_path(case):
    """Return the path of the case's run_benchmark.py inside the installed pyperformance."""
    import pyperformance

    return (
        Path(pyperformance.__file__).parent
        / "data-files"
        / "benchmarks"
        / f"bm_{case}"
        / "run_benchmark.py"
    )


def prepare(case, scratch_dir):
    """Return a function that runs the case once and returns its timed seconds.

    Raises ImportError when pyperformance or pyperf is not installed.
    """
    import pyperf

    script = str(script_path(case))
    output = str(Path(scratch_dir) / f"{case}.json")
    argv = [
        script,
        "--worker",
        "--loops",
        str(LOOPS[case]),
        "--values",
        "1",
        "--warmups",
        "0",
        "--output",
        output,
    ]

    def run():
        saved_argv = sys.argv
        sys.argv = argv
        try:
            runpy.run_path(script, run_name="__main__")
        finally:
            sys.argv = saved_argv
        bench = pyperf.Benchmark.load(output)
        (value,) = bench.get_values()
        return value * bench.get_total_loops()

    return run

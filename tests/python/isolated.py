"""Run a piece of code in a fresh interpreter, for tests whose failure mode is
a crash or a hang that must not take pytest down."""

import subprocess
import sys
import textwrap


def run_isolated(code, timeout=120, expect_exit=0):
    """Run `code` (dedented) with this interpreter in a new process and return
    its stdout. Fails with the end of its stderr when it exits otherwise than
    `expect_exit`, and with a clear message when it runs past `timeout` s."""
    try:
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as hung:
        raise AssertionError(f"still running after {timeout} s (hung?)\n{hung.stdout}") from None
    assert (
        result.returncode == expect_exit
    ), f"exit {result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result.stdout

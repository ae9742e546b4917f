"""Run a piece of code in a fresh interpreter, for tests whose failure mode is
a crash or a hang that must not take pytest down, or that need a process of
their own (tracing from the first line, a script that reads its own file).

The one helper every test uses for that: run_isolated."""

import os
import subprocess
import sys
import textwrap


def run_isolated(
    code=None, timeout=120, expect_exit=0, *, script=None, args=(), env=None, cwd=None
):
    """Run `code` (dedented) with this interpreter in a new process and return
    its stdout (text).

    - script: a path. `code`, when given, is written there first; the child
      then runs the file (`python SCRIPT`), so `__file__` is that path. Without
      it the child runs `python -c CODE`.
    - args: more command-line arguments for the program (sys.argv[1:]).
    - env: variables set for the child on top of this process's environment;
      a value of None removes the variable.
    - cwd: the child's working directory (default: this process's).

    Fails (AssertionError) with the ends of the child's stdout and stderr when
    it exits otherwise than `expect_exit` (a negative number is death by that
    signal, as subprocess reports it), and with a clear message, after
    killing it, when it is still running after `timeout` seconds."""
    if script is None and code is None:
        raise TypeError("run_isolated needs code, a script, or both")
    if script is not None:
        if code is not None:
            with open(script, "w", encoding="utf-8") as file:
                file.write(textwrap.dedent(code))
        command = [sys.executable, os.fspath(script), *map(str, args)]
    else:
        command = [sys.executable, "-c", textwrap.dedent(code), *map(str, args)]
    environ = None
    if env is not None:
        environ = dict(os.environ)
        for name, value in env.items():
            if value is None:
                environ.pop(name, None)
            else:
                environ[name] = str(value)
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=environ, cwd=cwd
        )
    except subprocess.TimeoutExpired as hung:
        out = hung.stdout or ""
        err = hung.stderr or ""
        if isinstance(out, bytes):
            out = out.decode(errors="replace")
        if isinstance(err, bytes):
            err = err.decode(errors="replace")
        raise AssertionError(
            f"still running after {timeout} s (hung?)\n{out[-2000:]}\n{err[-3000:]}"
        ) from None
    assert (
        result.returncode == expect_exit
    ), f"exit {result.returncode}, expected {expect_exit}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result.stdout

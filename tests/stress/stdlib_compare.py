"""A selection of CPython's own regression tests, run once untraced and once
with heaplens tracing from the first line (regrtest_main.py), on the running
interpreter; fails when any test's result differs between the two runs.

    python tests/stress/stdlib_compare.py [--only test_gc,...] [--keep DIR]

Each module of SELECTION runs in its own pair of processes (`python -m test
MODULE -m CLASS ...`, the two at once, without regrtest's -j: its workers
would not be traced), with
regrtest's --junit-xml giving one result per test: passed, failed, error or
skipped. A test that fails untraced is not our business; a test whose result
changes under tracing is, and so is a run that crashes, hangs (regrtest's
--timeout dumps the stacks and ends it) or ends with heaplens no longer
tracing (regrtest_main exits 90).

The selection is chosen to run in about 15 s untraced per interpreter (see
docs/testing.md for the times): the parts of each suite that exercise what a
tracer can break (threads and their states, fork, subprocesses, signal
handlers, the collector and weakref callbacks, subinterpreters, allocator
statistics), without the suites' long sleeps.

Exit 0 when every result matched, 1 otherwise, with one line per difference."""

import argparse
import concurrent.futures
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

HERE = pathlib.Path(__file__).resolve().parent

# module -> regrtest -m patterns (test classes); an empty tuple runs it all.
SELECTION = {
    "test_gc": (),
    "test_sys": (),  # test_getallocatedblocks: the gc monitor must not grow (defect 4)
    "test_weakref": (
        "ReferencesTestCase",
        "FinalizeTestCase",
        "WeakMethodTestCase",
        "WeakValueDictionaryTestCase",
        "WeakKeyDictionaryTestCase",
    ),
    "test_threading": (
        "ThreadTests",
        "SubinterpThreadingTests",  # subinterpreters while tracing (defect 2)
        "ThreadJoinOnShutdown",  # fork from threads
        "ThreadingExceptionTests",
        "ExceptHookTests",
        "InterruptMainTests",
    ),
    "test_signal": (
        "PosixTests",
        "WakeupFDTests",
        "WakeupSocketSignalTests",
        "RaiseSignalTest",
        "GenericTests",
    ),
    "test_subprocess": ("RunFuncTestCase", "ContextManagerTests"),
    "test_asyncio.test_threads": (),
    "test_asyncio.test_unix_events": (),
}

# Tests left out of the comparison, each with the reason: (module, test id
# suffix) -> why. Only tests whose result varies between two untraced runs
# belong here; a test that behaves differently under tracing is a finding.
EXCLUDED = {}

TIMEOUT_PER_TEST = 120  # regrtest --timeout: a hang ends with every stack dumped
TIMEOUT_PER_RUN = 600


def results(xml_path):
    """{test id: 'passed' | 'failed' | 'error' | 'skipped'} and {test id:
    message} from a regrtest junit file."""
    outcome, message = {}, {}
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        name = case.get("name")
        kind = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                kind = {"failure": "failed"}.get(child.tag, child.tag)
                message[name] = (child.get("message") or child.text or "").strip()
                break
        outcome[name] = kind
    return outcome, message


def run(module, patterns, traced, workdir):
    """Run one module untraced or traced; (exit status, results, messages,
    seconds, output tail)."""
    xml_path = workdir / f"{module}-{'traced' if traced else 'plain'}.xml"
    args = [module, "--junit-xml", str(xml_path), "--timeout", str(TIMEOUT_PER_TEST)]
    for pattern in patterns:
        args += ["-m", pattern]
    program = [str(HERE / "regrtest_main.py")] if traced else ["-m", "test"]
    env = dict(os.environ, PYTHONFAULTHANDLER="1")
    env.pop("PYTHONTRACEMALLOC", None)
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, *program, *args],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=TIMEOUT_PER_RUN,
            env=env,
            cwd=workdir,
        )
        status, output = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as hung:
        out = hung.stdout or b""
        status, output = "hung", out.decode(errors="replace") if isinstance(out, bytes) else out
    seconds = time.monotonic() - started
    if xml_path.exists() and xml_path.stat().st_size:
        outcome, message = results(xml_path)
    else:
        outcome, message = None, {}
    return status, outcome, message, seconds, output[-4000:]


def excluded(module, test_id):
    return next(
        (
            why
            for (mod, suffix), why in EXCLUDED.items()
            if mod == module and test_id.endswith(suffix)
        ),
        None,
    )


def compare(module, patterns, workdir):
    """Run `module` both ways, side by side (the two runs share the machine's
    load, and make test waits half as long); the list of problems (empty
    when they agree)."""
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        plain_run = pool.submit(run, module, patterns, False, workdir)
        traced_run = pool.submit(run, module, patterns, True, workdir)
        plain_status, plain, _, plain_s, plain_out = plain_run.result()
        traced_status, traced, messages, traced_s, traced_out = traced_run.result()
    problems = []
    if plain is None:
        problems.append(
            f"{module}: the untraced run left no results (exit {plain_status}):\n{plain_out}"
        )
        return problems, plain_s, traced_s, 0
    if (
        traced is None
        or traced_status in ("hung",)
        or (isinstance(traced_status, int) and traced_status < 0)
    ):
        problems.append(
            f"{module}: the traced run crashed or hung (exit {traced_status}; untraced exit {plain_status}):\n"
            f"{traced_out}"
        )
        return problems, plain_s, traced_s, len(plain)
    if traced_status == 90:
        problems.append(f"{module}: {traced_out.strip().splitlines()[-1]}")
    for test_id in sorted(set(plain) | set(traced)):
        a, b = plain.get(test_id, "not run"), traced.get(test_id, "not run")
        if a == b:
            continue
        why = excluded(module, test_id)
        if why:
            print(f"  excluded {test_id}: untraced {a}, traced {b} ({why})")
            continue
        detail = messages.get(test_id, "")
        detail = f": {detail.splitlines()[-1][:300]}" if detail else ""
        problems.append(f"{test_id}: untraced {a}, traced {b}{detail}")
    if not problems and plain_status != traced_status:
        problems.append(
            f"{module}: same results but exit {plain_status} untraced, {traced_status} traced:\n{traced_out}"
        )
    return problems, plain_s, traced_s, len(plain)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="modules of the selection, comma-separated")
    parser.add_argument(
        "--keep", default=None, help="a directory for the junit files (default: temporary)"
    )
    args = parser.parse_args()
    modules = [m for m in args.only.split(",") if m] or list(SELECTION)
    unknown = [m for m in modules if m not in SELECTION]
    if unknown:
        parser.error(f"not in the selection: {unknown}")
    print(f"stdlib_compare: Python {sys.version.split()[0]} ({sys.executable})", flush=True)
    all_problems = []
    with tempfile.TemporaryDirectory(prefix="stdlib-compare-") as scratch:
        workdir = pathlib.Path(args.keep or scratch).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        for module in modules:
            problems, plain_s, traced_s, n_tests = compare(module, SELECTION[module], workdir)
            verdict = "same results" if not problems else f"{len(problems)} DIFFERENCES"
            print(
                f"  {module}: {n_tests} tests, {verdict} (untraced {plain_s:.1f} s, traced {traced_s:.1f} s)",
                flush=True,
            )
            for problem in problems:
                print(f"    {problem}", flush=True)
            all_problems += problems
    if all_problems:
        print(f"stdlib_compare: FAIL: {len(all_problems)} results differ under heaplens tracing")
        sys.exit(1)
    print("stdlib_compare: OK: every result the same under heaplens tracing")


if __name__ == "__main__":
    main()

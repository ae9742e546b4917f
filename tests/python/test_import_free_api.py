"""The functions that may run in a signal handler, a fork handler or a gc
callback import nothing: `import heaplens` loads what they need up front.

An import there can re-enter a module still being initialised (a signal that
arrives during the first import: "partially initialized module") or, in a
child forked while another thread held an import lock, wait forever. Each
test runs in a fresh interpreter, imports heaplens, then puts two recorders
in place: a sys.meta_path finder, which sees every module that is looked for,
and a wrapper around builtins.__import__, which sees every import statement
that runs, even of a module already loaded (that one still takes the
module's lock while the module is being initialised).
"""

import sys

import pytest
from isolated import run_isolated

RECORDERS = """
import builtins, sys

IMPORTS = []

class _Finder:
    def find_spec(self, name, path=None, target=None):
        IMPORTS.append(("find_spec", name))
        return None

_real_import = builtins.__import__

def _recording_import(name, *args, **kwargs):
    IMPORTS.append(("import", name))
    return _real_import(name, *args, **kwargs)

def record_imports():
    sys.meta_path.insert(0, _Finder())
    builtins.__import__ = _recording_import

def stop_recording():
    builtins.__import__ = _real_import
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Finder)]
"""


def test_tracing_api_imports_nothing():
    out = run_isolated(
        RECORDERS
        + """
import gc
import heaplens
import heaplens.tracemalloc as tm

record_imports()
try:
    heaplens.start(4)
    assert heaplens.is_tracing()
    heaplens.get_traced_memory()
    heaplens.get_tracer_counters()
    snapshot = heaplens.take_snapshot()
    kept = [bytearray(100) for _ in range(10)]
    later = tm.take_snapshot()
    later.statistics("lineno")
    later.statistics("traceback")
    later.compare_to(snapshot, "filename")
    later.filter_traces([tm.Filter(False, "<unknown>"), tm.DomainFilter(True, 0)]).statistics(
        "lineno"
    )
    later.traces[0]
    tm.get_object_traceback(kept[0])
    tm.get_traced_memory()
    tm.get_tracemalloc_memory()
    tm.get_traceback_limit()
    tm.reset_peak()
    tm.clear_traces()
    tm.is_tracing()
    heaplens.stop()
    tm.start(2)
    tm.take_snapshot()
    tm.stop()
finally:
    stop_recording()
print(IMPORTS)
"""
    )
    assert out.strip() == "[]", out


def test_gc_monitor_imports_nothing_once_made():
    out = run_isolated(
        RECORDERS
        + """
import gc
import heaplens

class Node:
    def __init__(self):
        self.me = self

monitor = heaplens.gc_monitor()
heaplens.start(2)
record_imports()
try:
    monitor.start()
    for _ in range(1000):
        Node()
    gc.collect()
    report = monitor.stop()
finally:
    stop_recording()
    heaplens.stop()
assert report.collected >= 1000, report
print(IMPORTS)
"""
    )
    assert out.strip() == "[]", out


def test_the_first_snapshot_from_a_signal_handler_imports_nothing():
    out = run_isolated(
        RECORDERS
        + """
import signal
import heaplens

taken = []

def on_signal(signum, frame):
    taken.append(heaplens.take_snapshot())
    taken.append(heaplens.get_traced_memory())

signal.signal(signal.SIGUSR1, on_signal)
heaplens.start()
record_imports()
try:
    signal.raise_signal(signal.SIGUSR1)
finally:
    stop_recording()
    heaplens.stop()
assert len(taken) == 2, taken
print(IMPORTS)
"""
    )
    assert out.strip() == "[]", out


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
def test_fork_handlers_of_heaplens_run_import_nothing(tmp_path):
    """`heaplens run`'s after-fork handler, in the child, imports nothing."""
    script = tmp_path / "forks.py"
    script.write_text(
        RECORDERS
        + """
import os, sys
record_imports()
pid = os.fork()
if pid == 0:
    found = list(IMPORTS)
    stop_recording()
    with open(sys.argv[1], "w") as out:
        out.write(repr(found))
    os._exit(0)
stop_recording()
_, status = os.waitpid(pid, 0)
assert status == 0, status
"""
    )
    seen = tmp_path / "seen.txt"
    run_isolated(
        f"""
import sys
from heaplens._cli.main import main
sys.exit(main(["run", "-o", {str(tmp_path / "out.hlc")!r}, {str(script)!r}, {str(seen)!r}]))
""",
        expect_exit=0,
    )
    assert seen.read_text() == "[]"

"""heaplens.gc_monitor(): what each collection did, and that watching changes nothing."""

import gc
import os
import subprocess
import sys
import textwrap
import threading
import weakref

import pytest

import heaplens
from isolated import run_isolated

HERE = os.path.basename(__file__)


class Node:
    """Cyclic garbage: refers to itself and owns a list."""

    def __init__(self):
        self.me = self
        self.payload = [0] * 10


class Resource:
    """A cycle with a finalizer."""

    finalized = 0

    def __init__(self):
        self.me = self

    def __del__(self):
        Resource.finalized += 1


def _make_nodes(n):
    for _ in range(n):
        Node()  # the line the monitor must name


MAKE_NODES_LINE = _make_nodes.__code__.co_firstlineno + 2


def _make_resources(n):
    for _ in range(n):
        Resource()  # the line the monitor must name for the finalizers


MAKE_RESOURCES_LINE = _make_resources.__code__.co_firstlineno + 2


def _row(rows, type_name):
    matches = [row for row in rows if row.type == type_name]
    assert len(matches) == 1, [(row.type, row.count) for row in rows]
    return matches[0]


def test_garbage_made_in_a_loop_is_counted_by_type_and_site():
    heaplens.start(4)
    gc.collect()
    with heaplens.gc_monitor() as monitor:
        _make_nodes(3000)
        gc.collect()
    report = monitor.report

    assert len(report.collections) >= 2  # the loop triggers young collections
    assert {c.generation for c in report.collections} <= {0, 1, 2}
    assert report.collections[-1].generation == 2
    assert all(c.duration > 0 for c in report.collections)
    assert report.collected >= 6000

    node = _row(report.by_type(), f"{__name__}.Node")
    assert node.count == 3000
    assert node.size == 3000 * sys.getsizeof(Node())
    assert node.finalizer is None
    assert _row(report.by_type(), "list").count >= 3000

    # Every Node was allocated on one line of this file.
    node_sites = [row for row in report.by_site() if row.type == f"{__name__}.Node"]
    assert len(node_sites) == 1
    filename, lineno = node_sites[0].site[0]
    assert (os.path.basename(filename), lineno) == (HERE, MAKE_NODES_LINE)
    # The Node line made as many objects as any line (the lists made in
    # Node.__init__ tie with it where every list's site is its own line).
    by_line = report.by_line()
    [(_, count, _, types)] = [
        row
        for row in by_line
        if (os.path.basename(row[0][0]), row[0][1]) == (HERE, MAKE_NODES_LINE)
    ]
    assert count == 3000 and types == {f"{__name__}.Node": 3000}
    assert by_line[0][1] == 3000

    # What the monitor counted is what the collector says it collected.
    for c in report.collections:
        assert c.freed >= c.collected
    assert report.n_collections == len(report.collections)  # fewer than RECENT

    text = report.format()
    assert "collections in" in text and "generation 2" in text
    assert f"{__name__}.Node" in text
    assert f"{HERE}:{MAKE_NODES_LINE}" in text


def test_finalizers_in_collected_cycles_are_listed():
    heaplens.start(2)
    Resource.finalized = 0
    gc.collect()  # garbage from before (a failed test's traceback) is not this test's
    with heaplens.gc_monitor() as monitor:
        _make_resources(200)
        gc.collect()
    assert Resource.finalized == 200
    finalized = monitor.report.finalized()
    assert [(row.type, row.finalizer, row.count) for row in finalized] == [
        (f"{__name__}.Resource", "__del__", 200)
    ]
    filename, lineno = finalized[0].site[0]
    assert (os.path.basename(filename), lineno) == (HERE, MAKE_RESOURCES_LINE)
    assert "collected objects with finalizers:" in monitor.report.format()
    assert "Resource (__del__)" in monitor.report.format()


def test_objects_left_in_gc_garbage_are_listed():
    _testcapi = pytest.importorskip("_testcapi")

    @_testcapi.with_tp_del
    class Legacy:
        def __init__(self):
            self.me = self

        def __tp_del__(self):
            pass

    gc.collect()
    before = len(gc.garbage)
    try:
        with heaplens.gc_monitor() as monitor:
            for _ in range(3):
                Legacy()
            gc.collect()
        report = monitor.report
        assert report.uncollectable >= 3
        garbage = [entry for entry in report.garbage() if entry.type.endswith("Legacy")]
        assert len(garbage) == 3
        assert {entry.finalizer for entry in garbage} == {"tp_del"}
        assert {entry.address for entry in garbage} <= {id(obj) for obj in gc.garbage}
        assert len(report.still_in_garbage()) == len(report.garbage())
        assert "left in gc.garbage by the collector: 3 objects (3 still there)" in report.format()
    finally:
        for obj in gc.garbage[before:]:
            obj.__dict__.clear()
        del gc.garbage[before:]
    assert report.still_in_garbage() == []


def _workload(keep):
    """Makes cyclic garbage and keeps some objects; returns weak references to both."""
    garbage_refs, kept_refs = [], []
    for i in range(2000):
        node = Node()
        (kept_refs if i % 10 == 0 else garbage_refs).append(weakref.ref(node))
        if i % 10 == 0:
            keep.append(node)
        del node
    return garbage_refs, kept_refs


def test_monitoring_changes_nothing_the_program_keeps_alive():
    gc.collect()
    debug, garbage, callbacks = gc.get_debug(), list(gc.garbage), list(gc.callbacks)

    def run(monitored):
        keep = []
        if monitored:
            with heaplens.gc_monitor():
                garbage_refs, kept_refs = _workload(keep)
                gc.collect()
                # Freed by the collection itself, not later.
                dead_inside = sum(ref() is None for ref in garbage_refs)
        else:
            garbage_refs, kept_refs = _workload(keep)
            gc.collect()
            dead_inside = sum(ref() is None for ref in garbage_refs)
        alive = sum(ref() is not None for ref in kept_refs)
        return dead_inside, alive, len(gc.garbage)

    assert run(monitored=True) == run(monitored=False) == (1800, 200, len(garbage))
    assert gc.get_debug() == debug
    assert gc.garbage == garbage
    assert gc.callbacks == callbacks


def test_breakdown_off_records_timings_only():
    with heaplens.gc_monitor(breakdown=False) as monitor:
        _make_nodes(100)
        gc.collect()
    report = monitor.report
    assert report.collected >= 200
    assert all(c.freed == 0 and c.watched == 0 for c in report.collections)
    assert "no breakdown" in report.format()


def test_without_the_tracer_types_are_counted_and_sites_unknown():
    assert not heaplens.is_tracing()
    with heaplens.gc_monitor() as monitor:
        _make_nodes(500)
        gc.collect()
    node = _row(monitor.report.by_type(), f"{__name__}.Node")
    assert node.count == 500
    assert all(row.site is None for row in monitor.report.by_site())
    assert monitor.report.by_line() == []


def test_start_and_stop_are_checked():
    monitor = heaplens.gc_monitor()
    with pytest.raises(RuntimeError):
        monitor.stop()
    monitor.start()
    try:
        with pytest.raises(RuntimeError):
            monitor.start()
        with pytest.raises(RuntimeError, match="already running"):
            heaplens.gc_monitor().start()
    finally:
        report = monitor.stop()
    assert isinstance(report, heaplens.GcReport)
    assert heaplens._core.gc_watch_callback not in gc.callbacks
    # A fresh monitor can start again.
    with heaplens.gc_monitor():
        gc.collect()


def test_other_threads_freeing_during_a_collection_are_not_counted():
    """A finalizer lets go of the GIL; another thread churns objects meanwhile."""
    import time

    stop = threading.Event()

    def churn():
        while not stop.is_set():
            junk = [[i] for i in range(200)]
            del junk

    class Sleepy:
        def __init__(self):
            self.me = self

        def __del__(self):
            time.sleep(0.0005)

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        heaplens.start(1)
        with heaplens.gc_monitor() as monitor:
            for _ in range(200):
                Sleepy()
            _make_nodes(1000)
            gc.collect()
    finally:
        stop.set()
        thread.join()
    by_type = monitor.report.by_type()
    assert _row(by_type, f"{__name__}.Node").count == 1000
    sleepy = [row for row in by_type if row.type.endswith(".<locals>.Sleepy")]
    assert [(row.count, row.finalizer) for row in sleepy] == [(200, "__del__")]
    # The other thread's lists were freed meanwhile, but not by the collector.
    assert _row(by_type, "list").count == 1000


def test_a_finalizer_that_stops_the_tracer_mid_collection_is_harmless():
    class Stopper:
        def __init__(self):
            self.me = self

        def __del__(self):
            heaplens.stop()

    heaplens.start(1)
    with heaplens.gc_monitor() as monitor:
        _make_nodes(300)
        Stopper()
        gc.collect()
    assert not heaplens.is_tracing()
    node = _row(monitor.report.by_type(), f"{__name__}.Node")
    assert node.count == 300


def test_gc_monitor_in_a_script(tmp_path):
    """The way a user runs it: a script that leaks cycles in a loop."""
    script = tmp_path / "app.py"
    script.write_text(
        textwrap.dedent(
            """
            import gc, heaplens

            class Session:
                def __init__(self):
                    self.handlers = [self.on_event]
                def on_event(self):
                    pass

            def serve(n):
                for _ in range(n):
                    Session()

            heaplens.start()
            with heaplens.gc_monitor() as monitor:
                serve(2000)
                gc.collect()
            print(monitor.report)
            """
        )
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "__main__.Session" in out
    assert "method" in out  # the bound method in the cycle
    assert "app.py:12" in out  # Session() in serve()


def test_memory_stays_flat_over_many_collections():
    """The monitor keeps totals, the last RECENT collections and the last
    GARBAGE_KEPT objects of gc.garbage: 20k collections cost no more pymalloc
    blocks than 2k (it once kept ~15 blocks per collection for ever)."""
    out = run_isolated(
        """
        import gc, sys, heaplens

        class A:
            def __init__(self):
                self.me = self

        def cycles():
            A()
            l = []
            l.append(l)

        heaplens.start(5)
        monitor = heaplens.gc_monitor()
        monitor.start()

        def collections(n):
            for _ in range(n):
                cycles()
                gc.collect(0)

        collections(2000)  # types, sites and the ring of recent ones are known
        before = sys.getallocatedblocks()
        collections(20000)
        after = sys.getallocatedblocks()
        report = monitor.stop()
        heaplens.stop()
        print(after - before, report.n_collections, len(report.collections))
        """,
        timeout=240,
    )
    growth, n_collections, kept = map(int, out.split())
    assert growth < 500, f"{growth} pymalloc blocks more after 20k collections"
    assert n_collections >= 22000
    assert kept == heaplens.GcReport.RECENT


@pytest.mark.parametrize(
    "test_id",
    [
        "test.test_sys.SysModuleTest.test_getallocatedblocks",
        "test.test_gc.GCTests.test_get_count",
        "test.test_gc.GCTests.test_collect_generations",
        "test.test_gc.GCTests.test_get_stats",
    ],
)
def test_cpython_gc_tests_pass_under_the_monitor(test_id):
    """CPython's own tests of allocation counts and the collector's counters,
    run with a gc monitor (and the tracer) on."""
    pytest.importorskip("test.support")
    out = run_isolated(
        f"""
        import sys, unittest, heaplens
        heaplens.start(4)
        monitor = heaplens.gc_monitor()
        monitor.start()
        suite = unittest.defaultTestLoader.loadTestsFromName({test_id!r})
        result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
        report = monitor.stop()
        heaplens.stop()
        print("RESULT", result.testsRun, len(result.failures), len(result.errors),
              len(result.skipped), report.n_collections)
        """,
        timeout=120,
    )
    tests_run, failures, errors, skipped, _ = out.split("RESULT")[-1].split()
    assert (failures, errors) == ("0", "0"), out
    assert int(tests_run) == 1

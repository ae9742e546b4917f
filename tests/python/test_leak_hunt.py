"""The leak hunt: every classic leak is found and its holder named first;
code that allocates and frees, or fills a cache once, is reported clean.

Each scenario is a small module written to a temporary directory and
imported, so that holders are real module globals with real file names.
"""

import gc
import importlib
import json
import sys
import textwrap

import pytest

import heaplens


@pytest.fixture
def load(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    loaded = []

    def load(name, source):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        module = importlib.import_module(name)
        loaded.append(name)
        return module

    yield load
    for name in loaded:
        sys.modules.pop(name, None)


def assert_clean(report):
    assert report.clean, report.format()
    assert report.headline.startswith("no leaks"), report.headline


# ---- scenarios that must be found -------------------------------------------------


def test_the_classic_cache_with_an_early_return(load):
    app = load(
        "leaky_app",
        """
        _cache = []

        class OBJ:
            pass

        def func_to_leak():
            o = OBJ()
            _cache.append(o)
            # do something with o, then remove it from _cache
            if True:  # this seems ugly, but it always exists
                return
            _cache.remove(o)
        """,
    )
    report = heaplens.find_leaks(app.func_to_leak)
    assert report.headline.startswith(
        "leaky_app.py: module global _cache (list) holds 1 new OBJ per call"
    ), report.headline
    assert not report.clean
    (group,) = report.groups
    assert (group.type, group.count, group.per_call) == ("OBJ", 5, [1, 1, 1, 1, 1])
    assert group.site == "leaky_app.py:8"
    assert group.traceback[-1][2] == "o = OBJ()"
    assert group.size > 0 and group.retained >= group.size
    assert group.chain[0][0] == "module leaky_app"
    assert group.chain[group.holder_step][0] == "list"
    assert "OBJ object at" in group.example
    assert len(app._cache) == 7  # 2 warm-up calls and 5 measured ones


def test_a_singleton_manager_keeping_closed_connections(load):
    app = load(
        "manager_app",
        """
        import itertools

        class Connection:
            def __init__(self, n):
                self.n = n
                self.closed = False
                self.buffer = bytearray(4096)

            def close(self):
                self.closed = True  # ... but the manager keeps it

        class ConnectionManager:
            def __init__(self):
                self._connections = {}

            def open(self, n):
                connection = Connection(n)
                self._connections[n] = connection
                return connection

        manager = ConnectionManager()
        _numbers = itertools.count()

        def serve_one():
            connection = manager.open(next(_numbers))
            connection.close()
        """,
    )
    report = heaplens.find_leaks(app.serve_one, repeat=4)
    assert report.headline.startswith(
        "manager_app.py: module global manager._connections (dict) holds 1 new Connection per call"
    ), report.headline
    holder = report.holders[0]
    assert holder.retained >= 4 * 4096
    assert dict(holder.types)["bytearray"] == 4


def test_a_callback_registry_keeping_bound_methods_and_their_self(load):
    app = load(
        "events_app",
        """
        _callbacks = []

        def subscribe(callback):
            _callbacks.append(callback)

        class Listener:
            def __init__(self):
                self.seen = [0] * 100

            def on_event(self, event):
                self.seen.append(event)

        def handle_request():
            listener = Listener()
            subscribe(listener.on_event)
        """,
    )
    report = heaplens.find_leaks(app.handle_request)
    assert report.headline.startswith(
        "events_app.py: module global _callbacks (list) holds 1 new bound method "
        "Listener.on_event per call, with 1 Listener"
    ), report.headline
    types = dict(report.holders[0].types)
    assert types["Listener"] == 5


def test_a_closure_captured_in_a_global(load):
    app = load(
        "closure_app",
        """
        import itertools

        _handlers = {}
        _ids = itertools.count()

        def register():
            data = [0] * 1000

            def on_done():
                return len(data)

            _handlers[next(_ids)] = on_done
        """,
    )
    report = heaplens.find_leaks(app.register)
    assert report.headline.startswith(
        "closure_app.py: module global _handlers (dict) holds 1 new function "
        "register.<locals>.on_done per call"
    ), report.headline
    # The closure retains its cell and the list it captured.
    assert report.holders[0].retained >= 5 * 8000
    assert {"cell", "list"} <= set(dict(report.holders[0].types))


def test_an_exception_stored_with_its_traceback_keeps_frames_and_locals(load):
    app = load(
        "errors_app",
        """
        _errors = []

        def parse(text):
            scratch = bytearray(10000)  # a local the traceback keeps
            raise ValueError(text)

        def work():
            try:
                parse("bad input")
            except ValueError as error:
                _errors.append(error)
        """,
    )
    report = heaplens.find_leaks(app.work)
    assert report.headline.startswith(
        "errors_app.py: module global _errors (list) holds 1 new ValueError per call"
    ), report.headline
    holder = report.holders[0]
    types = dict(holder.types)
    assert types["traceback"] >= 5 and types["frame"] >= 5 and types["bytearray"] == 5
    assert holder.retained >= 5 * 10000


def test_an_lru_cache_on_a_method(load):
    app = load(
        "service_app",
        """
        import functools

        class Service:
            def __init__(self):
                self.table = bytearray(2048)

            @functools.lru_cache(maxsize=128)
            def lookup(self, key):
                return key * 2

        def request():
            Service().lookup(3)
        """,
    )
    report = heaplens.find_leaks(app.request)
    headline = report.headline
    assert headline.startswith("service_app.py: module global Service.lookup"), headline
    assert "lru_cache with maxsize=128" in headline
    assert dict(report.holders[0].types)["Service"] == 5
    assert not report.clean  # the user's own cache: reported, with its bound


def test_a_cycle_whose_finalizer_the_collector_cannot_run(load):
    _testcapi = pytest.importorskip("_testcapi")
    app = load(
        "legacy_app",
        """
        class Node:
            def __init__(self):
                self.me = self
                self.payload = bytearray(1000)

            def __tp_del__(self):
                pass

        def build():
            Node()
        """,
    )
    app.Node = _testcapi.with_tp_del(app.Node)
    before = len(gc.garbage)
    try:
        report = heaplens.find_leaks(app.build)
        assert report.headline.startswith(
            "gc.garbage (list) holds 1 new Node per call"
        ), report.headline
        assert "could not free" in report.headline
        assert report.holders[0].kind == "uncollectable"
    finally:
        for obj in gc.garbage[before:]:
            obj.__dict__.clear()
        del gc.garbage[before:]


def test_a_python_finalizer_in_a_cycle_is_collected_and_not_reported(load):
    # Since Python 3.4 (PEP 442) the collector runs __del__ and frees the cycle.
    app = load(
        "finalizer_app",
        """
        class Node:
            def __init__(self):
                self.me = self

            def __del__(self):
                pass

        def build():
            Node()
        """,
    )
    assert_clean(heaplens.find_leaks(app.build))


def test_a_reference_leaked_from_c(load):
    app = load(
        "c_app",
        """
        import ctypes

        class Payload:
            def __init__(self):
                self.data = bytearray(500)

        def call_extension():
            payload = Payload()
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(payload))  # a missing Py_DECREF
        """,
    )
    report = heaplens.find_leaks(app.call_extension)
    assert report.headline.startswith("held from C: 1 new Payload per call"), report.headline
    assert "no referrer in the heap" in report.headline
    assert report.holders[0].kind == "external"
    # What a leaked object holds leaks with it: one holder, not one per type.
    assert len(report.holders) == 1
    assert dict(report.holders[0].types) == {"Payload": 5, "bytearray": 5}
    (group,) = [g for g in report.groups if g.type == "Payload"]
    assert group.count == 5 and group.site == "c_app.py:9"


def test_leaks_into_a_local_of_the_calling_frame(load):
    app = load(
        "local_app",
        """
        class Item:
            pass

        def run(heaplens):
            pending = []
            return heaplens.find_leaks(lambda: pending.append(Item()))
        """,
    )
    report = app.run(heaplens)
    assert report.headline.startswith(
        "local_app.py: local pending of run() (list) holds 1 new Item"
    ), report.headline


def test_objects_reusing_the_memory_of_older_objects_are_new(load):
    # Each call frees an old list and a new one takes its memory from
    # CPython's free list: the block is older than the hunt, the list is not.
    app = load(
        "reuse_app",
        """
        _old = [[i] for i in range(100)]
        _cache = []

        def churn():
            _old.pop()
            _cache.append([1, 2, 3])
        """,
    )
    report = heaplens.find_leaks(app.churn)
    assert report.headline.startswith(
        "reuse_app.py: module global _cache (list) holds 1 new list"
    ), report.headline
    assert report.groups[0].per_call == [1, 1, 1, 1, 1]


# ---- controls that must be clean ---------------------------------------------------


def test_allocating_and_freeing_is_clean(load):
    app = load(
        "clean_app",
        """
        def work(n):
            rows = [{"i": i, "text": f"row {i}"} for i in range(n)]
            table = {row["text"]: row for row in rows}
            return len(table)
        """,
    )
    assert_clean(heaplens.find_leaks(app.work, 2000))


def test_cyclic_garbage_is_not_a_leak(load):
    app = load(
        "cyclic_app",
        """
        class Node:
            def __init__(self, parent=None):
                self.parent = parent
                self.children = []
                if parent is not None:
                    parent.children.append(self)

        def build_tree():
            root = Node()
            for _ in range(100):
                Node(root)
        """,
    )
    assert_clean(heaplens.find_leaks(app.build_tree))


def test_caches_that_stop_growing_are_absorbed_by_the_warm_up(load):
    app = load(
        "cache_app",
        """
        import functools
        import re
        import typing

        @functools.lru_cache(maxsize=None)
        def settings(name):
            return {"name": name, "values": list(range(50))}

        def handle(text):
            pattern = re.compile(r"(\\w+)=(\\d+)")
            pairs = dict(pattern.findall(text))
            alias = typing.Dict[str, typing.List[int]]
            value = settings("default")
            name = "".join(["user_", "attr"])
            return len(pairs), alias, value, hash(name)
        """,
    )
    assert_clean(heaplens.find_leaks(app.handle, "a=1 b=2 c=3"))


def test_keeping_only_the_last_result_is_not_growth(load):
    app = load(
        "last_app",
        """
        class Result:
            pass

        last = None

        def compute():
            global last
            last = Result()
        """,
    )
    assert_clean(heaplens.find_leaks(app.compute))


# ---- leak_check, the report's forms, arguments -------------------------------------


def test_leak_check_reports_what_a_block_left_alive(load):
    app = load(
        "block_app",
        """
        kept = []

        class Job:
            pass
        """,
    )
    with heaplens.leak_check() as report:
        for _ in range(3):
            app.kept.append(app.Job())
        temporary = [app.Job() for _ in range(100)]
        del temporary
    assert report.headline.startswith(
        "block_app.py: module global kept (list) holds 3 new Job"
    ), report.headline
    assert report.groups[0].count == 3

    with heaplens.leak_check() as clean_report:
        sum(len(str(i)) for i in range(10000))
    assert_clean(clean_report)


def test_leak_check_keeps_an_exception_and_its_report(load):
    with pytest.raises(KeyError):
        with heaplens.leak_check() as report:
            raise KeyError("boom")
    assert report.finished
    assert any("raised KeyError" in note for note in report.notes)


def test_the_report_as_text_data_and_html(load, tmp_path, capsys):
    app = load(
        "forms_app",
        """
        _cache = []

        class Thing:
            def __repr__(self):
                raise RuntimeError("a repr that raises")

        def leak():
            _cache.append(Thing())
        """,
    )
    report = heaplens.find_leaks(app.leak, repeat=3, warmup=1)
    report.show()
    out = capsys.readouterr().out
    assert out.splitlines()[0] == report.headline
    assert "allocated at (most recent call last):" in out
    assert "_cache.append(Thing())" in out
    assert max(len(line) for line in out.splitlines()) <= 160
    data = report.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["calls"] == 3 and data["warmup"] == 1 and data["clean"] is False
    assert data["groups"][0]["per_call"] == [1, 1, 1]
    assert data["holders"][0]["sentence"] == report.headline
    page = tmp_path / "leaks.html"
    report.save_html(page)
    text = page.read_text()
    assert "Thing" in text and "forms_app.py" in text and "_cache" in text
    assert "http://" not in text and "https://" not in text


def test_the_report_keeps_no_object_alive(load):
    app = load(
        "alive_app",
        """
        _cache = []

        class Big:
            pass

        def leak():
            _cache.append(Big())
        """,
    )
    report = heaplens.find_leaks(app.leak)
    assert not report.clean
    import weakref

    refs = [weakref.ref(obj) for obj in app._cache]
    app._cache.clear()
    gc.collect()
    assert all(ref() is None for ref in refs)
    assert "Big" in report.format()


def test_the_tracer_is_left_as_it_was(load):
    app = load("tracer_app", "def f():\n    return [1, 2, 3]\n")
    assert not heaplens.is_tracing()
    heaplens.find_leaks(app.f)
    assert not heaplens.is_tracing()
    heaplens.start(5)
    try:
        heaplens.find_leaks(app.f)
        assert heaplens.is_tracing()
        assert heaplens._core.get_traceback_limit() == 5
    finally:
        heaplens.stop()


def test_errors_are_clear_and_leave_no_hunt_behind(load):
    with pytest.raises(TypeError, match="callable"):
        heaplens.find_leaks(42)
    with pytest.raises(ValueError, match="repeat"):
        heaplens.find_leaks(print, repeat=0)

    def fails():
        raise OSError("disk")

    with pytest.raises(OSError, match="disk"):
        heaplens.find_leaks(fails)
    assert not heaplens.is_tracing()
    assert heaplens._core.leak_tags_gc_callback not in gc.callbacks
    with heaplens.leak_check():
        with pytest.raises(RuntimeError, match="already running"):
            heaplens.find_leaks(print)
    app = load("after_app", "_keep = []\ndef f():\n    _keep.append(object())\n")
    assert "module global _keep" in heaplens.find_leaks(app.f).headline


def test_stopping_the_tracer_in_the_middle_is_an_error_not_a_wrong_answer():
    def stops():
        heaplens.stop()

    heaplens.start(1)
    with pytest.raises(RuntimeError, match="stopped or its traces cleared"):
        heaplens.find_leaks(stops, warmup=0)
    assert not heaplens.is_tracing()
    assert heaplens._core.leak_tags_gc_callback not in gc.callbacks

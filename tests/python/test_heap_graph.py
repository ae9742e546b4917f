"""The heap graph engine (heaplens._core.build_graph) and its own API:
census, Mark/growth_since, why_alive, referrers, refcount_report."""

import ctypes
import gc
import inspect
import importlib
import sys
import types
import textwrap
import threading
import weakref

import pytest
from conftest import GETREFCOUNT_ARGUMENT

import heaplens
from heaplens import _core
from heaplens._graph import labels
from heaplens._graph.describe import describe
from heaplens._graph.heap import OmittedSteps

LEAKAPP = textwrap.dedent(
    """
    class Leaked:
        pass

    _cache = []

    class Manager:
        def __init__(self):
            self.connections = {}

    manager = Manager()

    def make_closure(obj):
        def handler():
            return obj
        return handler

    handlers = []

    class Widget:
        def on_event(self):
            pass

    callbacks = []
    """
)


@pytest.fixture
def leakapp(tmp_path, monkeypatch):
    """A fresh module `leakapp` with the classic holders, imported from tmp_path."""
    (tmp_path / "leakapp.py").write_text(LEAKAPP)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("leakapp", None)
    module = importlib.import_module("leakapp")
    yield module
    sys.modules.pop("leakapp", None)


# ---- the engine ------------------------------------------------------------


def test_tracked_nodes_are_gc_get_objects_in_order():
    marker = [object()]
    graph = _core.build_graph()
    assert graph.n_tracked > 100
    assert graph.n_nodes > graph.n_tracked  # untracked referents (str, int...) too
    node = graph.find(marker)
    assert 0 <= node < graph.n_tracked
    assert graph.object(node) is marker
    assert graph.is_tracked(node)
    assert graph.type(node) is list
    assert graph.address(node) == id(marker)


def test_sizes_are_sys_getsizeof():
    class WithDict:
        def __init__(self):
            self.a = 1

    class WithSlots:
        __slots__ = ("a", "b")

    keep = [WithDict(), WithSlots(), {"k": 1}, set(range(9)), b"x" * 100, 10**40, "\u20ac" * 9]
    keep.append(type("Dynamic", (), {}))
    graph = _core.build_graph()
    checked = 0
    for node in range(graph.n_nodes):
        if graph.kind(node) != "object":
            continue
        try:
            obj = graph.object(node)
        except LookupError:
            continue
        if not isinstance(
            inspect.getattr_static(type(obj), "__sizeof__", None),
            (types.MethodDescriptorType, types.WrapperDescriptorType),
        ):
            # A __sizeof__ written in Python or Cython (pandas' Index and
            # index engines count their data): heaplens never runs it, and
            # sys.getsizeof would run its code.
            continue
        assert graph.size(node) == sys.getsizeof(obj), type(obj)
        checked += 1
    assert checked > 1000
    del keep


def test_untracked_referents_are_nodes_and_optional():
    text = "a string only this list holds " + str(id(object()))
    holder = [text]
    graph = _core.build_graph()
    node = graph.find(text)
    assert node >= graph.n_tracked and not graph.is_tracked(node)
    assert graph.object(node) is text
    assert graph.find(holder) in graph.referrers(node)
    gc_only = _core.build_graph(untracked=False)
    assert gc_only.find(text) == -1
    extra = range(gc_only.n_tracked, gc_only.n_nodes)
    assert all(gc_only.kind(node) == "frame" for node in extra)  # executing frames only


def test_duplicate_references_are_kept_and_labelled():
    obj = object()
    holder = [obj, 1, obj]
    graph = _core.build_graph()
    node, holder_node = graph.find(obj), graph.find(holder)
    assert graph.referrers(node).count(holder_node) == 2
    assert graph.referents(holder_node).count(node) == 2
    # One label per reference, in slot order.
    assert graph.edge_labels(holder_node, node) == [("item", 0), ("item", 2)]


def test_each_reference_of_a_holder_gets_its_own_label():
    """An object held twice by one container is listed twice, with each slot:
    `(y, x, x)` gives [1] and [2], not [1] twice; a dict, each key."""

    class Thing:
        pass

    x, y = Thing(), Thing()
    held_by_tuple = (y, x, x)
    held_by_dict = {"a": x, "b": x}
    report = heaplens.refcount_report(x)
    tuple_labels = sorted(r.label for r in report.referrers if r.holder is held_by_tuple)
    dict_labels = sorted(r.label for r in report.referrers if r.holder is held_by_dict)
    assert tuple_labels == ["[1]", "[2]"], report.referrers
    assert dict_labels == ["['a']", "['b']"], report.referrers
    from_referrers = sorted(r.label for r in heaplens.referrers(x) if r.holder is held_by_tuple)
    assert from_referrers == ["[1]", "[2]"]
    del held_by_tuple, held_by_dict


def test_an_object_held_many_times_by_one_list_is_reported_in_linear_time():
    """One label per reference must not cost a pass over the list per
    reference: 200,000 references from one list took minutes (quadratic)."""
    import time

    class Thing:
        pass

    x = Thing()
    big = [x] * 200_000
    began = time.perf_counter()
    found = [r for r in heaplens.referrers(x) if r.holder is big]
    report = heaplens.refcount_report(x)
    took = time.perf_counter() - began
    assert [r.label for r in found[:3]] == ["[0]", "[1]", "[2]"]
    assert found[-1].label == "[199999]"
    assert sum(1 for r in report.referrers if r.holder is big) == 200_000
    assert took < 30, took  # about 1 s here
    del big


def test_edge_labels():
    class Slotted:
        __slots__ = ("value",)

    class Plain:
        pass

    target = object()
    slotted = Slotted()
    slotted.value = target
    plain = Plain()
    plain.attr = target
    with_dict = Plain()
    with_dict.__dict__["attr"] = target  # materialises the instance dict
    mapping = {"key": target, target: 1}
    tup = (1, target)

    def outer():
        def inner():
            return target

        return inner

    closure = outer()
    bound = Plain.__init__.__get__(plain)  # a method-wrapper, not a bound method
    del bound

    class Holder:
        def method(self):
            pass

    holder = Holder()
    method = holder.method
    graph = _core.build_graph()
    t = graph.find(target)

    def label(source):
        return labels.text_of(graph, graph.find(source), t)

    def text(source, target):
        return labels.text_of(graph, graph.find(source), graph.find(target))

    assert label(slotted) == ".value"
    assert label(plain) == ".attr"
    if graph.find(with_dict.__dict__) >= 0:
        # (3.13 keeps the values inline even then and visits them, not the dict.)
        assert text(with_dict, with_dict.__dict__) == ".__dict__"
        assert label(with_dict.__dict__) == "['attr']"
    else:
        assert label(with_dict) == ".attr"
    assert graph.edge_labels(graph.find(mapping), t) == [("value", "'key'"), ("key", None)]
    assert label(tup) == "[1]"
    cell = closure.__closure__[0]
    assert label(cell) == ".cell_contents"
    assert text(closure, closure.__closure__) == ".__closure__"
    assert text(method, holder) == ".__self__"
    assert text(plain, Plain) == ".__class__"


def test_dict_key_labels_survive_bad_and_long_reprs():
    class BadRepr:
        def __repr__(self):
            raise RuntimeError("no repr for you")

    target = object()
    bad = {BadRepr(): target}
    long_key = {"k" * 500: target}
    graph = _core.build_graph()
    t = graph.find(target)
    bad_label = labels.text_of(graph, graph.find(bad), t)
    # The key's own __repr__ is never called (describing runs no user code).
    assert bad_label.startswith("[<") and ".BadRepr object at 0x" in bad_label
    long_label = labels.text_of(graph, graph.find(long_key), t)
    assert long_label.startswith("['kkk") and long_label.endswith("...]")
    assert len(long_label) < 50


def test_executing_frames_are_roots_with_local_names():
    def holder_function():
        only_here = object()
        graph = _core.build_graph()
        node = graph.find(only_here)
        path = graph.path_back(node)
        assert graph.root_kind(path[0]) == "frame"
        thread_id, code, lineno = graph.frame(path[0])
        assert code is holder_function.__code__
        assert thread_id == threading.get_ident()
        assert lineno > 0
        assert graph.edge_labels(path[0], node) == [("local", "only_here")]
        assert labels.text_of(graph, path[0], node) == "local only_here"

    holder_function()


def test_frames_under_a_directory_can_be_skipped():
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    graph = _core.build_graph(skip_frames_under=here)
    for node in range(graph.n_tracked, graph.n_nodes):
        if graph.kind(node) == "frame":
            assert not graph.frame(node)[1].co_filename.startswith(here)


def test_ignored_objects_are_not_traversed_not_held_and_not_on_paths():
    target = object()
    middle = [target]
    graph = _core.build_graph(ignore=[middle])
    middle_node = graph.find(middle)
    assert graph.kind(middle_node) == "ignored"
    assert graph.referents(middle_node) == []
    with pytest.raises(LookupError):
        graph.object(middle_node)
    ref = weakref.ref(Box := type("Box", (), {}))  # noqa: F841 - a class can be weakly referenced
    box = Box()
    box_ref = weakref.ref(box)
    graph = _core.build_graph(ignore=[box])
    del box
    assert box_ref() is None  # the graph did not keep the ignored object alive


def test_graph_releases_everything_and_takes_part_in_gc():
    class Thing:
        pass

    thing = Thing()
    thing_ref = weakref.ref(thing)
    graph = _core.build_graph()
    # The local, the graph (object and local) and getrefcount's argument if counted.
    assert sys.getrefcount(thing) == 3 + GETREFCOUNT_ARGUMENT
    del graph
    assert sys.getrefcount(thing) == 1 + GETREFCOUNT_ARGUMENT
    # A graph stored in a container it holds is a cycle the collector frees.
    keeper = [thing]
    keeper.append(_core.build_graph())
    del keeper, thing
    gc.collect()
    assert thing_ref() is None


def test_cleared_graph_raises_instead_of_crashing():
    box = []
    box.append(_core.build_graph())
    graph = box[0]
    del box
    gc.collect()  # the graph survives: `graph` still refers to it
    assert graph.n_nodes > 0
    assert "RuntimeError" not in repr(graph)


def test_census_matches_a_python_count():
    objects = gc.get_objects()
    rows = _core.census_of(objects)
    counts, sizes = {}, {}
    # Only the types checked: sys.getsizeof of another object may run a
    # __sizeof__ written in Python (pandas' does), which can change the
    # objects counted (it fills caches).
    for obj in objects:
        if type(obj) in (dict, list, type, tuple):
            counts[type(obj)] = counts.get(type(obj), 0) + 1
            sizes[type(obj)] = sizes.get(type(obj), 0) + sys.getsizeof(obj)
    got = {tp: (count, size) for tp, count, size in rows}
    for tp in (dict, list, type, tuple):
        assert got[tp] == (counts[tp], sizes[tp])
    # (type, count) pairs in the order met: a dict would hash the types.
    assert _core.count_types([1, 2, "x", []]) == [(int, 2), (str, 1), (list, 1)]


def test_heaplens_census_counts_untracked_objects():
    keep = ["unique string %d" % i for i in range(5000)]
    deep = heaplens.census()
    shallow = heaplens.census(untracked=False)
    by_type = {row.type: row for row in deep}
    assert by_type[str].count >= 5000
    assert (
        str not in {row.type for row in shallow}
        or {row.type: row for row in shallow}[str].count < by_type[str].count
    )
    assert deep == sorted(deep, key=lambda r: (-r.size, -r.count))
    text = deep.format(5)
    assert text.splitlines()[0].split() == ["type", "count", "size", "share"]
    assert text.splitlines()[-1].startswith("total")
    assert max(len(line) for line in text.splitlines()) <= 100
    del keep


def test_mark_and_growth_since():
    class Grows:
        pass

    mark = heaplens.Mark()
    keep = [Grows() for _ in range(300)]
    grown = heaplens.growth_since(mark, limit=None)
    row = next(r for r in grown if r.type is Grows)
    assert row.count_delta == 300 and row.count == 300
    assert row.size_delta == 300 * sys.getsizeof(keep[0])
    assert grown[0].count_delta >= 300
    assert len(heaplens.growth_since(mark, limit=2)) == 2
    # Garbage in a cycle counts until collected, unless collect=True.
    mark = heaplens.Mark(collect=True)
    for _ in range(50):
        cyc = Grows()
        cyc.me = cyc
    del cyc
    after = {r.type: r for r in heaplens.growth_since(mark, limit=None, collect=True)}
    assert Grows not in after


# ---- why_alive: the four holders of the issue -------------------------------


def test_why_alive_module_level_list(leakapp):
    obj = leakapp.Leaked()
    leakapp._cache.append(obj)
    chain = heaplens.why_alive(obj)
    assert chain.found and chain.root_kind == "module"
    assert str(chain).startswith("module leakapp .__dict__['_cache'] -> list [0] -> Leaked object")


def test_a_live_graph_does_not_make_everything_look_held_from_c(leakapp):
    """A HeapGraph holds a reference to every object; a later walk counts it."""
    obj = leakapp.Leaked()
    leakapp._cache.append(obj)
    payload = [bytearray(1000) for _ in range(100)]
    leakapp._cache.append(payload)
    first = heaplens.HeapGraph()
    second = heaplens.HeapGraph()
    node = second.graph.find(obj)
    assert second.graph.root_kind(node) is None
    chain = second.why_alive(obj)
    assert chain.root_kind == "module", str(chain)
    assert heaplens.retained(payload) >= 100 * 1000
    # Frames' locals and types held by the first graph are counted too.
    assert second.graph.root_kind(second.graph.find(leakapp.Leaked)) is None
    del first, second, chain
    assert heaplens.retained(payload) >= 100 * 1000


def test_why_alive_dict_of_a_singleton(leakapp):
    obj = leakapp.Leaked()
    leakapp.manager.connections["db-1"] = obj
    text = str(heaplens.why_alive(obj))
    assert text.startswith("module leakapp .__dict__['manager'] -> Manager object at 0x")
    assert ".connections -> dict ['db-1'] -> Leaked object" in text


def test_why_alive_closure_cell(leakapp):
    obj = leakapp.Leaked()
    leakapp.handlers.append(leakapp.make_closure(obj))
    text = str(heaplens.why_alive(obj))
    assert text.startswith(
        "module leakapp .__dict__['handlers'] -> list [0] -> "
        "function make_closure.<locals>.handler .__closure__ -> tuple [0] -> "
        "cell .cell_contents -> Leaked object"
    ), text


def test_why_alive_bound_method_in_a_callback_list(leakapp):
    widget = leakapp.Widget()
    leakapp.callbacks.append(widget.on_event)
    text = str(heaplens.why_alive(widget))
    assert text.startswith(
        "module leakapp .__dict__['callbacks'] -> list [0] -> "
        "bound method Widget.on_event .__self__ -> Widget object"
    ), text


def test_why_alive_shows_allocation_sites_with_the_tracer(leakapp):
    heaplens.start(5)
    try:
        obj = leakapp.Leaked()
        holder = leakapp.Leaked()  # instances come from no free list: always traced
        holder.item = obj
        leakapp._cache.append(holder)
        text = str(heaplens.why_alive(obj))
    finally:
        heaplens.stop()
    lines = text.splitlines()
    assert lines[0] == "module leakapp .__dict__['_cache']", text
    assert lines[1].strip() == "-> list [0]"  # the list was allocated before tracing
    assert "allocated at" in lines[-1] and __file__ in lines[-1]
    assert ".item" in lines[-2] and __file__ in lines[-2]


def test_why_alive_prefers_holders_over_the_callers_frame_and_reports_frames_last():
    only_local = object()
    chain = heaplens.why_alive(only_local)
    assert chain.root_kind == "frame"
    assert "local only_local" in str(chain)


def test_why_alive_for_a_reference_leaked_from_c():
    class FromC:
        pass

    obj = FromC()
    obj_ref = weakref.ref(obj)
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))
    del obj
    leaked = obj_ref()
    assert leaked is not None
    address = id(leaked)
    del leaked  # now nothing in the heap refers to it: only the C reference
    graph = heaplens.HeapGraph()
    node = graph.graph.find(obj_ref())
    assert graph.graph.root_kind(node) == "external"
    chain = graph.why_alive(obj_ref())
    assert chain.root_kind == "external"
    assert str(chain).startswith("(held from outside the heap graph")
    del graph, chain
    leaked = obj_ref()
    report = heaplens.refcount_report(leaked)
    assert report.unexplained == 1, str(report)  # the local `leaked` is explained
    del leaked
    ctypes.pythonapi.Py_DecRef(ctypes.py_object(obj_ref()))
    assert obj_ref() is None and address


def test_why_alive_of_garbage_and_of_new_objects():
    class Node:
        pass

    graph = heaplens.HeapGraph()
    fresh = Node()
    chain = graph.why_alive(fresh)
    assert not chain.found and "not in the heap graph" in str(chain)
    gc.disable()
    try:
        a = Node()
        a.me = a
        a_ref = weakref.ref(a)
        del a
        graph = heaplens.HeapGraph()
        chain = graph.why_alive(a_ref())
        # Its one reference is its own: no root holds it, it is garbage.
        assert not chain.found
        assert "garbage" in str(chain)
        del graph, chain
    finally:
        gc.enable()
        gc.collect()
    assert a_ref() is None


def test_why_alive_deep_chain_needs_no_recursion(leakapp):
    head = leakapp.Leaked()
    node = head
    for _ in range(200000):
        nxt = leakapp.Leaked()
        node.next = nxt
        node = nxt
    leakapp._cache.append(head)
    tail = node
    del node, nxt
    graph = heaplens.HeapGraph()
    chain = graph.why_alive(tail)
    # The whole chain is found; its middle is left out of what is shown.
    shown = [step for step in chain.steps if not isinstance(step, OmittedSteps)]
    assert chain.found and len(shown) + chain.omitted > 200000
    assert len(chain.steps) < 100
    assert chain.steps[0].description == "module leakapp"
    assert chain.steps[-1].description == describe(tail)


# ---- referrers and refcount_report ------------------------------------------


def test_referrers_are_labelled():
    class Box:
        pass

    obj = object()
    box = Box()
    box.content = obj
    holders = {"named": obj}
    found = heaplens.referrers(obj)
    texts = sorted(str(r) for r in found)
    assert any("Box object at 0x" in t and t.endswith(".content") for t in texts)
    assert "dict ['named']" in texts
    assert any("local obj" in t for t in texts)
    assert any(r.holder is box for r in found)
    del holders


def test_refcount_report_explains_every_reference():
    class Thing:
        pass

    thing = Thing()
    holders = [thing, thing]
    report = heaplens.refcount_report(thing)
    assert report.refcount == sys.getrefcount(thing) - GETREFCOUNT_ARGUMENT == 3
    assert report.explained == 3 and report.unexplained == 0, str(report)
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(thing))
    try:
        report = heaplens.refcount_report(thing)
        assert report.unexplained == 1, str(report)
        assert "1 held from elsewhere" in str(report)
    finally:
        ctypes.pythonapi.Py_DecRef(ctypes.py_object(thing))
    del holders


@pytest.mark.skipif(sys.version_info < (3, 12), reason="immortal objects are 3.12+")
def test_refcount_report_of_an_immortal_object():
    report = heaplens.refcount_report(None)
    assert report.immortal and report.unexplained == 0
    assert "immortal" in str(report)


# ---- robustness -------------------------------------------------------------


def test_build_while_other_threads_allocate_and_free():
    stop = threading.Event()

    def churn():
        while not stop.is_set():
            junk = [{"k": [i]} for i in range(200)]
            del junk

    threads = [threading.Thread(target=churn) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(15):
            graph = _core.build_graph()
            census = graph.census()
            assert census
            for node in range(0, graph.n_nodes, 997):
                if graph.kind(node) == "object":
                    try:
                        graph.object(node)
                    except LookupError:
                        pass
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def test_bad_arguments():
    graph = _core.build_graph()
    with pytest.raises(IndexError):
        graph.object(graph.n_nodes)
    with pytest.raises(IndexError):
        graph.referrers(-1)
    with pytest.raises(TypeError):
        _core.build_graph(skip_frames_under=3)
    with pytest.raises(TypeError):
        _core.build_graph(bogus=1)
    with pytest.raises(TypeError):
        _core.build_graph(ignore=5)
    with pytest.raises(TypeError):
        _core.census_of("not a list")
    assert graph.find(object()) == -1


def test_script_globals_are_not_mistaken_for_c_references(tmp_path):
    # A script's module frame holds its globals dict as its locals: the walk
    # must count that reference, or the dict looks held from C and the chain
    # stops there instead of at the module.
    script = tmp_path / "script.py"
    script.write_text(
        "import heaplens\n"
        "class Item:\n"
        "    pass\n"
        "data = [Item() for _ in range(3)]\n"
        "print(heaplens.why_alive(data[1]))\n"
    )
    import subprocess

    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith("module __main__ .__dict__['data'] -> list [1] -> Item object"), out


def test_frames_of_other_threads_are_roots():
    class OnlyInThread:
        pass

    started, release = threading.Event(), threading.Event()
    box = []

    def worker():
        mine = OnlyInThread()
        box.append(weakref.ref(mine))
        started.set()
        release.wait()
        del mine

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        started.wait()
        chain = heaplens.why_alive(box[0]())
        assert chain.root_kind == "frame"
        text = str(chain)
        assert text.startswith("frame test_frames_of_other_threads_are_roots.<locals>.worker()")
        assert f"in thread {thread.ident:#x} local mine -> " in text, text
        assert "OnlyInThread object at 0x" in text
    finally:
        release.set()
        thread.join()


class _WithInlineValues:
    def __init__(self):
        self.a = 1
        self.b = [1]


def test_an_instance_dict_read_beside_inline_values_hangs_from_its_instance():
    # On 3.13 reading __dict__ keeps the inline values and adds a dict that
    # tp_traverse does not visit: it must not look held from outside.
    holder = [_WithInlineValues()]
    vars(holder[0])
    chain = heaplens.why_alive(holder[0].__dict__)
    assert chain.root_kind == "frame", str(chain)  # the local `holder`, not "external"
    assert "_WithInlineValues object at" in str(chain) and ".__dict__" in str(chain)

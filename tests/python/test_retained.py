"""Retained sizes from the dominator tree, against a brute-force count."""

import gc
import random
import sys
import types

import heaplens
from heaplens._graph import retained as _retained
from heaplens._graph.retained import RetainerReport


class Obj:
    def __init__(self):
        self.refs = []


def _reachable_size(holder, removed):
    """Bytes of the objects (and their refs lists) the holder's objects reach,
    holder[removed] taken out when removed is not None."""
    skip = holder[removed] if removed is not None else None
    sizes, stack = {}, [obj for obj in holder if obj is not skip]
    while stack:
        obj = stack.pop()
        if id(obj) in sizes:
            continue
        sizes[id(obj)] = sys.getsizeof(obj) + sys.getsizeof(obj.refs)
        stack.extend(x for x in obj.refs if x is not skip)
    return sum(sizes.values())


def _brute_force_retained(holder, index):
    """Size freed if holder[index] went away: remove it, count what is left."""
    return _reachable_size(holder, None) - _reachable_size(holder, index)


def _random_heap(rng, make):
    """2 to 25 objects from make() with random references among them (their
    .refs lists); returns the holder list, which keeps a random subset: the
    rest live only through references."""
    n = rng.randint(2, 25)
    everything = [make() for _ in range(n)]
    for _ in range(rng.randint(0, 3 * n)):
        a, b = rng.randrange(n), rng.randrange(n)
        everything[a].refs.append(everything[b])
    return [everything[i] for i in range(n) if i == 0 or rng.random() < 0.3]


def test_retained_matches_brute_force_on_random_heaps():
    rng = random.Random(7)
    for trial in range(25):
        holder = _random_heap(rng, lambda: Obj())
        heap = heaplens.HeapGraph()
        for index in range(len(holder)):
            node = heap.graph.find(holder[index])
            assert heap.graph.retained(node) == _brute_force_retained(holder, index), (
                trial,
                index,
            )
        del heap, holder


def test_shared_child_is_retained_by_neither_parent():
    shared = Obj()
    a, b = Obj(), Obj()
    a.refs.append(shared)
    b.refs.append(shared)
    holder = [a, b]
    heap = heaplens.HeapGraph()
    graph = heap.graph
    own = sys.getsizeof(a) + sys.getsizeof(a.refs)
    assert graph.retained(graph.find(a)) == own
    assert graph.retained(graph.find(b)) == own
    # a, b and the shared child, each with its refs list
    expected = 2 * own + sys.getsizeof(shared) + sys.getsizeof(shared.refs)
    del a, b, shared, heap, graph  # now only the holder keeps them
    assert heaplens.retained(holder) == sys.getsizeof(holder) + expected
    del holder


def test_top_retainers_names_the_big_holder():
    big = {"rows": [bytearray(10_000) for _ in range(200)]}
    report = heaplens.top_retainers(10)
    assert report == sorted(report, key=lambda row: -row.retained)
    ours = [row for row in report if "local big" in str(row.chain)]
    assert len(ours) == 1, report.format()
    assert ours[0].type is dict and ours[0].retained >= 200 * 10_000
    assert "retained by dict" in report.format()
    # The list inside it retains nearly as much, but is counted in the dict's row.
    assert not any("['rows']" in str(row.chain) for row in report), report.format()
    del big


class Registry:
    entries = [bytearray(10_000) for _ in range(50)]  # a class attribute


def test_a_class_namespace_is_backbone_and_what_it_holds_is_listed():
    heap = heaplens.HeapGraph()
    graph = heap.graph
    assert graph.is_backbone(graph.find(Registry))
    assert graph.is_backbone(graph.find(Registry.__dict__["entries"])) is False
    dicts = [node for node in graph.referents(graph.find(Registry)) if graph.type(node) is dict]
    assert dicts and all(graph.is_backbone(node) for node in dicts)  # the namespace
    report = _retained.top_retainers(10, heap=heap)
    rows = [row for row in report if "Registry" in str(row.chain)]
    assert [row.type for row in rows] == [list], report.format()
    assert rows[0].retained >= 50 * 10_000
    assert not any(row.type is Registry.__class__ for row in report)
    del heap, graph, report, rows


def test_the_table_of_interned_strings_is_backbone_not_a_retainer():
    # From 3.14 every dict is tracked, the interpreter's table of interned
    # strings among them: thousands of strings hang from a dict held from
    # outside the graph, which keeps no reference count on them.
    word = sys.intern("heaplens-test-" + str(random.random()))
    heap = heaplens.HeapGraph()
    graph = heap.graph
    tables = [
        node
        for node in graph.referrers(graph.find(word))
        if graph.type(node) is dict and graph.object(node).get(word) is word
    ]
    if gc.is_tracked({"a": "b"}):  # a dict of strings is tracked: so is the table
        assert tables, "the interned table is missing from the graph"
    assert all(graph.is_backbone(node) for node in tables)
    report = _retained.top_retainers(20, heap=heap)
    for node in tables:
        size = graph.size(node)
        assert not any(row.type is dict and row.size == size for row in report), report.format()
    del heap, graph, report, tables


def test_an_object_held_by_nothing_but_the_question_retains_nothing():
    value = heaplens.retained(Obj())  # (outside `assert`: pytest would keep it in a local)
    assert value == 0


# ---- what the instances of a type retain together ---------------------------


class Payload:
    def __init__(self):
        self.blob = bytes(10_000)


_held = []  # a module global: the list is held by the module's dict


def test_types_section_names_the_class_whose_instances_retain():
    _held.extend(Payload() for _ in range(1000))
    try:
        report = heaplens.top_retainers(10)
        assert report.types == sorted(report.types, key=lambda row: -row.retained)
        assert 0 < len(report.types) <= 10
        ours = [row for row in report.types if row.type is Payload]
        assert len(ours) == 1, report.format()
        assert ours[0].instances == 1000 and ours[0].top_instances == 1000
        assert ours[0].retained >= 1000 * 10_000
        text = report.format()
        assert "types that retain the most:" in text
        assert text.index("types that retain the most:") > text.index("why:")
        assert f"retained by {Payload.__module__}.Payload (1000 instances)" in text, text
    finally:
        _held.clear()


def test_a_type_retains_what_its_top_instances_retain():
    """No instance is inside another: the type's figure is the sum of theirs."""
    _held.extend(Payload() for _ in range(50))
    try:
        heap = heaplens.HeapGraph()
        graph = heap.graph
        rows = {row[0]: row[1:] for row in graph.retained_by_type()}
        each = sum(graph.retained(graph.find(p)) for p in _held)
        # (A graph left alive holds every object: later walks would see them
        # all held from outside. Drop it before anything can fail.)
        del heap, graph
    finally:
        _held.clear()
    assert rows[Payload] == (50, 50, each)
    # Classes are not instances of `type` (or of their metaclass), nor
    # modules of a module type: they are the program's backbone.
    assert not any(issubclass(tp, (type, types.ModuleType)) for tp in rows)


def _dict_retained():
    heap = heaplens.HeapGraph()
    return next(row[3] for row in heap.graph.retained_by_type() if row[0] is dict)


def test_a_module_global_is_not_retained_by_a_dict():
    """The module's dict is backbone, not a dict instance; a plain dict is one."""
    payload_bytes = 200 * 10_000
    before = _dict_retained()
    _held.extend(Payload() for _ in range(200))
    try:
        in_module_global = _dict_retained()
        _held[:] = [{i: Payload() for i in range(200)}]
        in_plain_dict = _dict_retained()
    finally:
        _held.clear()
    assert in_module_global - before < payload_bytes / 2
    assert in_plain_dict - before >= payload_bytes


def test_an_empty_report_has_no_types_section():
    report = RetainerReport()
    assert report.types == []
    assert "types that retain" not in report.format()


class Node:
    def __init__(self):
        self.refs = []


class Leaf(Node):
    pass


def _reach(holder, removed=frozenset()):
    """id -> object for the objects the holder's objects reach, those whose id
    is in `removed` taken out."""
    reached, stack = {}, [obj for obj in holder if id(obj) not in removed]
    while stack:
        obj = stack.pop()
        if id(obj) not in reached:
            reached[id(obj)] = obj
            stack.extend(x for x in obj.refs if id(x) not in removed)
    return reached


def _brute_force_by_type(holder, cls):
    """(instances, top_instances, retained) of cls by removal: an instance
    dominates what goes unreachable without it; the type retains what some
    instance dominates (each object with its refs list); a top instance is
    dominated by no other instance."""
    everything = _reach(holder)
    instances = [key for key, obj in everything.items() if type(obj) is cls]
    lost = {key: everything.keys() - _reach(holder, {key}).keys() for key in instances}
    covered = set().union(*lost.values())
    top = [
        key for key in instances if not any(key in lost[other] for other in lost if other != key)
    ]
    size = sum(
        sys.getsizeof(everything[key]) + sys.getsizeof(everything[key].refs) for key in covered
    )
    return len(instances), len(top), size


def test_retained_by_type_matches_brute_force_on_random_heaps():
    """Two classes, one a subclass of the other (an instance is of its own
    type only), in random graphs of references."""
    rng = random.Random(11)
    for trial in range(20):
        gc.collect()  # the cycles of earlier trials
        holder = _random_heap(rng, lambda: rng.choice((Node, Leaf))())
        heap = heaplens.HeapGraph()
        rows = {row[0]: tuple(row[1:]) for row in heap.graph.retained_by_type()}
        del heap
        for cls in (Node, Leaf):
            expected = _brute_force_by_type(holder, cls)
            assert rows.get(cls, (0, 0, 0)) == expected, (trial, cls)
        del holder

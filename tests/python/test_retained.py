"""Retained sizes from the dominator tree, against a brute-force count."""

import random
import sys

import heaplens


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


def test_retained_matches_brute_force_on_random_heaps():
    rng = random.Random(7)
    for trial in range(25):
        n = rng.randint(2, 25)
        everything = [Obj() for _ in range(n)]
        for _ in range(rng.randint(0, 3 * n)):
            a, b = rng.randrange(n), rng.randrange(n)
            everything[a].refs.append(everything[b])
        # The holder keeps a random subset: the rest live only through references.
        holder = [everything[i] for i in range(n) if i == 0 or rng.random() < 0.3]
        del everything
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


def test_an_object_held_by_nothing_but_the_question_retains_nothing():
    value = heaplens.retained(Obj())  # (outside `assert`: pytest would keep it in a local)
    assert value == 0

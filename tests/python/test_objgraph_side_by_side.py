"""heaplens.objgraph side by side with objgraph 3.6.2 on the same heap.

Each test asks both modules the same question and compares the answers: the
same counts, lists, printed text and .dot text (edge labels aside: heaplens
names more edges than objgraph does, and those are checked on their own).

Two calls cannot see exactly the same heap: each call, and the test between
them, creates a few objects. Tests therefore either hand both modules the same
`objects` list, restrict them with a filter to objects this file owns, make
the objects this file creates dominate the answer (hundreds of instances
where noise is a handful), or call objgraph on both sides of the heaplens call
and compare only when the two objgraph answers agree.
"""

import gc
import io
import os
import re
import shutil
import stat
import sys
import time
import types

import pytest
from conftest import GETREFCOUNT_ARGUMENT

objgraph = pytest.importorskip("objgraph")

import heaplens  # noqa: E402
import heaplens.objgraph as hog  # noqa: E402
from heaplens._graph import dot as _dot  # noqa: E402

HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="graphviz (dot) is not installed")


class Alpha:
    pass


class Beta:
    pass


class Gamma:
    pass


class Holder:
    def __init__(self, **attrs):
        # A dict of its own from the start, on every version. Attributes kept
        # inline would differ: objgraph reads __dict__ while it labels edges,
        # which makes the dict, after (3.11, 3.12) or beside (3.13+, where
        # gc.get_referents then still shows the values) what it listed; and
        # self.__dict__.update() makes a dict beside values whose validity
        # depends on what earlier tests did to the class's shared keys.
        self.__dict__ = dict(attrs)


class WithDel:
    def __del__(self):
        pass


# A twin of Alpha's short name in another module: shortnames=True lumps them.
OtherAlpha = type("Alpha", (), {"__module__": "elsewhere.models"})

OWN_TYPES = (Alpha, Beta, Gamma, Holder, WithDel, OtherAlpha)

# Held by this module, so reachable from a proper module.
REGISTRY = {"entries": [Alpha(), Alpha()]}
UNTRACKED_NAME = "heaplens-objgraph-side-by-side-" + str(os.getpid())


def _own(obj):
    return type(obj) in OWN_TYPES


def _own_or_plain(obj):
    return _own(obj) or type(obj) in (dict, list, tuple, str, int)


NODE_LINE = re.compile(r"^  o\d+\[label=", re.M)


def _n_nodes(text):
    return len(NODE_LINE.findall(text))


@pytest.fixture(autouse=True)
def quiet_heap():
    gc.collect()
    yield
    gc.collect()


def _agreeing(reference, ours, attempts=6):
    """(objgraph's answer, heaplens's answer) taken on a heap that did not
    change around the heaplens call: objgraph answers the same before and after.
    The collector is off meanwhile: a collection that the answers' own
    allocations start would untrack tuples and dicts between the calls."""
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(attempts):
            before = reference()
            mine = ours()
            after = reference()
            if before == after:
                return before, mine
        return after, mine
    finally:
        if enabled:
            gc.enable()


def _output(function, *args, **kwargs):
    out = io.StringIO()
    function(*args, file=out, **kwargs)
    return out.getvalue()


# ---- names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "obj",
    [
        1,
        "s",
        [],
        Alpha(),
        OtherAlpha(),
        Alpha,
        gc,
        len,
        [].append,
        Holder().__init__,
        lambda: 0,
        sys._getframe(),
        types.SimpleNamespace(),
    ],
)
def test_type_names_and_labels(obj):
    assert _dot.short_typename(obj) == objgraph._short_typename(obj)
    assert _dot.long_typename(obj) == objgraph._long_typename(obj)
    if type(obj) is types.SimpleNamespace:
        # A repr that shows the values calls their reprs: heaplens does not
        # (docs/heap-graph.md, "Describing runs no code").
        assert _dot.safe_repr(obj).startswith("<types.SimpleNamespace object at 0x")
        return
    assert _dot.safe_repr(obj) == objgraph._safe_repr(obj)
    for shortnames in (True, False):
        assert _dot.node_label(obj, repr, None, shortnames) == objgraph._obj_label(
            obj, repr, False, shortnames
        )


def test_quote_and_unrepresentable():
    text = 'a\\b"c\nd\0e'
    assert _dot.quote(text) == objgraph._quote(text)

    class Broken:
        def __repr__(self):
            raise RuntimeError("no repr")

    # objgraph calls the broken __repr__; heaplens never runs it.
    assert objgraph._safe_repr(Broken()) == "(unrepresentable)"
    assert _dot.safe_repr(Broken()).startswith("<test_objgraph_side_by_side.test_quote_a")


# ---- counting ----------------------------------------------------------------------------


def _sample_objects():
    return [Alpha(), Beta(), Beta(), Alpha(), OtherAlpha(), Gamma(), {}, [], Beta(), (1, [])]


@pytest.mark.parametrize("shortnames", [True, False])
def test_typestats_given_objects(shortnames):
    objects = _sample_objects()
    expected = objgraph.typestats(objects, shortnames=shortnames)
    got = hog.typestats(objects, shortnames=shortnames)
    assert got == expected
    assert list(got) == list(expected)  # first-seen order: it decides ties below
    if shortnames:  # the two classes named Alpha add up
        assert got["Alpha"] == 3
    else:
        assert got[f"{__name__}.Alpha"] == 2 and got["elsewhere.models.Alpha"] == 1


def test_typestats_filter():
    objects = _sample_objects()
    for shortnames in (True, False):
        expected = objgraph.typestats(objects, shortnames=shortnames, filter=_own)
        assert hog.typestats(objects, shortnames=shortnames, filter=_own) == expected
    before = objgraph.typestats(filter=_own).get("Gamma", 0)
    keep = [Gamma() for _ in range(37)]  # noqa: F841 (counted below)
    expected, got = _agreeing(
        lambda: objgraph.typestats(filter=_own), lambda: hog.typestats(filter=_own)
    )
    assert got == expected and expected["Gamma"] == before + 37


@pytest.mark.parametrize("shortnames", [True, False])
def test_typestats_whole_heap(shortnames):
    name = "Beta" if shortnames else f"{__name__}.Beta"
    before = objgraph.typestats(shortnames=shortnames).get(name, 0)
    keep = [Beta() for _ in range(123)]  # noqa: F841
    expected, got = _agreeing(
        lambda: objgraph.typestats(shortnames=shortnames),
        lambda: hog.typestats(shortnames=shortnames),
    )
    if not shortnames:
        # A type whose own dict holds a descriptor, not a str, as __module__
        # (Cython's metatype, with pandas): objgraph names it by the
        # descriptor's repr; heaplens, which runs no descriptor, by tp_name.
        for odd in [key for key in expected if key.startswith("<")]:
            count = expected.pop(odd)
            qualified = re.search(r" of '([^']+)' objects>", odd)
            assert qualified, odd
            expected[qualified.group(1)] = expected.get(qualified.group(1), 0) + count
    assert got == expected
    assert expected[name] == before + 123


def test_count():
    objects = _sample_objects()
    before = hog.count(f"{__name__}.Alpha"), hog.count("elsewhere.models.Alpha")
    keep = [Alpha() for _ in range(11)] + [OtherAlpha() for _ in range(5)]
    for name in ("Alpha", f"{__name__}.Alpha", "elsewhere.models.Alpha", "list", "NoSuchType"):
        assert hog.count(name, objects) == objgraph.count(name, objects), name
        expected, got = _agreeing(lambda: objgraph.count(name), lambda: hog.count(name))
        assert got == expected, name
    assert hog.count(f"{__name__}.Alpha") == before[0] + 11
    assert hog.count("elsewhere.models.Alpha") == before[1] + 5
    del keep


def test_most_common_types():
    objects = _sample_objects()
    for limit in (None, 0, 2, 3):
        for shortnames in (True, False):
            expected = objgraph.most_common_types(limit, objects, shortnames)
            assert hog.most_common_types(limit, objects, shortnames) == expected
    assert hog.most_common_types(2, objects)[0] == ("Alpha", 3)  # Alpha ties Beta, seen first
    expected, got = _agreeing(
        lambda: objgraph.most_common_types(limit=None), lambda: hog.most_common_types(limit=None)
    )
    assert got == expected
    expected = objgraph.most_common_types(filter=_own, objects=objects)
    assert hog.most_common_types(filter=_own, objects=objects) == expected


def test_show_most_common_types_text():
    objects = _sample_objects()
    for kwargs in ({}, {"limit": 2}, {"shortnames": False}, {"filter": _own}):
        expected = _output(objgraph.show_most_common_types, objects=objects, **kwargs)
        assert _output(hog.show_most_common_types, objects=objects, **kwargs) == expected
    expected, got = _agreeing(
        lambda: _output(objgraph.show_most_common_types, limit=5),
        lambda: _output(hog.show_most_common_types, limit=5),
    )
    assert got == expected and len(got.splitlines()) == 5


def test_show_most_common_types_default_file(capsys):
    objects = _sample_objects()
    objgraph.show_most_common_types(objects=objects)
    expected = capsys.readouterr().out
    hog.show_most_common_types(objects=objects)
    assert capsys.readouterr().out == expected != ""


def test_show_most_common_types_of_nothing():
    with pytest.raises(ValueError):
        objgraph.show_most_common_types(objects=[])
    with pytest.raises(ValueError):
        hog.show_most_common_types(objects=[])


# ---- growth ------------------------------------------------------------------------------


def test_growth_state_between_calls():
    ours, theirs = {}, {}
    objgraph.growth(limit=None, peak_stats=theirs)
    hog.growth(limit=None, peak_stats=ours)
    assert ours.keys() >= {"function", "dict", "type"}
    keep = [Alpha() for _ in range(400)] + [Beta() for _ in range(400)]
    keep += [Gamma() for _ in range(300)]
    expected = objgraph.growth(limit=3, peak_stats=theirs)
    got = hog.growth(limit=3, peak_stats=ours)
    # Alpha ties Beta at +400 and keeps the collector's order, whichever comes first.
    assert got == expected
    assert sorted((name, delta) for name, _, delta in got) == [
        ("Alpha", 400),
        ("Beta", 400),
        ("Gamma", 300),
    ]
    peak = ours["Alpha"]
    assert theirs["Alpha"] == peak == got[[row[0] for row in got].index("Alpha")][1]
    # Peaks only rise: freeing and re-creating fewer shows no growth.
    del keep
    keep = [Alpha() for _ in range(100)]
    assert [row for row in hog.growth(None, ours) if row[0] == "Alpha"] == []
    assert ours["Alpha"] == peak
    del keep


def test_growth_filter_and_limits():
    ours, theirs = {}, {}
    keep = [Alpha() for _ in range(5)] + [Beta() for _ in range(5)] + [Gamma()]
    for limit in (None, 0, 1, 2):
        ours.clear(), theirs.clear()
        expected = objgraph.growth(limit, theirs, True, _own)
        assert hog.growth(limit, ours, True, _own) == expected
        assert ours == theirs
    ours.clear(), theirs.clear()
    expected = objgraph.growth(None, theirs, False, _own)
    assert hog.growth(None, ours, False, _own) == expected
    assert (f"{__name__}.Gamma", 1, 1) in expected
    del keep


def test_growth_default_state_is_its_own():
    hog.growth()
    keep = [Gamma() for _ in range(250)]
    rows = hog.growth(limit=1)
    assert [(name, delta) for name, _, delta in rows] == [("Gamma", 250)]
    assert [r for r in hog.growth(limit=None) if r[0] == "Gamma"] == []
    # The peaks are kept in growth's default argument, not in objgraph's.
    ours, theirs = hog.growth.__defaults__[1], objgraph.growth.__defaults__[1]
    assert ours is not theirs and ours["Gamma"] == rows[0][1]
    del keep


def test_show_growth_text():
    ours, theirs = {}, {}
    objgraph.show_growth(peak_stats=theirs, file=io.StringIO())
    hog.show_growth(peak_stats=ours, file=io.StringIO())
    keep = [Alpha() for _ in range(500)] + [Beta() for _ in range(500)]
    keep += [Holder() for _ in range(300)]
    # Four lines: each Holder's __dict__ is a tracked dict from 3.14 on
    # (gh-127010), which objgraph counts too, as dict +301 beside Holder +300.
    expected = _output(objgraph.show_growth, limit=4, peak_stats=theirs)
    got = _output(hog.show_growth, limit=4, peak_stats=ours)
    assert got == expected
    lines = got.splitlines()
    assert [line.split()[0] for line in lines[:2]] == ["Alpha", "Beta"]
    assert any(re.fullmatch(r"Holder +\d+ +\+300", line) for line in lines[2:])
    # Nothing grew: nothing printed.
    assert _output(hog.show_growth, peak_stats=ours, filter=_own) == ""
    # shortnames=False and a filter.
    ours.clear(), theirs.clear()
    expected = _output(objgraph.show_growth, peak_stats=theirs, shortnames=False, filter=_own)
    got = _output(hog.show_growth, peak_stats=ours, shortnames=False, filter=_own)
    assert got == expected and f"{__name__}.Holder" in got
    del keep


def test_show_growth_default_state(capsys):
    hog.show_growth(limit=1)
    capsys.readouterr()
    keep = [WithDel() for _ in range(700)]
    hog.show_growth(limit=1)
    assert re.fullmatch(r"WithDel +\d+ +\+700\n", capsys.readouterr().out)
    del keep


# ---- get_new_ids -------------------------------------------------------------------------


def _prime(ours, theirs, **kwargs):
    # Twice each, in turn: a state's first call creates three sets per type
    # name, which every later call counts; from then on the sets stay.
    for _ in range(2):
        objgraph.get_new_ids(limit=0, _state=theirs, **kwargs)
        hog.get_new_ids(limit=0, _state=ours, **kwargs)


def test_get_new_ids_side_by_side():
    ours, theirs = {}, {}
    _prime(ours, theirs)
    alphas = [Alpha() for _ in range(60)]
    betas = [Beta() for _ in range(40)]
    out_theirs, out_ours = io.StringIO(), io.StringIO()
    new_theirs = objgraph.get_new_ids(limit=2, file=out_theirs, _state=theirs)
    new_ours = hog.get_new_ids(limit=2, file=out_ours, _state=ours)
    assert out_ours.getvalue() == out_theirs.getvalue()
    lines = out_ours.getvalue().splitlines()
    assert lines[1].split() == ["Type", "Old_ids", "Current_ids", "New_ids", "Count_Deltas"]
    name, old, current, new, delta = lines[3].split()
    assert (name, new, delta) == ("Alpha", "+60", "+60") and int(current) - int(old) == 60
    assert new_ours["Alpha"] == new_theirs["Alpha"] == set(map(id, alphas))
    assert new_ours["Beta"] == set(map(id, betas))
    assert type(new_ours) is type(new_theirs)

    gammas = []
    for sortby in ("new", "deltas"):
        gammas += [Gamma() for _ in range(80)]
        expected = io.StringIO()
        objgraph.get_new_ids(limit=1, sortby=sortby, file=expected, _state=theirs)
        got = io.StringIO()
        hog.get_new_ids(limit=1, sortby=sortby, file=got, _state=ours)
        assert got.getvalue() == expected.getvalue()
        assert "Gamma" in got.getvalue()

    # skip_update returns the last answer, unchanged and without printing.
    last = {name: set(ids) for name, ids in new_ours.items()}
    again = hog.get_new_ids(skip_update=True, _state=ours)
    assert again is new_ours and again == last


def test_get_new_ids_ties_sort_by_name():
    ours, theirs = {}, {}
    _prime(ours, theirs)
    for state in (ours, theirs):  # names in alphabetical order: ties must not keep it
        current = state["current"]
        for name in sorted(current):
            current[name] = current.pop(name)
    keep = [Alpha() for _ in range(30)] + [Beta() for _ in range(30)]
    expected = _output_kw(objgraph.get_new_ids, limit=2, _state=theirs)
    got = _output_kw(hog.get_new_ids, limit=2, _state=ours)
    assert got == expected
    assert [line.split()[0] for line in got.splitlines()[3:5]] == ["Beta", "Alpha"]
    del keep


def test_get_new_ids_shortnames_is_remembered():
    ours, theirs = {}, {}
    _prime(ours, theirs, shortnames=False)
    keep = [OtherAlpha() for _ in range(70)]
    expected = _output_kw(objgraph.get_new_ids, limit=1, _state=theirs)
    got = _output_kw(hog.get_new_ids, limit=1, _state=ours)
    assert got == expected
    assert "elsewhere.models.Alpha" in got
    assert ours["shortnames"] is False
    assert (
        set(map(id, keep))
        == hog.get_new_ids(skip_update=True, _state=ours)["elsewhere.models.Alpha"]
    )
    del keep


def _output_kw(function, **kwargs):
    out = io.StringIO()
    function(file=out, **kwargs)
    return out.getvalue()


def test_get_new_ids_types_that_disappear():
    state = {}
    hog.get_new_ids(limit=0, _state=state)
    keep = [Gamma() for _ in range(3)]
    hog.get_new_ids(limit=0, _state=state)
    del keep
    hog.get_new_ids(limit=0, _state=state)  # Gamma: 3 old, 0 current
    assert "Gamma" in state["current"] and state["old"]["Gamma"]
    hog.get_new_ids(limit=0, _state=state)  # 0 and 0: forgotten
    assert "Gamma" not in state["current"] and "Gamma" not in state["new"]


def test_get_new_ids_default_state(capsys):
    hog.get_new_ids(limit=0)
    hog.get_new_ids(limit=0)
    keep = [Holder() for _ in range(90)]
    # Two rows: from 3.14 on each Holder's __dict__ is a tracked dict too
    # (gh-127010), and dict +90 may come first.
    new_ids = hog.get_new_ids(limit=2)
    out = capsys.readouterr().out
    assert new_ids["Holder"] == set(map(id, keep))
    rows = [line.split() for line in out.splitlines()[3:5]]
    [(name, old, current, new, delta)] = [row for row in rows if row[0] == "Holder"]
    assert (name, new, delta) == ("Holder", "+90", "+90") and int(current) - int(old) == 90
    assert hog.get_new_ids(skip_update=True) is new_ids
    del keep


# ---- finding objects ---------------------------------------------------------------------


def test_get_leaking_objects_given_objects():
    a, b, c = Alpha(), Beta(), Gamma()
    a.b = b
    objects = [a, b, c, [c], {"k": a}]
    expected = objgraph.get_leaking_objects(objects)
    got = hog.get_leaking_objects(objects)
    assert got == expected and [id(o) for o in got] == [id(o) for o in expected]
    assert b not in got and any(o is objects[3] for o in got)


def _held_by_see_through_arrays(ids):
    """The ids among `ids` of objects that heaplens's heap graph shows held
    by an ndarray or a subclass (numpy.ma's masked constant holds its base):
    gc.get_referents does not see into them."""
    if not ids:
        return set()
    leaking = [obj for obj in objgraph.get_leaking_objects() if id(obj) in ids]
    heap = heaplens.HeapGraph()  # after: it refers to the objects it walked
    found = set()
    for obj in leaking:
        if any(
            any(cls.__name__ == "ndarray" for cls in type(r.holder).__mro__)
            for r in heap.referrers(obj)
        ):
            found.add(id(obj))
    return found


def _dicts_beside_inline_values(ids):
    """The ids among `ids` of dicts that an instance refers to as its __dict__
    where gc.get_referents(instance) does not list them (3.13 only)."""
    if sys.version_info < (3, 13) or not ids:
        return set()
    dicts = [obj for obj in gc.get_objects() if id(obj) in ids and type(obj) is dict]
    heap = heaplens.HeapGraph()
    found = set()
    for d in dicts:
        for referrer in heap.referrers(d):
            holder = referrer.holder
            if referrer.label == ".__dict__" and all(r is not d for r in gc.get_referents(holder)):
                found.add(id(d))
    return found


def test_get_leaking_objects_whole_heap():
    # Held only by this frame's locals, which the collector does not see: "leaking".
    local_only = [Holder(tag="leak-%d" % i) for i in range(3)]
    held = REGISTRY["entries"][0]

    def leaking_ids(module):
        return set(map(id, module.get_leaking_objects()))

    leaking_ids(hog), leaking_ids(objgraph)  # warm both up: imports, caches
    repr([[]])  # the thread state's dict that repr() makes on first use: held by no object
    theirs = leaking_ids(objgraph)
    ours_list = hog.get_leaking_objects()
    ours = set(map(id, ours_list))
    extra = []
    for obj in ours_list:
        if id(obj) not in theirs:
            extra.append(repr(obj))
    del ours_list, obj
    again = leaking_ids(objgraph)
    # `theirs` itself is a new set nothing refers to, leaking to the later calls.
    # objgraph finds one object of its own: an empty cell its function makes for
    # a comprehension (in 3.11). Nothing else may differ.
    assert ours - theirs <= {id(theirs)}, extra
    own_cell = 1 if sys.version_info < (3, 12) else 0
    # On 3.13 an instance whose __dict__ was read keeps its inline values too,
    # and tp_traverse then skips the dict: objgraph lists such dicts, heaplens
    # sees that their instance holds them. Nothing else may differ.
    held_by_instance = _dicts_beside_inline_values(theirs - ours)
    # An object only a NumPy object array holds (pandas keeps some) has no
    # referrer the collector sees; heaplens sees through the array.
    held_by_instance |= _held_by_see_through_arrays((theirs | again) - ours)
    assert len(theirs - ours - held_by_instance) <= own_cell
    assert len(again - ours - held_by_instance - {id(ours), id(extra)}) <= own_cell
    assert id(local_only) in ours and id(held) not in ours
    assert not any(id(h) in ours for h in local_only)  # the list refers to them


def test_by_type():
    keep = [Alpha() for _ in range(3)] + [OtherAlpha() for _ in range(2)]
    objects = _sample_objects() + keep
    for name in ("Alpha", f"{__name__}.Alpha", "elsewhere.models.Alpha", "Nothing"):
        assert list(map(id, hog.by_type(name, objects))) == list(
            map(id, objgraph.by_type(name, objects))
        )
        expected, got = _agreeing(
            lambda: list(map(id, objgraph.by_type(name))), lambda: list(map(id, hog.by_type(name)))
        )
        assert got == expected
    assert hog.by_type(f"{__name__}.Beta", iter(objects)) == objgraph.by_type("Beta", objects)
    assert set(map(id, hog.by_type("elsewhere.models.Alpha"))) >= set(map(id, keep[3:]))


def test_at_and_at_addrs():
    keep = [Alpha(), [1, 2], {"k": Beta()}]
    for obj in keep:
        assert hog.at(id(obj)) is obj is objgraph.at(id(obj))
    assert hog.at(id(UNTRACKED_NAME)) is None is objgraph.at(id(UNTRACKED_NAME))
    assert hog.at(12345) is None
    addresses = {id(o) for o in keep} | {id(UNTRACKED_NAME), 1}
    got = hog.at_addrs(addresses)
    assert sorted(map(id, got)) == sorted(map(id, objgraph.at_addrs(addresses)))
    assert sorted(map(id, got)) == sorted(id(o) for o in keep)


def test_is_proper_module():
    for obj in (gc, sys, hog, objgraph, types.ModuleType("fake"), [], None):
        assert hog.is_proper_module(obj) == objgraph.is_proper_module(obj)
    assert hog.is_proper_module(gc) and not hog.is_proper_module(types.ModuleType("gc"))


# ---- chains ------------------------------------------------------------------------------


def _is_ref_chain(chain):
    return all(
        any(r is chain[i + 1] for r in gc.get_referents(chain[i])) for i in range(len(chain) - 1)
    )


def _structure():
    target = Gamma()
    short = Holder(name="short", items=[target])
    long = Holder(name="long", inner={"k": (1, {"deeper": [target]})})
    root = Holder(short=short, long=long)
    return root, short, long, target


def test_find_ref_chain():
    root, short, long, target = _structure()

    def is_target(x):
        return x is target

    expected = objgraph.find_ref_chain(root, is_target)
    got = hog.find_ref_chain(root, is_target)
    assert got[0] is root and got[-1] is target and _is_ref_chain(got)
    assert len(got) == len(expected)
    # extra_ignore takes the short way away.
    ignore = [id(short)]
    expected = objgraph.find_ref_chain(root, is_target, extra_ignore=ignore)
    got = hog.find_ref_chain(root, is_target, extra_ignore=ignore)
    assert len(got) == len(expected) and _is_ref_chain(got) and short not in got
    # Too short a max_depth: [obj].
    depth = len(expected) - 2
    assert objgraph.find_ref_chain(root, is_target, max_depth=depth, extra_ignore=ignore) == [root]
    assert hog.find_ref_chain(root, is_target, max_depth=depth, extra_ignore=ignore) == [root]
    assert len(hog.find_ref_chain(root, is_target, max_depth=depth + 1, extra_ignore=ignore)) == (
        depth + 2
    )
    assert hog.find_ref_chain(target, is_target) == [target]


@pytest.mark.parametrize("predicate", [hog.is_proper_module, objgraph.is_proper_module])
def test_find_ref_chain_to_a_module(predicate):
    def function():
        return gc

    expected = objgraph.find_ref_chain(function, objgraph.is_proper_module)
    got = hog.find_ref_chain(function, predicate)
    assert got[0] is function and hog.is_proper_module(got[-1])
    assert len(got) == len(expected) and _is_ref_chain(got)
    assert hog.find_ref_chain(gc, predicate) == [gc]
    assert hog.find_ref_chain([1, "x"], predicate) == [[1, "x"]]


@pytest.mark.parametrize("predicate", [hog.is_proper_module, objgraph.is_proper_module])
def test_find_backref_chain_to_a_module(predicate):
    obj = REGISTRY["entries"][1]
    expected = objgraph.find_backref_chain(obj, objgraph.is_proper_module)
    got = hog.find_backref_chain(obj, predicate)
    assert hog.is_proper_module(got[0]) and got[-1] is obj
    assert len(got) == len(expected) == 5 and _is_ref_chain(got)
    # max_depth counts references: 4 are needed here.
    assert hog.find_backref_chain(obj, predicate, max_depth=3) == [obj]
    assert len(hog.find_backref_chain(obj, predicate, max_depth=4)) == 5
    assert objgraph.find_backref_chain(obj, objgraph.is_proper_module, max_depth=3) == [obj]


def test_find_backref_chain_untracked_object():
    obj = UNTRACKED_NAME
    assert not gc.is_tracked(obj)
    expected = objgraph.find_backref_chain(obj, objgraph.is_proper_module)
    got = hog.find_backref_chain(obj, hog.is_proper_module)
    assert got[-1] is obj and hog.is_proper_module(got[0]) and _is_ref_chain(got)
    assert len(got) == len(expected)


def test_find_backref_chain_held_by_a_local_only():
    obj = Holder(child=Alpha())
    for predicate in (hog.is_proper_module, lambda x: isinstance(x, Beta)):
        assert hog.find_backref_chain(obj.child, predicate) == [obj.child]
        assert objgraph.find_backref_chain(obj.child, predicate) == [obj.child]
    chain = hog.find_backref_chain(obj.child, lambda x: isinstance(x, Holder))
    assert chain[0] is obj and chain[-1] is obj.child and _is_ref_chain(chain)


def test_find_backref_chain_any_predicate_and_extra_ignore():
    root, short, long, target = _structure()
    module_holder = REGISTRY.setdefault("structure", [root])
    try:

        def is_root(x):
            return x is root

        expected = objgraph.find_backref_chain(target, is_root)
        got = hog.find_backref_chain(target, is_root)
        assert got[0] is root and got[-1] is target and _is_ref_chain(got)
        assert len(got) == len(expected)
        for predicate in (is_root, hog.is_proper_module):
            ignore = [id(short.items)]
            expected = objgraph.find_backref_chain(target, predicate, extra_ignore=ignore)
            got = hog.find_backref_chain(target, predicate, extra_ignore=ignore)
            assert len(got) == len(expected) > 3 and _is_ref_chain(got)
            assert not any(x is short.items for x in got) and got[-1] is target
            depth = len(expected) - 2
            assert hog.find_backref_chain(target, predicate, depth, ignore) == [target]
            assert objgraph.find_backref_chain(target, predicate, depth, ignore) == [target]
    finally:
        del REGISTRY["structure"]
    assert module_holder == [root]


# ---- drawing -----------------------------------------------------------------------------

EDGE = re.compile(r"^  (\S+) -> (\S+?)( \[.*\])?;$")


def _without_edge_labels(text):
    """The .dot text with each edge's attributes left out."""
    lines = []
    for line in text.splitlines():
        match = EDGE.match(line)
        lines.append(f"  {match[1]} -> {match[2]};" if match else line)
    return lines


NODE = re.compile(r'^  (o\d+)\[label="((?:[^"\\]|\\.)*)"')
# The default repr of an instance of a class defined in Python (a dotted name).
DEFAULT_REPR = re.compile(r"\\n<\w+(?:\.\w+)+ object at 0x[0-9a-f]*$")


def _same_graphs(ours, theirs):
    """The two .dot texts as lists of lines to compare: edges without their
    attributes, and where a node's label differs only because objgraph ran
    the object's own __repr__ (heaplens never runs Python code to describe
    an object, and shows the default repr), that label on neither side. Such
    objects are the test harness's when a deep walk reaches it (pytest's
    Function objects under pytest-xdist)."""
    ours, theirs = _without_edge_labels(ours), _without_edge_labels(theirs)
    their_labels = {m[1]: m[2] for m in map(NODE.match, theirs) if m}
    ran_repr = set()
    for line in ours:
        match = NODE.match(line)
        if match and DEFAULT_REPR.search(match[2]) and their_labels.get(match[1]) != match[2]:
            ran_repr.add(match[1])

    def without_ran_repr(lines):
        return [
            f"  {m[1]}[label=<its own __repr__>]"
            if (m := NODE.match(line)) and m[1] in ran_repr
            else line
            for line in lines
        ]

    return without_ran_repr(ours), without_ran_repr(theirs)


def _assert_same_graph(ours, theirs, context=None):
    mine, objgraphs = _same_graphs(ours, theirs)
    assert mine == objgraphs, context


def _edge_labels(text):
    """{(source, target): label or None} of the edges of a .dot text."""
    labels = {}
    for line in text.splitlines():
        match = EDGE.match(line)
        if match:
            label = re.search(r'label="((?:[^"\\]|\\.)*)"', match[3] or "")
            labels[(match[1], match[2])] = label[1] if label else None
    return labels


def _dot_texts(name, objs, **kwargs):
    """The .dot text of objgraph's and heaplens's function `name` on objs."""
    theirs, ours = io.StringIO(), io.StringIO()
    getattr(objgraph, name)(objs, output=theirs, **kwargs)
    getattr(hog, name)(objs, output=ours, **kwargs)
    return theirs.getvalue(), ours.getvalue()


def _node(obj):
    return f"o{id(obj)}"


def _labelled_structure():
    leaf = Alpha()
    items = ["zero", leaf, "two"]
    table = {"the_key": items, "not an identifier": Beta(), 7: Gamma()}
    root = Holder(table=table, spare=WithDel())
    return root, table, items, leaf


def test_show_refs_same_graph():
    root, table, items, leaf = _labelled_structure()
    own = _own_or_plain
    for kwargs in (
        {},
        {"max_depth": 1},
        {"max_depth": 5, "filter": own},
        {"too_many": 2, "filter": own},
        {"extra_ignore": [id(items)], "filter": own},
        {"highlight": lambda x: isinstance(x, Alpha), "filter": own},
        {"extra_info": lambda x: "extra:" + type(x).__name__, "filter": own},
        {"extra_node_attrs": lambda x: {"URL": str(id(x)), "none": None}, "filter": own},
        {"shortnames": False, "filter": own},
    ):
        theirs, ours = _dot_texts("show_refs", root, **kwargs)
        _assert_same_graph(ours, theirs, kwargs)
    theirs, ours = _dot_texts("show_refs", [root, leaf], max_depth=4, filter=own)
    _assert_same_graph(ours, theirs)
    assert f"{_node(root)}[fontcolor=red];" in ours and f"{_node(leaf)}[fontcolor=red];" in ours
    assert f"{_node(items)}[label=" in ours and "_has_a_del" in ours


def test_show_refs_edge_labels():
    root, table, items, leaf = _labelled_structure()
    _, ours = _dot_texts("show_refs", root, max_depth=4, filter=lambda x: not isinstance(x, type))
    labels = _edge_labels(ours)
    assert "the_key" in labels[(_node(table), _node(items))]
    assert "1" in labels[(_node(items), _node(leaf))]  # the list index
    assert "not an identifier" in labels[(_node(table), _node(table["not an identifier"]))]
    assert "7" in labels[(_node(table), _node(table[7]))]
    # The attribute: from the instance, or through its __dict__ when it has one.
    via_dict = labels.get((_node(root), _node(root.__dict__)))
    direct = labels.get((_node(root), _node(table)))
    assert "table" in (direct or labels[(_node(root.__dict__), _node(table))]), (via_dict, direct)


class Plain:
    def __init__(self, payload):
        self.payload = payload  # an inline attribute value: no __dict__ made


class Slotted:
    __slots__ = ("slot_value",)

    def __init__(self, value):
        self.slot_value = value


def test_attribute_edge_labels():
    payload, value = Alpha(), Beta()
    plain, slotted = Plain(payload), Slotted(value)
    no_types = lambda x: not isinstance(x, type)  # noqa: E731
    for objs in ([plain, slotted], [payload, value]):
        name = "show_refs" if objs[0] is plain else "show_backrefs"
        theirs, ours = _dot_texts(name, objs, max_depth=2, filter=no_types)
        _assert_same_graph(ours, theirs)
        labels = _edge_labels(ours)
        direct = labels.get((_node(plain), _node(payload)))
        via_dict = labels.get((_node(plain.__dict__), _node(payload)))
        assert "payload" in (direct or via_dict)
        assert "slot_value" in labels[(_node(slotted), _node(value))]


def test_show_backrefs_same_graph():
    root, table, items, leaf = _labelled_structure()
    also = [leaf, leaf]
    REGISTRY["labelled"] = root
    try:
        for kwargs in (
            {},
            {"max_depth": 1},
            {"max_depth": 6},
            {"too_many": 1},
            {"extra_ignore": [id(also)]},
            {"filter": lambda x: not isinstance(x, list) or x is items},
            {"max_depth": 2, "filter": lambda x: x is not REGISTRY},
        ):
            theirs, ours = _dot_texts("show_backrefs", leaf, **kwargs)
            _assert_same_graph(ours, theirs, kwargs)
        assert f"{_node(also)} -> {_node(leaf)}" in ours
        theirs, ours = _dot_texts("show_backrefs", leaf, max_depth=8)
        _assert_same_graph(ours, theirs)
        # The walk reached this module's globals and stopped at the module.
        module = _node(sys.modules[__name__])
        assert f"{module}[label=" in ours and f" -> {module};" not in ours
    finally:
        del REGISTRY["labelled"]
    assert len(also) == 2


def test_show_backrefs_edge_labels():
    root, table, items, leaf = _labelled_structure()
    _, ours = _dot_texts("show_backrefs", leaf, max_depth=3)
    labels = _edge_labels(ours)
    assert "1" in labels[(_node(items), _node(leaf))]
    assert "the_key" in labels[(_node(table), _node(items))]


# objgraph takes a fixed 4 off sys.getrefcount(), which counts fewer references
# from 3.14 on (locals lent to calls uncounted): its labels may then go negative.
REFCOUNT = re.compile(r'^(  o\d+\[label="\w+) \[(-?\d+)\]', re.M)


def _refcounts(text):
    return {node: int(n) for node, n in re.findall(r'^  (o\d+)\[label="\w+ \[(\d+)\]', text, re.M)}


def test_refcounts_in_labels():
    # The count is the references from outside heaplens: sys.getrefcount()
    # here, less its argument where counted. objgraph's own count includes some
    # of its temporaries (the dict of a frame's locals, its loop variables), so
    # only the rest of its text is compared.
    root, table, items, leaf = _labelled_structure()
    extra = [leaf, leaf, leaf]
    objs = [leaf, items]
    expected = {
        _node(leaf): sys.getrefcount(leaf) - GETREFCOUNT_ARGUMENT,
        _node(items): sys.getrefcount(items) - GETREFCOUNT_ARGUMENT,
        _node(table): sys.getrefcount(table) - GETREFCOUNT_ARGUMENT,
        _node(extra): sys.getrefcount(extra) - GETREFCOUNT_ARGUMENT,
    }
    for name in ("show_refs", "show_backrefs"):
        theirs, ours = _dot_texts(name, objs, refcounts=True, max_depth=2, filter=_own_or_plain)
        assert REFCOUNT.sub(r"\1", "\n".join(_without_edge_labels(ours))) == REFCOUNT.sub(
            r"\1", "\n".join(_without_edge_labels(theirs))
        )
        counts = _refcounts(ours)
        assert counts[_node(leaf)] == expected[_node(leaf)]
        assert counts[_node(items)] == expected[_node(items)]
        assert counts[_node(table if name == "show_backrefs" else leaf)] > 0
    assert counts[_node(table)] == expected[_node(table)]
    assert counts[_node(extra)] == expected[_node(extra)] == 1
    # One object, not in a list.
    out = io.StringIO()
    expected = sys.getrefcount(table) - GETREFCOUNT_ARGUMENT
    hog.show_refs(table, refcounts=True, max_depth=0, output=out)
    assert _refcounts(out.getvalue()) == {_node(table): expected}
    out = io.StringIO()
    hog.show_backrefs(None, refcounts=True, max_depth=0, output=out)  # immortal from 3.12 on
    assert _refcounts(out.getvalue())[_node(None)] > 0


def test_show_chain():
    obj = REGISTRY["entries"][0]
    chain = objgraph.find_backref_chain(obj, objgraph.is_proper_module)
    theirs, ours = io.StringIO(), io.StringIO()
    objgraph.show_chain(chain, output=theirs)
    hog.show_chain(chain, output=ours)
    assert _without_edge_labels(ours.getvalue()) == _without_edge_labels(theirs.getvalue())
    assert _n_nodes(ours.getvalue()) == len(chain)

    root, short, long, target = _structure()
    forward = objgraph.find_ref_chain(root, lambda x: x is target)
    other = objgraph.find_ref_chain(root, lambda x: x is short.items)
    theirs, ours = io.StringIO(), io.StringIO()
    objgraph.show_chain(forward, other, [], backrefs=False, output=theirs, highlight=_own)
    hog.show_chain(forward, other, [], backrefs=False, output=ours, highlight=_own)
    assert _without_edge_labels(ours.getvalue()) == _without_edge_labels(theirs.getvalue())


def test_output_and_filename_together():
    with pytest.raises(ValueError, match="Cannot specify both output and filename"):
        hog.show_refs([], output=io.StringIO(), filename="x.dot")


def test_untracked_objects_as_starting_points():
    text = "".join(["never", "-", "interned"])
    # Containers of atomic values only this frame holds, which the collector
    # leaves untracked: a tuple once a collection has seen it; a dict up to
    # 3.13 (3.14 tracks every dict from its creation, gh-127010).
    loose = (1, text)
    loose_dict = {"a": 1, "b": text}
    gc.collect()
    assert not gc.is_tracked(loose)
    starts = [loose, text] + ([] if gc.is_tracked(loose_dict) else [loose_dict])
    for name in ("show_refs", "show_backrefs"):
        theirs, ours = _dot_texts(name, starts, max_depth=2)
        _assert_same_graph(ours, theirs)


# ---- files and graphviz --------------------------------------------------------------


def _run_both(capsys, name, objs, filename, **kwargs):
    """Printed lines of objgraph's then heaplens's `name`(objs, filename=...)."""
    getattr(objgraph, name)(objs, filename=filename, **kwargs)
    theirs = capsys.readouterr().out
    theirs_file = open(filename, "rb").read() if os.path.exists(filename) else None
    if theirs_file is not None:
        os.remove(filename)
    getattr(hog, name)(objs, filename=filename, **kwargs)
    ours = capsys.readouterr().out
    return theirs, ours, theirs_file


def _temp_dot(line):
    match = re.match(r"Graph written to (\S+) \((\d+) nodes\)$", line)
    assert match, line
    return match[1], int(match[2])


def test_dot_file(tmp_path, capsys):
    root, table, items, leaf = _labelled_structure()
    path = str(tmp_path / "graph.dot")
    kwargs = {"max_depth": 2, "filter": _own_or_plain}
    theirs, ours, theirs_file = _run_both(capsys, "show_refs", root, path, **kwargs)
    nodes = _n_nodes(theirs_file.decode())
    assert ours == theirs == f"Graph written to {path} ({nodes} nodes)\n" and nodes >= 3
    text = open(path, encoding="utf-8").read()
    assert _without_edge_labels(text) == _without_edge_labels(theirs_file.decode())


@needs_dot
@pytest.mark.parametrize("ext, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_render_with_dot(tmp_path, capsys, ext, magic):
    root, table, items, leaf = _labelled_structure()
    path = str(tmp_path / ("graph" + ext))
    theirs, ours, theirs_file = _run_both(capsys, "show_backrefs", leaf, path, max_depth=2)
    assert theirs_file.startswith(magic)
    theirs, ours = theirs.splitlines(), ours.splitlines()
    assert ours[1:] == theirs[1:] == [f"Image generated as {path}"]
    dot_file, nodes = _temp_dot(ours[0])
    assert nodes == _temp_dot(theirs[0])[1] >= 3
    assert open(path, "rb").read().startswith(magic)
    assert open(dot_file, encoding="utf-8").read().startswith("digraph ObjectGraph {")
    os.remove(dot_file), os.remove(_temp_dot(theirs[0])[0])


def _bin_dir(tmp_path, programs):
    """A directory with `programs` {name: shell script or None for the real one}."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for name, script in programs.items():
        target = directory / name
        if script is None:
            target.symlink_to(shutil.which(name))
        else:
            target.write_text("#!/bin/sh\n" + script)
            target.chmod(target.stat().st_mode | stat.S_IXUSR)
    return str(directory)


@needs_dot
def test_no_filename_makes_a_png_without_xdot(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", _bin_dir(tmp_path, {"dot": None}))
    root = _labelled_structure()[0]
    for module in (objgraph, hog):
        module.show_refs(root, max_depth=1)
        lines = capsys.readouterr().out.splitlines()
        dot_file, _ = _temp_dot(lines[0])
        png = dot_file[:-4] + ".png"
        assert lines[1:] == [
            "Graph viewer (xdot) not found, generating a png instead",
            f"Image generated as {png}",
        ]
        assert open(png, "rb").read(4) == b"\x89PNG"
        os.remove(png), os.remove(dot_file)


def test_no_filename_spawns_xdot(tmp_path, capsys, monkeypatch):
    record = tmp_path / "xdot-args"
    monkeypatch.setenv("PATH", _bin_dir(tmp_path, {"xdot": f'echo "$@" >> {record}\n'}))
    root = _labelled_structure()[0]
    for module in (objgraph, hog):
        module.show_refs(root, max_depth=1)
        lines = capsys.readouterr().out.splitlines()
        dot_file, _ = _temp_dot(lines[0])
        assert lines[1:] == ["Spawning graph viewer (xdot)"]
        for _ in range(100):  # xdot runs in the background
            if record.exists() and dot_file in record.read_text():
                break
            time.sleep(0.05)
        assert dot_file in record.read_text()
        os.remove(dot_file)


def test_dot_fails(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", _bin_dir(tmp_path, {"dot": "exit 3\n"}))
    path = str(tmp_path / "graph.png")
    hog.show_refs([], filename=path)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith('dot failed (exit code 3) while executing "')
    assert f"-o{path}" in lines[1] and not os.path.exists(path)


@pytest.mark.parametrize("how", ["PATH", "lookup"])
def test_without_graphviz(tmp_path, capsys, monkeypatch, how):
    if how == "PATH":
        monkeypatch.setenv("PATH", str(tmp_path))
    else:
        monkeypatch.setattr(_dot, "find_program", lambda name: None)
    root, table, items, leaf = _labelled_structure()
    path = str(tmp_path / "graph.png")
    hog.show_refs(root, filename=path, max_depth=2)
    lines = capsys.readouterr().out.splitlines()
    dot_file, nodes = _temp_dot(lines[0])
    assert len(lines) == 2 and "graphviz not found" in lines[1].lower()
    assert dot_file in lines[1] and not os.path.exists(path)
    text = open(dot_file, encoding="utf-8").read()
    assert text.startswith("digraph ObjectGraph {") and text.endswith("}\n")
    assert _n_nodes(text) == nodes >= 3
    os.remove(dot_file)

    hog.show_backrefs(leaf, max_depth=1)  # no filename, no xdot, no dot
    lines = capsys.readouterr().out.splitlines()
    dot_file, _ = _temp_dot(lines[0])
    assert "graphviz not found" in lines[1].lower() and dot_file in lines[1]
    os.remove(dot_file)

    # A .dot filename needs no graphviz at all.
    path = str(tmp_path / "graph.dot")
    hog.show_refs(root, filename=path, max_depth=1)
    nodes = _n_nodes(open(path, encoding="utf-8").read())
    assert capsys.readouterr().out == f"Graph written to {path} ({nodes} nodes)\n" and nodes > 1


def test_objgraph_not_imported():
    source = open(hog.__file__, encoding="utf-8").read() + open(_dot.__file__).read()
    assert not re.search(r"^\s*(import|from)\s+objgraph\b", source, re.M)

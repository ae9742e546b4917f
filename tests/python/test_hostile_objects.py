"""Describing an object never runs its Python code, and never raises because
of it.

A lazy proxy (werkzeug's LocalProxy, Django's SimpleLazyObject) forwards
__class__ and every attribute to an object that may not exist; a metaclass
may make __name__ a property; __repr__, __eq__, __hash__ and __len__ may
raise. Each hostile method here records that it ran and raises: every public
function that describes objects must run none of them (isinstance() asks
obj.__class__, `in` and dicts keyed by a class call __eq__ and __hash__,
repr() calls __repr__, so those are not allowed on the objects described).
"""

import gc
import io
import sys
import types

import pytest

import heaplens
from heaplens import objgraph

RAN = []  # (what ran) for every hostile method called


def _ran(what):
    RAN.append(what)
    raise RuntimeError(f"HOSTILE-CODE-RAN: {what}")


def _make_classes():
    """The hostile classes, made per test and dropped after it: a class whose
    metaclass hashes or compares by raising must not outlive the test (the
    real objgraph, run side by side by other tests, would meet it)."""

    class HostileMeta(type):
        """A metaclass whose names, repr, comparisons and hash are all hostile."""

        def __getattribute__(cls, name):
            # Not properties in the metaclass's dict: its own __module__ and
            # __name__ stay plain, so that only the classes it makes are hostile.
            if name in ("__name__", "__qualname__", "__module__", "__dict__", "__mro__"):
                _ran(f"metaclass __getattribute__({name})")
            return super().__getattribute__(name)

        def __repr__(cls):
            _ran("metaclass __repr__")

        def __eq__(cls, other):
            _ran("metaclass __eq__")

        def __hash__(cls):
            _ran("metaclass __hash__")

        def __instancecheck__(cls, obj):
            _ran("metaclass __instancecheck__")

        def __subclasscheck__(cls, sub):
            _ran("metaclass __subclasscheck__")

    class Proxy:
        """Like werkzeug's LocalProxy outside a request: everything raises."""

        def __getattribute__(self, name):
            _ran(f"__getattribute__({name})")

        def __getattr__(self, name):
            _ran(f"__getattr__({name})")

        def __repr__(self):
            _ran("__repr__")

        def __str__(self):
            _ran("__str__")

        def __format__(self, spec):
            _ran("__format__")

        def __eq__(self, other):
            _ran("__eq__")

        def __hash__(self):
            _ran("__hash__")

        def __len__(self):
            _ran("__len__")

        def __bool__(self):
            _ran("__bool__")

        def __dir__(self):
            _ran("__dir__")

    class CallableProxy(Proxy):
        """A callable proxy: find_leaks calls it, and names it by its type."""

        def __call__(self):
            object.__getattribute__(self, "store").append(Proxy())

    class LyingClass:
        """The repro of the issue: only __class__ is a property, and it raises."""

        @property
        def __class__(self):
            _ran("__class__")

    class Strange(metaclass=HostileMeta):
        """Instances of a class whose metaclass is hostile."""

    class HostileDict(dict):
        def __repr__(self):
            _ran("dict __repr__")

        def __len__(self):
            _ran("dict __len__")

        def __eq__(self, other):
            _ran("dict __eq__")

        __hash__ = None

        def items(self):
            _ran("dict items")

        def keys(self):
            _ran("dict keys")

    class HostileList(list):
        def __repr__(self):
            _ran("list __repr__")

        def __len__(self):
            _ran("list __len__")

    return types.SimpleNamespace(
        HostileMeta=HostileMeta,
        Proxy=Proxy,
        CallableProxy=CallableProxy,
        LyingClass=LyingClass,
        Strange=Strange,
        HostileDict=HostileDict,
        HostileList=HostileList,
    )


C = None  # the classes of the running test
HERE = "test_hostile_objects._make_classes.<locals>."  # their qualified names' start


@pytest.fixture(autouse=True)
def _classes():
    global C
    C = _make_classes()
    KeyProxy.armed = True
    yield
    KeyProxy.armed = False
    C = None
    _HELD.clear()
    _KEYS.clear()
    gc.collect()


def _node(*refs):
    """A C.Proxy holding refs (set past its hostile __setattr__-free
    __getattribute__ with object's own setattr)."""
    proxy = C.Proxy()
    object.__setattr__(proxy, "refs", list(refs))
    return proxy


@pytest.fixture
def hostile():
    """Hostile objects held from a module global, through hostile containers
    and as a hostile key, with a cycle among them."""
    proxy, lying, strange = C.Proxy(), C.LyingClass(), C.Strange()
    in_list = C.HostileList([proxy, lying, strange])
    in_dict = C.HostileDict(proxy=proxy)
    keyed = {_key_holder(): lying}
    cycle_a = _node()
    cycle_b = _node(cycle_a, strange)
    object.__getattribute__(cycle_a, "refs").append(cycle_b)
    holder = types.SimpleNamespace(
        in_list=in_list, in_dict=in_dict, keyed=keyed, cycle=cycle_a, strange_cls=C.Strange
    )
    _HELD.append(holder)
    RAN.clear()
    yield types.SimpleNamespace(proxy=proxy, lying=lying, strange=strange, cycle=cycle_a)
    _HELD.clear()
    assert RAN == [], f"heaplens ran hostile code: {RAN}"


_HELD = []
_KEYS = []


def _key_holder():
    """A hostile object used as a dict key (hashed once by the dict, here)."""
    key = KeyProxy()
    _KEYS.append(key)
    return key


class KeyProxy:
    """A dict key whose repr and comparisons are hostile once armed."""

    armed = False

    def __hash__(self):
        return 12345

    def __eq__(self, other):
        if KeyProxy.armed:
            _ran("key __eq__")
        return self is other

    def __repr__(self):
        _ran("key __repr__")


@pytest.fixture(autouse=True)
def _arm_keys():
    KeyProxy.armed = True
    yield
    KeyProxy.armed = False


def _check(text):
    """What a report printed is text, and says nothing of hostile code."""
    assert isinstance(text, str)
    assert "HOSTILE-CODE-RAN" not in text


def test_why_alive_referrers_and_refcount_report(hostile):
    for obj in (hostile.proxy, hostile.lying, hostile.strange, hostile.cycle):
        chain = heaplens.why_alive(obj)
        assert chain.found
        _check(str(chain))
        _check(repr(chain))
        for referrer in heaplens.referrers(obj):
            _check(str(referrer))
        report = heaplens.refcount_report(obj)
        _check(str(report))
        graph = heaplens.HeapGraph()
        _check(str(graph.why_alive(obj)))
        del graph
    assert "Proxy object at" in str(heaplens.why_alive(hostile.proxy))
    assert "LyingClass object at" in str(heaplens.why_alive(hostile.lying))
    assert "Strange object at" in str(heaplens.why_alive(hostile.strange))


def test_find_leaks_and_leak_check(hostile, tmp_path):
    store = []

    def leak():
        store.append(C.Proxy())
        store.append(C.LyingClass())
        store.append(C.Strange())
        store.append(C.HostileDict(x=C.LyingClass()))
        store.append(C.HostileList([C.Proxy()]))

    report = heaplens.find_leaks(leak, repeat=3, warmup=1)
    _check(report.format())
    _check(str(report))
    _check(repr(report))
    names = {group.type for group in report.leaks}
    assert {f"_make_classes.<locals>.{name}" for name in ("Proxy", "LyingClass", "Strange")} <= (
        names
    ), names
    data = report.to_dict()
    _check(repr(data))
    report.save_html(tmp_path / "leaks.html")
    _check((tmp_path / "leaks.html").read_text())

    keep = []
    with heaplens.leak_check() as checked:
        keep.append(C.Proxy())
        keep.append(C.Strange())
    _check(checked.format())

    # The hunted callable itself may be a proxy: it is called (that is the
    # point), but not described through its attributes.
    hunted = C.CallableProxy()
    object.__setattr__(hunted, "store", store)
    report = heaplens.find_leaks(hunted, repeat=2, warmup=0)
    _check(str(report))
    assert report.title == "find_leaks(_make_classes.<locals>.CallableProxy)"


def test_cycles_and_show_cycle(hostile, tmp_path, capsys):
    report = heaplens.cycles()
    _check(str(report))
    assert any("Proxy" in group.shape for group in report)
    drawn = heaplens.show_cycle(hostile.cycle, str(tmp_path / "cycle.dot"))
    assert drawn == 4  # two proxies and the lists of their refs
    _check((tmp_path / "cycle.dot").read_text())
    # Reached back through its class and module: drawn, and named safely.
    drawn = heaplens.show_cycle(hostile.lying, str(tmp_path / "lying.dot"))
    if drawn:
        _check((tmp_path / "lying.dot").read_text())
    _check(capsys.readouterr().out)


def test_cycles_through_instances_of_a_hostile_metaclass():
    """Grouping cycles by the types of their members never hashes a class:
    a metaclass whose __hash__ (or __eq__) raises made cycles() fail."""
    first, second = C.Strange(), C.Strange()
    first.other, second.other = second, first
    RAN.clear()
    report = heaplens.cycles()
    _check(str(report))
    assert any(f"{HERE}Strange x2" in group.shape for group in report), [g.shape for g in report]
    assert RAN == [], RAN
    del first, second


def test_census_and_growth(hostile):
    mark = heaplens.Mark()
    more = [C.Proxy(), C.Strange(), C.LyingClass()]
    _check(str(heaplens.census()))
    _check(str(heaplens.census(untracked=False)))
    grown = heaplens.growth_since(mark, limit=None)
    assert {f"{HERE}Strange", f"{HERE}Proxy"} <= {row.name for row in grown}
    del more


def test_retainers(hostile):
    _check(str(heaplens.top_retainers(5)))
    assert heaplens.retained(hostile.cycle) > 0


def test_objgraph_functions(hostile, tmp_path, capsys):
    assert objgraph.count("Proxy") >= 3
    assert objgraph.count("test_hostile_objects.Strange") >= 1
    stats = objgraph.typestats()
    assert stats["Strange"] >= 1
    objgraph.typestats(shortnames=False, filter=lambda obj: True)
    objgraph.most_common_types(limit=None)
    objgraph.show_most_common_types(file=io.StringIO())
    objgraph.growth(limit=None, peak_stats={})
    objgraph.show_growth(peak_stats={}, file=io.StringIO())
    objgraph.get_new_ids(file=io.StringIO())
    objgraph.get_new_ids(file=io.StringIO())
    assert any(obj is hostile.proxy for obj in objgraph.by_type("Proxy"))
    assert any(obj is hostile.strange for obj in objgraph.by_type("Strange"))
    assert objgraph.at(id(hostile.cycle)) is hostile.cycle
    assert not objgraph.is_proper_module(hostile.proxy)
    assert not objgraph.is_proper_module(hostile.lying)
    chain = objgraph.find_backref_chain(hostile.proxy, objgraph.is_proper_module)
    assert chain[-1] is hostile.proxy and len(chain) > 1
    objgraph.find_ref_chain(hostile.cycle, lambda obj: obj is hostile.strange)
    for show, objs in (
        (objgraph.show_backrefs, [hostile.proxy, hostile.lying]),
        (objgraph.show_refs, [hostile.cycle, hostile.strange]),
    ):
        dot = tmp_path / f"{show.__name__}.dot"
        show(objs, filename=str(dot), refcounts=True, max_depth=4)
        _check(dot.read_text())
    objgraph.show_chain(chain, filename=str(tmp_path / "chain.dot"))
    _check((tmp_path / "chain.dot").read_text())
    capsys.readouterr()


def test_a_module_in_sys_modules_that_is_a_proxy(hostile):
    """Lazy-import libraries put proxies in sys.modules."""
    sys.modules["hostile_lazy_module"] = hostile.lying
    try:
        _check(str(heaplens.why_alive(hostile.strange)))
        objgraph.find_backref_chain(hostile.strange, objgraph.is_proper_module)
        _check(str(heaplens.find_leaks(lambda: None, repeat=2, warmup=0)))
    finally:
        del sys.modules["hostile_lazy_module"]


def test_gc_monitor_names_hostile_garbage(hostile):
    with heaplens.gc_monitor() as monitor:
        for _ in range(50):
            cycle = _node()
            object.__getattribute__(cycle, "refs").append(cycle)
            strange = C.Strange()
            strange.me = strange
            del cycle, strange
        gc.collect()
    text = monitor.report.format()
    _check(text)
    names = {row.type for row in monitor.report.by_type()}
    assert f"{HERE}Proxy" in names and f"{HERE}Strange" in names


def test_the_describing_helpers_themselves():
    from heaplens import _core
    from heaplens._graph import describe as _describe
    from heaplens._graph import dot as _dot

    objs = [C.Proxy(), C.LyingClass(), C.Strange(), C.Strange, C.HostileDict(), C.HostileList()]
    RAN.clear()
    for obj in objs:
        _check(_describe.describe(obj))
        _check(_describe.safe_repr(obj))
        _check(_dot.short_repr(obj))
        _check(_dot.node_label(obj))
        _check(_core.type_name(obj, True, True))
    assert _core.type_names(objs) == [
        "Proxy",
        "LyingClass",
        "Strange",
        "HostileMeta",
        "HostileDict",
        "HostileList",
    ]
    assert _describe.type_name(C.Strange, shortnames=False) == f"{HERE}Strange"
    assert _describe.describe(C.Strange) == f"class {HERE}Strange"
    assert _core.safe_repr(C.Strange()).startswith(f"<{HERE}Strange object at 0x")
    assert _core.safe_repr("x" * 100, 10) == "'xxxxxxxxxx'..."
    assert _core.safe_repr(10**30) == "<int above 2**63>"
    assert _core.safe_repr([1, 2]) == "<list of 2 items>"
    assert _core.module_str(sys) == "sys"
    assert _core.module_str(C.Proxy()) is None
    assert RAN == [], RAN


def test_slots_advice_reads_hostile_classes_without_running_their_code():
    """__slots__ advice reads classes and instances: a key of an instance
    dict whose __class__ is a property, a metaclass whose __eq__ raises (a
    class in an MRO), a property whose accessor is a proxy, a class whose
    __module__, __slots__, __annotations__ and __dataclass_fields__ were
    replaced by proxies. None of their code may run; each was reached
    before (isinstance, `in`, getattr, bool)."""

    class Record:
        pass

    def make():
        record = Record()
        record.a = 1
        record.__dict__[C.LyingClass()] = 2  # a key whose __class__ raises
        return record

    Record.accessor = property(C.Proxy(), doc="an accessor that is a proxy")
    records = [make() for _ in range(50)]
    stranger = [C.Strange() for _ in range(50)]  # HostileMeta in the MRO
    for obj in stranger:
        obj.b = 1

    class Replaced:
        __slots__ = ("x",)

    Replaced.__module__ = C.Proxy()
    type.__setattr__(Replaced, "__annotations__", C.HostileDict(a=int))
    type.__setattr__(Replaced, "__dataclass_fields__", C.Proxy())

    class Sub(Replaced):
        pass

    subs = [Sub() for _ in range(50)]
    for obj in subs:
        obj.y = 1
    RAN.clear()
    report = heaplens.slots_advice(min_instances=10)
    _check(str(report))
    assert RAN == [], RAN
    names = {row.qualname.rpartition(".")[2] for row in report}
    assert {"Record", "Strange", "Sub"} <= names, names
    del records, stranger, subs

"""Reference cycles among live objects: heaplens.cycles() and its engine."""

import gc
import sys

import heaplens
from heaplens import _core, cycles


class Ring:
    def __init__(self):
        self.next = None


class Parent:
    def __init__(self):
        self.children = []


class Child:
    def __init__(self, parent):
        self.parent = parent


class WithDel:
    def __del__(self):
        pass


def _group(report, shape):
    matches = [group for group in report if group.shape == shape]
    assert len(matches) == 1, [group.shape for group in report][:10]
    return matches[0]


def test_cycles_are_grouped_by_shape_with_examples_and_finalizers():
    keep = []
    for _ in range(30):
        a, b = Ring(), Ring()
        a.next, b.next = b, a
        keep.append(a)
    for _ in range(12):
        parent = Parent()
        parent.children.append(Child(parent))
        keep.append(parent)
    lonely = WithDel()
    lonely.me = lonely
    keep.append(lonely)

    report = cycles()
    here = f"{__name__}."
    rings = _group(report, f"{here}Ring x2")
    assert (rings.count, rings.objects) == (30, 60)
    assert rings.size == 60 * sys.getsizeof(a)
    assert rings.example.startswith("Ring object at 0x") and ".next -> Ring object" in rings.example
    assert rings.example.endswith("-> (back to the first)")
    assert rings.finalizers == ()

    families = _group(report, " + ".join(sorted([f"{here}Child", f"{here}Parent", "list"])))
    assert (families.count, families.objects) == (12, 36)
    assert ".children -> list [0] -> Child object" in families.example
    assert ".parent -> (back to the first)" in families.example

    selfish = _group(report, f"{here}WithDel")
    assert selfish.count == 1 and ".me -> (back to the first)" in selfish.example
    assert selfish.finalizers == ((f"{here}WithDel", "__del__"),)

    text = report.format(limit=50)
    assert "30 x " in text and "finalizer: " in text
    del keep, a, b, parent, lonely


def _families(n, keep):
    for _ in range(n):
        parent = Parent()  # the site the families are reported at
        parent.children.append(Child(parent))
        keep.append(parent)


FAMILIES_LINE = _families.__code__.co_firstlineno + 2


def _held_del_cycles(n, keep):
    for _ in range(n):
        held = WithDel()  # the site of the __del__ cycles
        held.me = held
        keep.append(held)


DEL_CYCLES_LINE = _held_del_cycles.__code__.co_firstlineno + 2


def test_cycle_groups_name_where_their_cycles_were_allocated():
    gc.collect()  # earlier tests' cyclic garbage
    heaplens.start(3)
    keep = []
    _families(25, keep)
    _held_del_cycles(7, keep)
    report = cycles()
    here = f"{__name__}."
    families = _group(report, " + ".join(sorted([f"{here}Child", f"{here}Parent", "list"])))
    assert families.count == 25
    assert families.sites == ((f"{__file__}:{FAMILIES_LINE}", 25),)
    held = _group(report, f"{here}WithDel")
    assert held.count == 7 and held.finalizers == ((f"{here}WithDel", "__del__"),)
    assert held.sites == ((f"{__file__}:{DEL_CYCLES_LINE}", 7),)
    text = report.format(limit=50)
    assert f"allocated at {__file__}:{DEL_CYCLES_LINE}: 7 cycles" in text
    heaplens.stop()
    assert all(group.sites == () for group in cycles())
    del keep


def test_classes_modules_and_globals_do_not_make_one_big_cycle():
    # Every instance refers to its class and every function to its globals;
    # were they followed, all of it would be one component.
    report = cycles()
    for group in report:
        assert "module" not in group.shape.split(" + ")
        assert " type" not in f" {group.shape}"


def test_cycle_through_and_no_cycle():
    a, b = Ring(), Ring()
    a.next, b.next = b, a
    plain = Ring()
    holder = [plain]
    graph = _core.build_graph()
    path = graph.cycle_through(graph.find(a))
    assert [graph.object(n) for n in path] == [a, b, a]
    assert graph.cycle_through(graph.find(plain)) is None
    del holder


def test_collected_cycles_are_gone():
    shape = f"{__name__}.Ring x2"
    for _ in range(5):
        a, b = Ring(), Ring()
        a.next, b.next = b, a
    del a, b
    gc.collect()
    assert shape not in {group.shape for group in cycles()}


def test_finalizer_kind():
    def generator():
        yield 1

    assert _core.finalizer_kind(WithDel()) == "__del__"
    assert _core.finalizer_kind(generator()) == "tp_finalize"
    assert _core.finalizer_kind(Ring()) is None
    assert _core.finalizer_kind(1) is None


def test_show_cycle_writes_dot_with_labels_and_finalizers(tmp_path, capsys):
    parent = Parent()
    child = Child(parent)
    parent.children.append(child)
    parent.keeper = WithDel()
    parent.keeper.owner = parent
    path = tmp_path / "cycle.dot"
    assert heaplens.show_cycle(parent, str(path)) in (3, 2)
    text = path.read_text()
    assert text.startswith("digraph Cycle {")
    assert '[label=".keeper"' in text or '[label=".children"' in text
    if '[label=".keeper"' in text:
        assert "finalizer: __del__" in text and "#f4a6a6" in text
    assert "written to" in capsys.readouterr().out
    alone = Ring()
    assert heaplens.show_cycle(alone, str(tmp_path / "none.dot")) == 0
    assert "is in no cycle" in capsys.readouterr().out


def test_show_cycle_renders_png_or_says_graphviz_is_missing(tmp_path, capsys, monkeypatch):
    a, b = Ring(), Ring()
    a.next, b.next = b, a
    from heaplens._graph import dot as _dot

    monkeypatch.setattr(_dot, "find_program", lambda name: None)
    assert heaplens.show_cycle(a, str(tmp_path / "c.png")) == 2
    assert "Graphviz not found" in capsys.readouterr().out
    monkeypatch.undo()
    if _dot.find_program("dot"):
        assert heaplens.show_cycle(a, str(tmp_path / "c.png")) == 2
        assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"

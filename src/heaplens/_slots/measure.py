"""Measuring what __slots__ would save: bare instances of a class and of a
slotted twin are made and measured under the tracer (Probe), with a class
without a finalizer swapped in before they are let go, so no user code runs.
"""

from __future__ import annotations

import gc

from heaplens import _core
from heaplens._slots.classes import lookup, type_attribute

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import TypeVar

    from heaplens._slots.classes import Plan

    _T = TypeVar("_T")
    # What lets go of bare instances (see _disarmer).
    _Dispose = Callable[[list[object]], None]


def total_size(objects: Iterable[object]) -> int:
    """The sys.getsizeof total of `objects`, computed in C: no __sizeof__
    written in Python runs (heaplens's census sizes)."""
    return sum(row[2] for row in _core.census_of(list(objects)))


class _Tracing:
    """A block during which tracemalloc traces and the collector is paused
    (tracemalloc is left as it was found: a user's trace goes on)."""

    def __enter__(self) -> _Tracing:
        import tracemalloc

        self.tracemalloc = tracemalloc
        self.was_tracing = tracemalloc.is_tracing()
        self.gc_was_enabled = gc.isenabled()
        gc.disable()
        if not self.was_tracing:
            tracemalloc.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self.was_tracing:
            self.tracemalloc.stop()
        if self.gc_was_enabled:
            gc.enable()

    def bytes_each(
        self, function: Callable[[_T], object], arguments: Sequence[_T]
    ) -> tuple[list[object], int]:
        """([function(a) for a in arguments], the bytes the allocator handed out
        per call). The measuring allocates a little too (a tuple and two ints,
        more or less depending on free lists): it is measured alike and taken
        off, what is left of it is spread over the batch, and the result is
        rounded to whole pointers, as every block measured here (objects of a
        fixed size, dicts, values arrays) is."""
        results: list[object] = [None] * len(arguments)

        def run() -> None:
            for index, argument in enumerate(arguments):
                results[index] = function(argument)

        overhead = self._measure(_nothing)
        size = self._measure(run)
        return results, _POINTER * round((size - overhead) / len(arguments) / _POINTER)

    def _measure(self, function: Callable[[], object]) -> int:
        traced = self.tracemalloc.get_traced_memory
        before = traced()[0]
        function()
        return traced()[0] - before


def _nothing() -> None:
    return None


def _agreed(
    attempt: Callable[[], tuple[list[object], int]], dispose: _Dispose
) -> tuple[list[object], int]:
    """attempt() -> (objects, bytes), run until two results agree (another
    thread may allocate in between; at most 5 tries). Returns the last; the
    objects of earlier tries go to dispose()."""
    last = None
    for _ in range(5):
        objects, size = attempt()
        if last is not None:
            dispose(last[0])
            if last[1] == size:
                break
        last = (objects, size)
    return objects, size


def _drop(objects: list[object]) -> None:
    return None


def _disarmer(cls: type, instance: object) -> _Dispose | None:
    """A function that lets go of bare instances of cls without running their
    finalizer (a __del__, or a C finalizer such as io's, which calls close()):
    it gives each a class of the same layout, a plain subclass of cls's own
    base, whose __del__ does nothing. _drop when instances have no finalizer;
    None when making that class would run the user's code (a metaclass, an
    __init_subclass__)."""
    if _core.finalizer_kind(instance) is None:
        return _drop
    base = type_attribute(cls, "__base__")
    if type(base) is not type:
        return None
    # lookup() finds __init_subclass__ in every class (object defines it): not None.
    if lookup(base, "__init_subclass__")[0] is not object:  # type: ignore[index]
        return None
    namespace = {"__module__": __name__, "__del__": _no_finalizer}
    blank = type("_heaplens_probe", (base,), namespace)

    def disarm(objects: list[object]) -> None:
        for obj in objects:
            try:
                _SET_CLASS(obj, blank)  # object's own setter: a __class__ of theirs is not asked
            except TypeError:
                _UNDISARMED.append(obj)  # kept, rather than finalized half-made

    return disarm


def _no_finalizer(self: object) -> None:
    return None


_SET_CLASS: Callable[[object, type], None] = object.__dict__["__class__"].__set__
# Bare instances whose class could not be swapped (never seen so far): kept for
# the life of the process, since letting them go would run their __del__.
_UNDISARMED: list[object] = []


def _has_inline_values(cls: type, plan: Plan) -> bool:
    """Whether a new instance gets its attribute values before any attribute is
    set: where the values live in the object (3.13 and later) the type says so;
    where they live in an array of their own (3.11, 3.12), object.__new__
    allocates one for a managed-dict object."""
    layout = _core.type_layout(cls)
    if layout["inline_values"]:
        return True
    return bool(layout["values_array"]) and plan.solid is object


class Probe:
    """Measured costs of a bare instance of the class (made with its base's
    __new__; no __init__ runs), which is then let go.

    size: its getsizeof size. extra: what its inline values cost beyond that
    (the separate values array of 3.11 and 3.12, the space inside the object
    on 3.13), 0 without inline values. dict_size, dict_cost: the getsizeof
    size and the real cost of a dict that shares the class's keys (None when
    unknown): real instances' dicts of that size are such dicts."""

    dict_size: int | None
    dict_cost: int | None

    def __init__(self, cls: type, plan: Plan, instance: object) -> None:
        self.inline = _has_inline_values(cls, plan)
        self.values_inside = _core.type_layout(cls)["inline_values"]
        self.extra = 0
        self.dict_size = self.dict_cost = None
        dispose = _disarmer(cls, instance)
        if dispose is None:
            if self.inline or type_attribute(cls, "__itemsize__", 0):
                raise TypeError("it has a finalizer, and no bare instance can be let go safely")
            # Fixed size, attributes in a real dict: any instance tells the size.
            self.size = total_size([instance])
            return

        def make(_: int) -> object:
            return plan.solid.__new__(cls)

        with _Tracing() as tracing:
            probes, allocated = _agreed(lambda: tracing.bytes_each(make, range(_BATCH)), dispose)
            self.size = total_size(probes[:1])
            dispose(probes)
            if self.inline:
                self.extra = max(0, allocated - self.size)
            if not is_getset(lookup(cls, "__dict__")):
                return
            if self.inline and self.values_inside:
                return  # a dict real instances show has left the object: sized as it is
            cost = self._dict_bytes(tracing, make, dispose)
        # 3.11 and 3.12 hand the values array to the dict; otherwise the dict
        # makes its own.
        self.dict_cost = cost + self.extra if self.inline else cost

    def _dict_bytes(
        self, tracing: _Tracing, make: Callable[[int], object], dispose: _Dispose
    ) -> int:
        """Bytes allocated to make the dict of a bare instance, as vars() would.
        The free list of dict objects is emptied first, so that each dict is
        allocated (freeing an earlier try's probes fills it again)."""
        drained: list[dict[object, object]] = []

        def attempt() -> tuple[list[object], int]:
            fresh = [make(i) for i in range(_BATCH)]
            drained.extend({} for _ in range(_DICT_FREE_LIST))
            dicts, cost = tracing.bytes_each(dict_of, fresh)
            self.dict_size = total_size(dicts[:1])
            return fresh, cost

        fresh, cost = _agreed(attempt, dispose)
        dispose(fresh)
        drained.clear()
        return cost


def dict_of(obj: object) -> dict[object, object]:
    """obj's __dict__, made if it has none yet: only for classes whose
    __dict__ is the type's own getter (is_getset), so no code of theirs runs."""
    namespace: dict[object, object] = object.__getattribute__(obj, "__dict__")
    return namespace


_BATCH = 64  # bare instances made per measurement
_POINTER = tuple.__itemsize__  # bytes in a pointer
_DICT_FREE_LIST = 128  # more than CPython keeps (80)


def is_getset(found: tuple[type, object] | None) -> bool:
    """Whether lookup() found the type's own __dict__ getter (not a property)."""
    return found is not None and type(found[1]) is type(type.__dict__["__dict__"])


def twin_allocated(plan: Plan, slots: tuple[str, ...]) -> int:
    """Bytes the allocator gives a bare instance of a throwaway class with
    `slots` (and the slotted bases' slots) on the same layout base."""
    names = [name for name, _ in plan.base_slots] + list(slots)
    namespace = {"__slots__": tuple(names), "__module__": __name__}
    twin = type("_heaplens_twin", (plan.solid,), namespace)

    def make(_: int) -> object:
        return plan.solid.__new__(twin)

    with _Tracing() as tracing:
        _, allocated = _agreed(lambda: tracing.bytes_each(make, range(_BATCH)), _drop)
    return allocated

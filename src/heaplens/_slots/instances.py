"""Reading live instances for __slots__ advice: which attribute names each
holds inline or in its __dict__, found with object.__getattribute__ and
gc.get_referents only, so no descriptor or __getattr__ of the user runs.
"""

from __future__ import annotations

import gc

from heaplens._slots.classes import is_str, lookup
from heaplens._slots.measure import dict_of, is_getset

TYPE_CHECKING = False
if TYPE_CHECKING:
    from heaplens._slots.classes import Plan


class Instance:
    """One instance's attribute storage: a real dict or inline values."""

    __slots__ = ("dict", "values")

    def __init__(self, obj: object, cls: type, plan: Plan) -> None:
        values = gc.get_referents(obj)
        _remove_one(values, cls)
        for _, member in plan.base_slots:
            try:
                _remove_one(values, member.__get__(obj, cls))
            except AttributeError:  # an unset slot
                pass
        self.dict: dict[object, object] | None = None
        for value in values:
            if type(value) is dict and _is_instance_dict(obj, value, plan):
                self.dict = value
                break
        self.values: list[object] = values


def _remove_one(values: list[object], target: object) -> bool:
    for index, value in enumerate(values):
        if value is target:
            del values[index]
            return True
    return False


def _is_instance_dict(obj: object, candidate: dict[object, object], plan: Plan) -> bool:
    """Whether `candidate`, a dict obj refers to, is obj's __dict__ rather than
    the value of one of its attributes."""
    checked = 0
    for key in list(candidate)[:8]:
        if type(key) is not str:
            return False
        if not plan.readable(key):
            continue
        try:
            if object.__getattribute__(obj, key) is not candidate[key]:
                return False
        except Exception:
            return False
        checked += 1
    if checked:
        return True
    # An empty dict, or only names the class defines too: it is an attribute's
    # value when some attribute holds it.
    for name in plan.lookup_order():
        if plan.readable(name):
            try:
                if object.__getattribute__(obj, name) is candidate:
                    return False
            except Exception:
                pass
    return True


def _claim_value(
    obj: object, name: str, left: dict[int, list[int]], found: list[tuple[int, str]]
) -> None:
    """When obj.name (read without running the class's code) is one of the
    unclaimed values in `left` (id -> positions), claim its first position
    for `name` in `found`."""
    try:
        value = object.__getattribute__(obj, name)
    except Exception:
        return
    positions = left.get(id(value))
    if positions:
        found.append((positions.pop(0), name))
        if not positions:
            del left[id(value)]


def names_inline(obj: object, values: list[object], plan: Plan) -> tuple[list[str], int]:
    """The names of obj's inline attribute values, in their order, and how
    many values no name was found for. Each name is looked up with
    object.__getattribute__ and claims the value it returns."""
    left: dict[int, list[int]] = {}
    for position, value in enumerate(values):
        left.setdefault(id(value), []).append(position)
    found: list[tuple[int, str]] = []
    deferred = []
    for name in plan.lookup_order():
        if not left:
            break
        if name in plan.defaults:
            deferred.append(name)
            continue
        if not plan.readable(name):
            continue
        _claim_value(obj, name, left, found)
    for name in deferred:
        # A class default: the instance has its own value when the lookup
        # gives something else, or (ambiguous) the same object is among its values.
        _claim_value(obj, name, left, found)
    found.sort()
    return [name for _, name in found], sum(len(p) for p in left.values())


def read_dict(obj: object, plan: Plan) -> list[str] | None:
    """Make and read obj's __dict__ (only to learn names no code shows)."""
    if not is_getset(lookup(type(obj), "__dict__")):
        return None
    plan.dict_reads += 1
    return [name for name in list(dict_of(obj)) if is_str(name)]

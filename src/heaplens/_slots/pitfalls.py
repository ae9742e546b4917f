"""The warnings of __slots__ advice: what adding __slots__ would break in a
class (pickling hooks, weak references, class attributes used as defaults,
code that sets attributes not in the plan, cached_property ...).
"""

from __future__ import annotations

from typing import cast

from heaplens._slots.classes import (
    class_name,
    class_namespace,
    code_objects,
    is_cached_property,
    is_python_class,
    names_in_code,
    unmangle,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from heaplens._slots.advice import _Tally
    from heaplens._slots.classes import Plan
    from heaplens._slots.measure import Probe

_PICKLE_HOOKS = ("__getstate__", "__setstate__", "__reduce__", "__reduce_ex__")
_PICKLE_MODULES = frozenset({"pickle", "copyreg", "cloudpickle", "dill", "shelve"})


def warnings_for(
    cls: type,
    plan: Plan,
    probe: Probe | None,
    tally: _Tally,
    own: list[str],
    names: list[str],
    for_bases: dict[type, list[str]],
    dataclass: bool,
) -> list[str]:
    """Where the suggested __slots__ would break code, or save less."""
    warnings: list[str] = []
    sampled = tally.sampled
    namespace = class_namespace(cls)
    clashes = [name for name in own if name in namespace]
    if clashes and dataclass:
        warnings.append(
            f"{_are(clashes)} also class attributes (field defaults): a hand-written __slots__ "
            "raises ValueError; @dataclass(slots=True) moves the defaults itself"
        )
    elif clashes:
        warnings.append(
            f"{_are(clashes)} also {_plural(clashes, 'a class attribute', 'class attributes')} "
            "(a default or a method): a slot of the same name raises ValueError; drop the "
            "class attribute and set the default in __init__"
        )
    for name in names:
        owner = plan.class_values.get(name, (None,))[0]
        if owner not in (None, cls, object) and name in plan.defaults:
            warnings.append(
                f"the slot {name!r} hides the default {class_name(owner)}.{name}: an instance "
                "that never sets it raises AttributeError instead of reading the default"
            )
    if dataclass:
        declared = namespace.get("__dataclass_fields__")
        fields = set(cast("dict[str, object]", declared)) if type(declared) is dict else set()
        undeclared = [name for name in names if name not in fields]
        if undeclared:
            warnings.append(
                f"{_are(undeclared)} not {_plural(undeclared, 'a field', 'fields')}: declare "
                "them (field(init=False)) or setting them fails with slots=True"
            )
    partial = [(name, count) for name, count in tally.seen.items() if count < sampled]
    if partial:
        listed = ", ".join(f"{name!r} ({count:,} of {sampled:,})" for name, count in partial[:6])
        more = f" and {len(partial) - 6} more" if len(partial) > 6 else ""
        warnings.append(
            f"attribute names vary between instances: {listed}{more} set on only some; each "
            "needs a slot, and reading an unset slot raises AttributeError"
        )
    outside = [name for name in tally.seen if name not in plan.class_code_names]
    if outside:
        listed = ", ".join(repr(name) for name in outside[:6])
        if len(outside) > 6:
            listed += f" and {len(outside) - 6} more"
        warnings.append(
            f"set from outside the class's code (setattr, other modules): {listed}; with "
            "__slots__ a name that is not listed raises AttributeError"
        )
    if tally.unnamed:
        warnings.append(
            f"{tally.unnamed:,} sampled instances hold attributes under names heaplens could "
            "not find in any code: the suggestion may lack some"
        )
    bad = [name for name in tally.seen if not name.isidentifier()]
    if bad:
        warnings.append(
            f"{_are(bad)} not {_plural(bad, 'an identifier', 'identifiers')}: no slot can hold "
            "it; keeping them needs '__dict__' in __slots__"
        )
    if tally.weak:
        provided = plan.weakref_in_bases or plan.weakref_in_solid
        where = "a base provides it" if provided else "it is in the suggestion"
        warnings.append(
            f"{tally.weak:,} of {sampled:,} sampled instances are weakly referenced: __slots__ "
            f"needs '__weakref__' ({where})"
        )
    for base in plan.dict_bases:
        base_slots = tuple(unmangle(base, name) for name in for_bases.get(base, ()))
        warnings.append(
            f"base class {class_name(base)} has no __slots__, so instances keep a __dict__: "
            f"no saving unless it gets __slots__ = {base_slots!r} too (the estimate assumes it)"
        )
    warnings.extend(_code_warnings(plan))
    if tally.dict_instances and probe is not None and probe.inline:
        warnings.append(
            f"{tally.dict_instances:,} instances have a real __dict__ where the others keep "
            "inline values: code read it (vars(), __dict__, pickle, copy) or they outgrew the "
            "class's shared keys"
        )
    if plan.installed:
        warnings.append("defined in an installed package: the change belongs upstream")
    return warnings


def _are(names: list[str]) -> str:
    listed = ", ".join(repr(name) for name in names)
    return f"{listed} {'is' if len(names) == 1 else 'are'}"


def _plural(names: list[str], one: str, many: str) -> str:
    return one if len(names) == 1 else many


def _code_warnings(plan: Plan) -> list[str]:
    """Code of the class and its Python bases that needs a __dict__."""
    warnings: list[str] = []
    for klass in plan.mro:
        if not is_python_class(klass):
            continue
        namespace = class_namespace(klass)
        for name in _PICKLE_HOOKS:
            if name in namespace:
                warnings.append(
                    f"{class_name(klass)} defines {name}: check it does not rely on __dict__ "
                    "(a slotted instance's default state is (None, {slot: value}))"
                )
        for name, value in namespace.items():
            if is_cached_property(value):
                warnings.append(
                    f"{class_name(klass)}.{name} is a functools.cached_property, which stores "
                    "into the instance's __dict__: without one it raises TypeError"
                )
        reported = set()
        for label, code in code_objects(klass):
            used = set(names_in_code(code))
            line = code.co_firstlineno
            if "__dict__" in used and (label, "__dict__") not in reported:
                reported.add((label, "__dict__"))
                warnings.append(f"{label} (line {line}) uses __dict__: a slotted instance has none")
            if "vars" in code.co_names and (label, "vars") not in reported:
                reported.add((label, "vars"))
                warnings.append(f"{label} (line {line}) calls vars(), which needs a __dict__")
            pickles = sorted(_PICKLE_MODULES.intersection(code.co_names))
            if pickles and (label, "pickle") not in reported:
                reported.add((label, "pickle"))
                warnings.append(
                    f"{label} (line {line}) uses {pickles[0]}: protocols 0 and 1 cannot pickle "
                    "slotted instances that have no __getstate__"
                )
    return warnings

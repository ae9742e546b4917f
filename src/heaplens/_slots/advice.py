"""__slots__ advice: which classes would save memory with __slots__, measured here.

An instance of an ordinary class keeps its attributes in a per-instance
__dict__. CPython 3.11 to 3.13 do not create that dict until something asks
for it: the values sit in an array laid out by the class's shared keys (3.11
and 3.12: a block of its own; 3.13: inside the object's block), and a real
dict appears only when code reads `obj.__dict__` (vars(), pickling, copy) or
an instance outgrows the shared keys. What __slots__ saves therefore depends
on the interpreter and on each instance's history, so it is measured:

- bare instances of the class (made with its base's __new__; no __init__
  runs), and the dicts vars() would give them, are measured under
  tracemalloc; so are bare instances of a throwaway class with the suggested
  __slots__ on the same base;
- each live instance is then costed from its own size (as sys.getsizeof
  counts it, computed in C so that no __sizeof__ of the user's runs) plus
  its attribute storage: the measured values array, or the dict it has.

Invariants. None of the user's code runs: no __init__, __repr__,
__getattr__, property, __sizeof__ or __class__ of theirs. Attributes are read
with object.__getattribute__ only under names the class does not define (or
where it holds a plain default), so no descriptor runs; bare instances get a
class without a finalizer before they are let go. An instance's __dict__ is
never created, except for at most _MAX_DICT_READS instances of a class that
hold values under names no code shows (the only way to learn those names
from Python), and only after they have been costed. The report holds strings
and numbers, never an instance or a class.
"""

from __future__ import annotations

import gc
import sys
from typing import NamedTuple

from heaplens import _core
from heaplens._report.lines import wrap
from heaplens._report.protocol import Report
from heaplens._report.units import format_bytes
from heaplens._slots.classes import (
    is_str,
    Plan,
    class_name,
    class_namespace,
    class_origin,
    is_python_class,
    type_attribute,
    unmangle,
)
from heaplens._slots.instances import Instance, names_inline, read_dict
from heaplens._slots.measure import Probe, total_size, twin_allocated
from heaplens._slots.pitfalls import warnings_for

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from heaplens._report.protocol import JSON

_SAMPLE = 10_000  # instances per class whose attributes are read
_MAX_DICT_READS = 5  # instances per class whose __dict__ may be created to learn names
_CHUNK = 1024  # instances whose referents are fetched at once
_WIDTH = 100


class SlotsAdvice(NamedTuple):
    """What __slots__ would change for one class (sizes in bytes, summed over
    its live instances)."""

    module: str
    qualname: str
    instances: int
    sampled: int  # instances whose attribute names were read
    bytes_now: int  # objects plus their dicts or values arrays
    storage_now: int  # of which dicts and values arrays
    dict_instances: int  # instances that have a real __dict__
    attributes: tuple[str, ...]  # names seen on the sampled instances, first seen first
    slots: tuple[str, ...]  # the suggested __slots__ of the class itself
    suggestion: str  # the line to write in the class body (or the decorator)
    bytes_after: int | None  # estimate with __slots__ (None: could not be measured)
    warnings: tuple[str, ...]  # where __slots__ would break code, or save less
    installed: bool  # defined in an installed package (site-packages)

    @property
    def name(self) -> str:
        return f"{self.module}.{self.qualname}" if self.module else self.qualname

    @property
    def per_instance_now(self) -> float:
        return self.bytes_now / self.instances if self.instances else 0.0

    @property
    def per_instance_after(self) -> float | None:
        if self.bytes_after is None or not self.instances:
            return None
        return self.bytes_after / self.instances

    @property
    def saving(self) -> int | None:
        return None if self.bytes_after is None else self.bytes_now - self.bytes_after

    @property
    def saving_percent(self) -> float | None:
        saving = self.saving  # None when bytes_after is
        if saving is None or not self.bytes_now:
            return None
        return 100.0 * saving / self.bytes_now


class SlotsReport(Report, list[SlotsAdvice]):
    """SlotsAdvice rows, largest saving first; `skipped` lists (name, reason)
    for classes that had enough instances but could not be measured."""

    def __init__(
        self,
        rows: Iterable[SlotsAdvice] = (),
        min_instances: int = 1000,
        skipped: Iterable[tuple[str, str]] = (),
    ) -> None:
        super().__init__(rows)
        self.min_instances = min_instances
        self.skipped = list(skipped)
        self.python = ".".join(str(part) for part in sys.version_info[:3])

    @property
    def total_saving(self) -> int:
        return sum(row.saving for row in self if row.saving is not None and row.saving > 0)

    DEFAULT_LIMIT = None
    DEFAULT_WIDTH = _WIDTH

    def _lines(self, limit: int | None, width: int | None) -> list[str]:
        """The advice as text that fits 100 columns: the first `limit` rows."""
        if not self and not self.skipped:
            return [
                f"no class has {self.min_instances:,} or more live instances with a __dict__ "
                "(the standard library and heaplens are left out)"
            ]
        lines = [
            f"__slots__ advice (Python {self.python}, classes with at least "
            f"{self.min_instances:,} live instances): could save {format_bytes(self.total_saving, decimals=1)}"
        ]
        for rank, row in enumerate(self if limit is None else self[:limit], 1):
            lines.append("")
            lines.extend(_format_row(rank, row))
        for name, reason in self.skipped:
            lines.extend(wrap(f"not measured: {name}: {reason}", _WIDTH, "    "))
        return lines

    def to_dict(self) -> dict[str, JSON]:
        """The report as plain data (JSON-ready)."""
        rows: list[dict[str, JSON]] = []
        for row in self:
            data = row._asdict()
            data["name"] = row.name
            data["per_instance_now"] = row.per_instance_now
            data["per_instance_after"] = row.per_instance_after
            data["attributes"] = list(row.attributes)
            data["slots"] = list(row.slots)
            data["warnings"] = list(row.warnings)
            data["saving"] = row.saving
            data["saving_percent"] = row.saving_percent
            rows.append(data)
        return {
            "python": self.python,
            "min_instances": self.min_instances,
            "rows": rows,
            "skipped": [{"name": name, "reason": reason} for name, reason in self.skipped],
        }


def _format_row(rank: int, row: SlotsAdvice) -> list[str]:
    installed = " (installed package)" if row.installed else ""
    lines = wrap(
        f"{row.name}{installed}  {row.instances:,} instances", _WIDTH, "    ", first=f"{rank:>2}. "
    )
    storage = format_bytes(row.storage_now, decimals=1)
    lines.append(
        f"    now       {format_bytes(row.bytes_now, decimals=1):>10}   {row.per_instance_now:.0f} B each"
        f"   (of which {storage} dicts and values arrays)"
    )
    if row.bytes_after is not None and row.saving is not None:  # both or neither
        lines.append(
            f"    slotted   {format_bytes(row.bytes_after, decimals=1):>10}   {row.per_instance_after:.0f} B each"
        )
        lines.append(
            f"    saving    {format_bytes(row.saving, decimals=1):>10}   {row.saving_percent:.1f}%"
        )
    sample = ""
    if row.sampled < row.instances:
        sample = f" (read on {row.sampled:,} of {row.instances:,} instances)"
    names = ", ".join(row.attributes) or "(none)"
    lines.extend(wrap(names + sample, _WIDTH, " " * 16, first="    attributes  "))
    lines.extend(wrap(row.suggestion, _WIDTH, " " * 16, first="    suggestion  "))
    for warning in row.warnings:
        lines.extend(wrap(warning, _WIDTH, " " * 16, first="    warning     "))
    return lines


def slots_advice(min_instances: int = 1000) -> SlotsReport:
    """Which classes would save memory with __slots__ (a SlotsReport, largest
    saving first): for each user class with at least min_instances live
    instances, what they cost now, the attribute names seen, a suggested
    __slots__, what the instances would cost with it, and warnings where it
    would break code. The standard library and heaplens are left out."""
    from heaplens import _args

    _args.count("slots_advice", "min_instances", min_instances, minimum=1)
    classes = _candidate_classes(min_instances)
    instances = _instances_of(classes)
    rows: list[SlotsAdvice] = []
    skipped: list[tuple[str, str]] = []
    try:
        for key, (cls, origin) in classes.items():
            objs = instances.pop(key)
            try:
                if len(objs) >= min_instances:
                    rows.append(_advise(cls, objs, installed=origin == "installed"))
            except Exception as error:  # one odd class must not fail the report
                skipped.append((class_name(cls), f"{type(error).__name__}: {error}"))
            finally:
                objs.clear()
    finally:
        instances.clear()
    rows.sort(key=lambda r: (r.saving is None, -(r.saving or 0), -r.bytes_now, r.name))
    return SlotsReport(rows, min_instances=min_instances, skipped=skipped)


def _candidate_classes(min_instances: int) -> dict[int, tuple[type, str]]:
    """{id(class): (class, origin)} for the user classes with a __dict__ and
    at least min_instances objects the collector tracks (every instance of a
    class written in Python is tracked). Keyed by id: hashing a class can run
    its metaclass's __hash__."""
    import types

    wanted: dict[int, tuple[type, str]] = {}
    for cls, count, _ in _core.census_of(None):
        if count < min_instances or not is_python_class(cls):
            continue
        if type_attribute(cls, "__dictoffset__", 0) == 0:
            continue  # no __dict__: slotted already
        mro = type_attribute(cls, "__mro__", ())
        # By identity: `in` would call a metaclass's __eq__ on each base.
        if any(base is type or base is types.ModuleType for base in mro):
            continue  # metaclasses and modules: the dict is what they are for
        origin = class_origin(cls)
        if origin not in ("stdlib", "heaplens"):
            wanted[id(cls)] = (cls, origin)
    return wanted


def _instances_of(classes: Mapping[int, tuple[type, str]]) -> dict[int, list[object]]:
    """{id(class): [instances]} from the collector's objects, by type(obj)
    (an object's __class__ may lie)."""
    found: dict[int, list[object]] = {key: [] for key in classes}
    if found:
        for obj in gc.get_objects():
            bucket = found.get(id(type(obj)))
            if bucket is not None:
                bucket.append(obj)
    return found


class _Tally:
    """What the instances of one class showed."""

    def __init__(self, count: int) -> None:
        self.instances = count
        self.sizes = 0  # getsizeof total
        self.storage = 0  # dicts and values arrays
        self.dict_instances = 0
        self.sampled = 0
        self.seen: dict[str, int] = {}  # name -> sampled instances that have it, first seen first
        self.unnamed = 0  # sampled instances with values no name was found for
        self.weak = 0  # sampled instances that are weakly referenced


def _advise(cls: type, objs: list[object], installed: bool) -> SlotsAdvice:
    plan = Plan(cls, installed)
    probe: Probe | None
    try:
        probe = Probe(cls, plan, objs[0])
    except Exception as error:
        probe = None
        plan.warnings.append(
            f"not measured ({type(error).__name__}: {error}): bytes now count the objects "
            "and their real dicts only"
        )
    tally = _Tally(len(objs))
    _read_instances(cls, objs, plan, probe, tally)
    return _row(cls, plan, probe, tally)


def _read_instances(
    cls: type, objs: list[object], plan: Plan, probe: Probe | None, tally: _Tally
) -> None:
    """Cost every instance; read names and weak references on a sample."""
    import weakref

    extra = probe.extra if probe is not None else 0
    in_block = _core.type_layout(cls)["inline_values"]  # the values are inside the object
    tally.sizes = total_size(objs)
    if in_block:
        tally.storage = extra * len(objs)
    for start in range(0, len(objs), _CHUNK):
        chunk = objs[start : start + _CHUNK]
        if dict not in set(map(type, gc.get_referents(*chunk))):
            # No instance here refers to any dict: all keep inline values.
            tally.storage += 0 if in_block else extra * len(chunk)
            continue
        for obj in chunk:
            instance = Instance(obj, cls, plan)
            if instance.dict is None:
                tally.storage += 0 if in_block else extra
                continue
            tally.dict_instances += 1
            dict_size = total_size([instance.dict])
            # dict_cost is known whenever dict_size is (Probe sets both).
            if probe is not None and probe.dict_size == dict_size and probe.dict_cost is not None:
                tally.storage += probe.dict_cost
            else:
                tally.storage += dict_size  # a dict with its own table: sized whole
    # Names, in the order the instances show them, on an even sample. Each
    # instance is costed above before its __dict__ may be read here.
    inline = probe is not None and probe.inline
    for obj in objs[:: -(-len(objs) // _SAMPLE)]:
        tally.sampled += 1
        tally.weak += weakref.getweakrefcount(obj) > 0
        instance = Instance(obj, cls, plan)
        if instance.dict is not None:
            names = [name for name in list(instance.dict) if is_str(name)]
        elif not inline:
            names = []  # no dict yet, and what it refers to are not attributes
        else:
            names, unnamed = names_inline(obj, instance.values, plan)
            if unnamed and plan.dict_reads < _MAX_DICT_READS:
                names = read_dict(obj, plan) or names
            elif unnamed:
                tally.unnamed += 1
        for name in names:
            if name not in tally.seen:
                tally.seen[name] = 0
                plan.known.append(name)
            tally.seen[name] += 1


def _row(cls: type, plan: Plan, probe: Probe | None, tally: _Tally) -> SlotsAdvice:
    """The SlotsAdvice for one class."""
    attributes = tuple(tally.seen)
    names = [name for name in attributes if name.isidentifier()]
    # A name that a Python base without __slots__ uses in its own code (and
    # the class does not) belongs in that base's __slots__.
    for_bases: dict[type, list[str]] = {}
    own = list(plan.own_slots)
    for name in names:
        users = plan.code_names.get(name, ())
        bases = [klass for klass in users if klass in plan.dict_bases]
        if bases and cls not in users:
            for_bases.setdefault(bases[-1], []).append(name)
        elif name not in own:
            own.append(name)
    provided = plan.weakref_in_bases or plan.weakref_in_solid
    weakref_slot = plan.own_weakref or (tally.weak > 0 and not provided)
    slots = tuple(own) + (("__weakref__",) if weakref_slot else ())
    written = tuple(unmangle(cls, name) for name in slots)
    suggestion = f"__slots__ = {written!r}"
    dataclass = "__dataclass_fields__" in class_namespace(cls)
    if dataclass:
        options = "slots=True, weakref_slot=True" if weakref_slot else "slots=True"
        suggestion = f"@dataclass({options})  (it writes {suggestion})"

    bytes_after: int | None = None
    if probe is not None:
        twin_slots = slots + tuple(name for group in for_bases.values() for name in group)
        if plan.weakref_in_bases and not weakref_slot:
            twin_slots += ("__weakref__",)
        try:
            twin = twin_allocated(plan, twin_slots)
        except Exception as error:
            plan.warnings.append(
                f"no slotted twin could be built to measure ({type(error).__name__}: {error})"
            )
        else:
            # Each instance keeps what its size has beyond a bare instance's
            # (the items of a list or int base) and pays the twin's bytes.
            bytes_after = tally.sizes + tally.instances * (twin - probe.size)
    bytes_now = tally.sizes + tally.storage
    warnings = warnings_for(cls, plan, probe, tally, own, names, for_bases, dataclass)
    if bytes_after is not None and bytes_after > bytes_now:
        warnings.append(
            "__slots__ would cost more: every instance reserves a slot for each name seen, "
            "and most instances use few of them"
        )
    warnings.extend(plan.warnings)
    module = type_attribute(cls, "__module__")
    return SlotsAdvice(
        module=module if is_str(module) else "",
        qualname=type_attribute(cls, "__qualname__") or "?",
        instances=tally.instances,
        sampled=tally.sampled,
        bytes_now=bytes_now,
        storage_now=tally.storage,
        dict_instances=tally.dict_instances,
        attributes=attributes,
        slots=written,
        suggestion=suggestion,
        bytes_after=bytes_after,
        warnings=tuple(warnings),
        installed=plan.installed,
    )

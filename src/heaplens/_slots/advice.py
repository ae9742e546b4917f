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

import gc
import sys
from typing import NamedTuple

from heaplens import _core
from heaplens._report.lines import wrap
from heaplens._report.units import format_bytes

_SAMPLE = 10_000  # instances per class whose attributes are read
_MAX_DICT_READS = 5  # instances per class whose __dict__ may be created to learn names
_CHUNK = 1024  # instances whose referents are fetched at once
_MEMBER = type(type.__dict__["__weakrefoffset__"])  # the descriptor of a slot
_PICKLE_HOOKS = ("__getstate__", "__setstate__", "__reduce__", "__reduce_ex__")
_PICKLE_MODULES = frozenset({"pickle", "copyreg", "cloudpickle", "dill", "shelve"})
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
    attributes: tuple  # names seen on the sampled instances, first seen first
    slots: tuple  # the suggested __slots__ of the class itself
    suggestion: str  # the line to write in the class body (or the decorator)
    bytes_after: object  # estimate with __slots__ (None: could not be measured)
    warnings: tuple  # where __slots__ would break code, or save less
    installed: bool  # defined in an installed package (site-packages)

    @property
    def name(self):
        return f"{self.module}.{self.qualname}" if self.module else self.qualname

    @property
    def per_instance_now(self):
        return self.bytes_now / self.instances if self.instances else 0.0

    @property
    def per_instance_after(self):
        if self.bytes_after is None or not self.instances:
            return None
        return self.bytes_after / self.instances

    @property
    def saving(self):
        return None if self.bytes_after is None else self.bytes_now - self.bytes_after

    @property
    def saving_percent(self):
        if self.bytes_after is None or not self.bytes_now:
            return None
        return 100.0 * self.saving / self.bytes_now


class SlotsReport(list):
    """SlotsAdvice rows, largest saving first; `skipped` lists (name, reason)
    for classes that had enough instances but could not be measured."""

    def __init__(self, rows=(), min_instances=1000, skipped=()):
        super().__init__(rows)
        self.min_instances = min_instances
        self.skipped = list(skipped)
        self.python = ".".join(str(part) for part in sys.version_info[:3])

    @property
    def total_saving(self):
        return sum(row.saving for row in self if row.saving is not None and row.saving > 0)

    def format(self):
        """The advice as text that fits 100 columns."""
        if not self and not self.skipped:
            return (
                f"no class has {self.min_instances:,} or more live instances with a __dict__ "
                "(the standard library and heaplens are left out)"
            )
        lines = [
            f"__slots__ advice (Python {self.python}, classes with at least "
            f"{self.min_instances:,} live instances): could save {format_bytes(self.total_saving, decimals=1)}"
        ]
        for rank, row in enumerate(self, 1):
            lines.append("")
            lines.extend(_format_row(rank, row))
        for name, reason in self.skipped:
            lines.extend(wrap(f"not measured: {name}: {reason}", _WIDTH, "    "))
        return "\n".join(lines)

    def show(self, file=None):
        print(self.format(), file=file)

    def __str__(self):
        return self.format()

    def to_dict(self):
        """The report as plain data (JSON-ready)."""
        rows = []
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


def _format_row(rank, row):
    installed = " (installed package)" if row.installed else ""
    lines = wrap(
        f"{row.name}{installed}  {row.instances:,} instances", _WIDTH, "    ", first=f"{rank:>2}. "
    )
    storage = format_bytes(row.storage_now, decimals=1)
    lines.append(
        f"    now       {format_bytes(row.bytes_now, decimals=1):>10}   {row.per_instance_now:.0f} B each"
        f"   (of which {storage} dicts and values arrays)"
    )
    if row.bytes_after is not None:
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


# -- reading classes without running their code ------------------------------


def _type_attribute(cls, name, default=None):
    """type's own descriptor for `name` (__mro__, __dict__, __flags__, ...)
    applied to cls: a metaclass cannot intercept it."""
    try:
        return type.__dict__[name].__get__(cls, type)
    except Exception:
        return default


def _namespace(cls):
    """The class's own namespace (a mappingproxy), or {}."""
    return _type_attribute(cls, "__dict__", {})


def _class_name(cls):
    module = _type_attribute(cls, "__module__")
    qualname = _type_attribute(cls, "__qualname__") or "?"
    return f"{module}.{qualname}" if isinstance(module, str) and module else qualname


def _lookup(cls, name):
    """(owner, value) of `name` in cls's MRO dicts, or None; nothing is called."""
    for klass in _type_attribute(cls, "__mro__", ()):
        namespace = _namespace(klass)
        if name in namespace:
            return klass, namespace[name]
    return None


def _is_python_class(cls):
    """A class written in Python (a mutable heap type with its own __slots__ or
    a dict), as opposed to a builtin or extension type (static, or immutable
    like _io.StringIO on 3.12), which fixes the object's layout."""
    layout = _core.type_layout(cls)
    if not layout["heap_type"] or layout["immutable"]:
        return False
    return "__slots__" in _namespace(cls) or _type_attribute(cls, "__dictoffset__", 0) != 0


def _declared_slots(cls):
    """The names in the class's own __slots__ (a str or an iterable of str)."""
    slots = _namespace(cls).get("__slots__", ())
    if isinstance(slots, str):
        return (slots,)
    try:
        return tuple(name for name in slots if isinstance(name, str))
    except TypeError:
        return ()


def _origin(cls):
    """'heaplens', 'stdlib', 'installed' (site-packages) or 'user'."""
    module_name = _type_attribute(cls, "__module__")
    if not isinstance(module_name, str):
        return "user"
    top = module_name.partition(".")[0]
    if top == "heaplens":
        return "heaplens"
    if top in sys.stdlib_module_names:
        return "stdlib"
    module = sys.modules.get(module_name)
    try:
        filename = object.__getattribute__(module, "__dict__").get("__file__")
    except Exception:
        filename = None
    if isinstance(filename, str):
        parts = filename.replace("\\", "/").split("/")
        if "site-packages" in parts or "dist-packages" in parts:
            return "installed"
        stdlib = _stdlib_dir()
        if stdlib and filename.startswith(stdlib):
            return "stdlib"
    return "user"


def _stdlib_dir():
    global _STDLIB
    if _STDLIB is None:
        import sysconfig

        path = sysconfig.get_paths().get("stdlib")
        _STDLIB = path.rstrip("/") + "/" if path else ""
    return _STDLIB


_STDLIB = None  # the standard library's directory, once known


def _code_objects(cls):
    """(label, code) for every function in the class's own namespace, nested
    functions and comprehensions included."""
    pending = []
    for name, value in _namespace(cls).items():
        for function in _functions_of(value):
            code = getattr(function, "__code__", None)
            if code is not None and type(code).__name__ == "code":
                pending.append((f"{_type_attribute(cls, '__qualname__')}.{name}", code))
    while pending:
        label, code = pending.pop()
        yield label, code
        for const in code.co_consts:
            if type(const) is type(code):
                pending.append((label, const))


def _functions_of(value):
    """The plain functions inside a class attribute (methods, static and class
    methods, property accessors, cached_property's function)."""
    import types

    kind = type(value)  # not isinstance(): a __class__ property could lie, and runs code
    if kind is types.FunctionType:
        return [value]
    if issubclass(kind, (staticmethod, classmethod)):
        return _functions_of(value.__func__)
    if issubclass(kind, property):
        return [f for f in (value.fget, value.fset, value.fdel) if f is not None]
    if _is_cached_property(value):
        return _functions_of(value.func)
    return []


def _is_cached_property(value):
    functools = sys.modules.get("functools")
    return functools is not None and issubclass(type(value), functools.cached_property)


def _code_names(code):
    """Names a code object uses as attributes or globals, and string constants
    that could be attribute names (setattr(self, "name", ...))."""
    names = list(code.co_names)
    names.extend(c for c in code.co_consts if type(c) is str and c.isidentifier())
    return names


def _module_code(cls):
    """Code objects of the functions and classes of the module that defines cls:
    where attributes are often set from outside the class."""
    module_name = _type_attribute(cls, "__module__")
    module = sys.modules.get(module_name) if isinstance(module_name, str) else None
    try:
        namespace = object.__getattribute__(module, "__dict__")
    except Exception:
        return
    import types

    for value in list(namespace.values()):
        if type(value) is types.FunctionType:
            pending = [value.__code__]
            while pending:
                code = pending.pop()
                yield code
                pending.extend(c for c in code.co_consts if type(c) is type(code))
        elif issubclass(type(value), type) and _type_attribute(value, "__module__") == module_name:
            for _, code in _code_objects(value):
                yield code


class _Plan:
    """What is known about one class before its instances are read."""

    def __init__(self, cls, installed):
        self.installed = installed
        self.mro = tuple(_type_attribute(cls, "__mro__", (cls,)))
        self.warnings = []
        # The layout: the first base not written in Python fixes the object's
        # layout (object, or a builtin such as list or Exception); the Python
        # bases in between add slots, or a dict when they have no __slots__.
        self.solid = object
        self.base_slots = []  # (name, member descriptor) of slotted Python bases
        self.dict_bases = []  # Python bases without __slots__
        self.weakref_in_bases = False  # a slotted Python base lists '__weakref__'
        for base in self.mro[1:]:
            if not _is_python_class(base):
                self.solid = base
                break
            if "__slots__" not in _namespace(base):
                self.dict_bases.append(base)
            for slot in _declared_slots(base):
                if slot == "__weakref__":
                    self.weakref_in_bases = True
                elif slot != "__dict__":
                    member = _namespace(base).get(_mangle(base, slot))
                    if type(member) is _MEMBER:  # not replaced by something that runs code
                        self.base_slots.append((_mangle(base, slot), member))
        self.weakref_in_solid = bool(_type_attribute(self.solid, "__weakrefoffset__", 0))
        self.own_slots = [s for s in _declared_slots(cls) if s not in ("__dict__", "__weakref__")]
        self.own_weakref = "__weakref__" in _declared_slots(cls)
        # Names the class and its bases define: these are not read from
        # instances (a descriptor would run), except plain default values.
        self.class_values = {}
        self.defaults = {}  # name -> the plain class attribute (a default value)
        for klass in reversed(self.mro):
            for name, value in _namespace(klass).items():
                self.class_values[name] = (klass, value)
        for name, (klass, value) in self.class_values.items():
            if klass is not object and _lookup(type(value), "__get__") is None:
                self.defaults[name] = value
        # Candidate attribute names, from the code that could set them.
        self.code_names = {}  # name -> the Python classes whose own code uses it
        candidates = []
        for klass in self.mro:
            if not _is_python_class(klass):
                continue
            static = _namespace(klass).get("__static_attributes__", ())  # 3.13
            for name in [*static, *_annotation_names(klass)]:
                candidates.append(name)
                self.code_names.setdefault(name, []).append(klass)
            for _, code in _code_objects(klass):
                for name in _code_names(code):
                    candidates.append(name)
                    self.code_names.setdefault(name, []).append(klass)
        self.class_code_names = set(candidates)
        candidates.extend(name for code in _module_code(cls) for name in _code_names(code))
        self.candidates = _unique(n for n in candidates if self.readable(n) or n in self.defaults)
        self.known = []  # names found on instances so far, first seen first
        self.dict_reads = 0
        self._order = (0, self.candidates)

    def lookup_order(self):
        """Names to look up on an instance: those found so far first."""
        if self._order[0] != len(self.known):
            self._order = (len(self.known), _unique(self.known + self.candidates))
        return self._order[1]

    def readable(self, name):
        """Whether object.__getattribute__(obj, name) reads only the instance:
        the class defines nothing under that name."""
        return name not in self.class_values


def _annotation_names(cls):
    namespace = _namespace(cls)
    names = list(namespace.get("__dataclass_fields__", ()) or ())
    annotations = namespace.get("__annotations__")
    if isinstance(annotations, dict):
        names.extend(name for name in annotations if isinstance(name, str))
    return names


def _unique(names):
    seen = set()
    return [n for n in names if not (n in seen or seen.add(n))]


def _mangle(cls, name):
    """The name a private slot gets in cls ('__x' -> '_Cls__x')."""
    if not name.startswith("__") or name.endswith("__"):
        return name
    stripped = (_type_attribute(cls, "__name__") or "").lstrip("_")
    return f"_{stripped}{name}" if stripped else name


def _unmangle(cls, name):
    """'_Cls__x' -> '__x' when it is cls's own private name, as written in its body."""
    stripped = (_type_attribute(cls, "__name__") or "").lstrip("_")
    prefix = f"_{stripped}__"
    if stripped and name.startswith(prefix) and not name.endswith("__"):
        return "__" + name[len(prefix) :]
    return name


# -- measuring ----------------------------------------------------------------


def _size(objects):
    """The sys.getsizeof total of `objects`, computed in C: no __sizeof__
    written in Python runs (heaplens's census sizes)."""
    return sum(row[2] for row in _core.census_of(list(objects)))


class _Tracing:
    """A block during which tracemalloc traces and the collector is paused
    (tracemalloc is left as it was found: a user's trace goes on)."""

    def __enter__(self):
        import tracemalloc

        self.tracemalloc = tracemalloc
        self.was_tracing = tracemalloc.is_tracing()
        self.gc_was_enabled = gc.isenabled()
        gc.disable()
        if not self.was_tracing:
            tracemalloc.start()
        return self

    def __exit__(self, *exc_info):
        if not self.was_tracing:
            self.tracemalloc.stop()
        if self.gc_was_enabled:
            gc.enable()

    def bytes_each(self, function, arguments):
        """([function(a) for a in arguments], the bytes the allocator handed out
        per call). The measuring allocates a little too (a tuple and two ints,
        more or less depending on free lists): it is measured alike and taken
        off, what is left of it is spread over the batch, and the result is
        rounded to whole pointers, as every block measured here (objects of a
        fixed size, dicts, values arrays) is."""
        results = [None] * len(arguments)

        def run():
            for index, argument in enumerate(arguments):
                results[index] = function(argument)

        overhead = self._measure(_nothing)
        size = self._measure(run)
        return results, _POINTER * round((size - overhead) / len(arguments) / _POINTER)

    def _measure(self, function):
        traced = self.tracemalloc.get_traced_memory
        before = traced()[0]
        function()
        return traced()[0] - before


def _nothing():
    return None


def _agreed(attempt, dispose):
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


def _drop(objects):
    return None


def _disarmer(cls, instance):
    """A function that lets go of bare instances of cls without running their
    finalizer (a __del__, or a C finalizer such as io's, which calls close()):
    it gives each a class of the same layout, a plain subclass of cls's own
    base, whose __del__ does nothing. _drop when instances have no finalizer;
    None when making that class would run the user's code (a metaclass, an
    __init_subclass__)."""
    if _core.finalizer_kind(instance) is None:
        return _drop
    base = _type_attribute(cls, "__base__")
    if type(base) is not type or _lookup(base, "__init_subclass__")[0] is not object:
        return None
    namespace = {"__module__": __name__, "__del__": _no_finalizer}
    blank = type("_heaplens_probe", (base,), namespace)

    def disarm(objects):
        for obj in objects:
            try:
                _SET_CLASS(obj, blank)  # object's own setter: a __class__ of theirs is not asked
            except TypeError:
                _UNDISARMED.append(obj)  # kept, rather than finalized half-made

    return disarm


def _no_finalizer(self):
    return None


_SET_CLASS = object.__dict__["__class__"].__set__
# Bare instances whose class could not be swapped (never seen so far): kept for
# the life of the process, since letting them go would run their __del__.
_UNDISARMED = []


def _has_inline_values(cls, plan):
    """Whether a new instance gets its attribute values before any attribute is
    set: where the values live in the object (3.13 and later) the type says so;
    where they live in an array of their own (3.11, 3.12), object.__new__
    allocates one for a managed-dict object."""
    layout = _core.type_layout(cls)
    if layout["inline_values"]:
        return True
    return layout["values_array"] and plan.solid is object


class _Probe:
    """Measured costs of a bare instance of the class (made with its base's
    __new__; no __init__ runs), which is then let go.

    size: its getsizeof size. extra: what its inline values cost beyond that
    (the separate values array of 3.11 and 3.12, the space inside the object
    on 3.13), 0 without inline values. dict_size, dict_cost: the getsizeof
    size and the real cost of a dict that shares the class's keys (None when
    unknown): real instances' dicts of that size are such dicts."""

    def __init__(self, cls, plan, instance):
        self.inline = _has_inline_values(cls, plan)
        self.values_inside = _core.type_layout(cls)["inline_values"]
        self.extra = 0
        self.dict_size = self.dict_cost = None
        dispose = _disarmer(cls, instance)
        if dispose is None:
            if self.inline or _type_attribute(cls, "__itemsize__", 0):
                raise TypeError("it has a finalizer, and no bare instance can be let go safely")
            # Fixed size, attributes in a real dict: any instance tells the size.
            self.size = _size([instance])
            return

        def make(_):
            return plan.solid.__new__(cls)

        with _Tracing() as tracing:
            probes, allocated = _agreed(lambda: tracing.bytes_each(make, range(_BATCH)), dispose)
            self.size = _size(probes[:1])
            dispose(probes)
            if self.inline:
                self.extra = max(0, allocated - self.size)
            if not _is_getset(_lookup(cls, "__dict__")):
                return
            if self.inline and self.values_inside:
                return  # a dict real instances show has left the object: sized as it is
            cost = self._dict_bytes(tracing, make, dispose)
        # 3.11 and 3.12 hand the values array to the dict; otherwise the dict
        # makes its own.
        self.dict_cost = cost + self.extra if self.inline else cost

    def _dict_bytes(self, tracing, make, dispose):
        """Bytes allocated to make the dict of a bare instance, as vars() would.
        The free list of dict objects is emptied first, so that each dict is
        allocated (freeing an earlier try's probes fills it again)."""
        drained = []

        def attempt():
            fresh = [make(i) for i in range(_BATCH)]
            drained.extend({} for _ in range(_DICT_FREE_LIST))
            dicts, cost = tracing.bytes_each(_dict_of, fresh)
            self.dict_size = _size(dicts[:1])
            return fresh, cost

        fresh, cost = _agreed(attempt, dispose)
        dispose(fresh)
        drained.clear()
        return cost


def _dict_of(obj):
    """obj's __dict__, made if it has none yet: only for classes whose
    __dict__ is the type's own getter (_is_getset), so no code of theirs runs."""
    return object.__getattribute__(obj, "__dict__")


_BATCH = 64  # bare instances made per measurement
_POINTER = tuple.__itemsize__  # bytes in a pointer
_DICT_FREE_LIST = 128  # more than CPython keeps (80)


def _is_getset(found):
    """Whether _lookup() found the type's own __dict__ getter (not a property)."""
    return found is not None and type(found[1]) is type(type.__dict__["__dict__"])


def _twin_allocated(plan, slots):
    """Bytes the allocator gives a bare instance of a throwaway class with
    `slots` (and the slotted bases' slots) on the same layout base."""
    names = [name for name, _ in plan.base_slots] + list(slots)
    namespace = {"__slots__": tuple(names), "__module__": __name__}
    twin = type("_heaplens_twin", (plan.solid,), namespace)

    def make(_):
        return plan.solid.__new__(twin)

    with _Tracing() as tracing:
        _, allocated = _agreed(lambda: tracing.bytes_each(make, range(_BATCH)), _drop)
    return allocated


# -- reading instances --------------------------------------------------------


class _Instance:
    """One instance's attribute storage: a real dict or inline values."""

    __slots__ = ("dict", "values")

    def __init__(self, obj, cls, plan):
        values = gc.get_referents(obj)
        _remove_one(values, cls)
        for _, member in plan.base_slots:
            try:
                _remove_one(values, member.__get__(obj, cls))
            except AttributeError:  # an unset slot
                pass
        self.dict = None
        for value in values:
            if type(value) is dict and _is_instance_dict(obj, value, plan):
                self.dict = value
                break
        self.values = values


def _remove_one(values, target):
    for index, value in enumerate(values):
        if value is target:
            del values[index]
            return True
    return False


def _is_instance_dict(obj, candidate, plan):
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


def _claim_value(obj, name, left, found):
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


def _names_inline(obj, values, plan):
    """The names of obj's inline attribute values, in their order, and how
    many values no name was found for. Each name is looked up with
    object.__getattribute__ and claims the value it returns."""
    left = {}
    for position, value in enumerate(values):
        left.setdefault(id(value), []).append(position)
    found = []
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


def _read_dict(obj, plan):
    """Make and read obj's __dict__ (only to learn names no code shows)."""
    if not _is_getset(_lookup(type(obj), "__dict__")):
        return None
    plan.dict_reads += 1
    return [name for name in list(_dict_of(obj)) if isinstance(name, str)]


# -- advice -------------------------------------------------------------------


def slots_advice(min_instances=1000):
    """Which classes would save memory with __slots__ (a SlotsReport, largest
    saving first): for each user class with at least min_instances live
    instances, what they cost now, the attribute names seen, a suggested
    __slots__, what the instances would cost with it, and warnings where it
    would break code. The standard library and heaplens are left out."""
    from heaplens import _args

    _args.count("slots_advice", "min_instances", min_instances, minimum=1)
    classes = _candidate_classes(min_instances)
    instances = _instances_of(classes)
    rows, skipped = [], []
    try:
        for cls, origin in classes.items():
            objs = instances.pop(cls)
            try:
                if len(objs) >= min_instances:
                    rows.append(_advise(cls, objs, installed=origin == "installed"))
            except Exception as error:  # one odd class must not fail the report
                skipped.append((_class_name(cls), f"{type(error).__name__}: {error}"))
            finally:
                objs.clear()
    finally:
        instances.clear()
    rows.sort(key=lambda r: (r.saving is None, -(r.saving or 0), -r.bytes_now, r.name))
    return SlotsReport(rows, min_instances=min_instances, skipped=skipped)


def _candidate_classes(min_instances):
    """{class: origin} for the user classes with a __dict__ and at least
    min_instances objects the collector tracks (every instance of a class
    written in Python is tracked)."""
    import types

    wanted = {}
    for cls, count, _ in _core.census_of(None):
        if count < min_instances or not _is_python_class(cls):
            continue
        if _type_attribute(cls, "__dictoffset__", 0) == 0:
            continue  # no __dict__: slotted already
        mro = _type_attribute(cls, "__mro__", ())
        if type in mro or types.ModuleType in mro:
            continue  # metaclasses and modules: the dict is what they are for
        origin = _origin(cls)
        if origin not in ("stdlib", "heaplens"):
            wanted[cls] = origin
    return wanted


def _instances_of(classes):
    """{class: [instances]} from the collector's objects, by type(obj) (an
    object's __class__ may lie)."""
    found = {cls: [] for cls in classes}
    if found:
        for obj in gc.get_objects():
            bucket = found.get(type(obj))
            if bucket is not None:
                bucket.append(obj)
    return found


class _Tally:
    """What the instances of one class showed."""

    def __init__(self, count):
        self.instances = count
        self.sizes = 0  # getsizeof total
        self.storage = 0  # dicts and values arrays
        self.dict_instances = 0
        self.sampled = 0
        self.seen = {}  # name -> sampled instances that have it, first seen first
        self.unnamed = 0  # sampled instances with values no name was found for
        self.weak = 0  # sampled instances that are weakly referenced


def _advise(cls, objs, installed):
    plan = _Plan(cls, installed)
    try:
        probe = _Probe(cls, plan, objs[0])
    except Exception as error:
        probe = None
        plan.warnings.append(
            f"not measured ({type(error).__name__}: {error}): bytes now count the objects "
            "and their real dicts only"
        )
    tally = _Tally(len(objs))
    _read_instances(cls, objs, plan, probe, tally)
    return _row(cls, plan, probe, tally)


def _read_instances(cls, objs, plan, probe, tally):
    """Cost every instance; read names and weak references on a sample."""
    import weakref

    extra = probe.extra if probe is not None else 0
    in_block = _core.type_layout(cls)["inline_values"]  # the values are inside the object
    tally.sizes = _size(objs)
    if in_block:
        tally.storage = extra * len(objs)
    for start in range(0, len(objs), _CHUNK):
        chunk = objs[start : start + _CHUNK]
        if dict not in set(map(type, gc.get_referents(*chunk))):
            # No instance here refers to any dict: all keep inline values.
            tally.storage += 0 if in_block else extra * len(chunk)
            continue
        for obj in chunk:
            instance = _Instance(obj, cls, plan)
            if instance.dict is None:
                tally.storage += 0 if in_block else extra
                continue
            tally.dict_instances += 1
            dict_size = _size([instance.dict])
            if probe is not None and probe.dict_size == dict_size:
                tally.storage += probe.dict_cost
            else:
                tally.storage += dict_size  # a dict with its own table: sized whole
    # Names, in the order the instances show them, on an even sample. Each
    # instance is costed above before its __dict__ may be read here.
    inline = probe is not None and probe.inline
    for obj in objs[:: -(-len(objs) // _SAMPLE)]:
        tally.sampled += 1
        tally.weak += weakref.getweakrefcount(obj) > 0
        instance = _Instance(obj, cls, plan)
        if instance.dict is not None:
            names = [name for name in list(instance.dict) if isinstance(name, str)]
        elif not inline:
            names = []  # no dict yet, and what it refers to are not attributes
        else:
            names, unnamed = _names_inline(obj, instance.values, plan)
            if unnamed and plan.dict_reads < _MAX_DICT_READS:
                names = _read_dict(obj, plan) or names
            elif unnamed:
                tally.unnamed += 1
        for name in names:
            if name not in tally.seen:
                tally.seen[name] = 0
                plan.known.append(name)
            tally.seen[name] += 1


def _row(cls, plan, probe, tally):
    """The SlotsAdvice for one class."""
    attributes = tuple(tally.seen)
    names = [name for name in attributes if name.isidentifier()]
    # A name that a Python base without __slots__ uses in its own code (and
    # the class does not) belongs in that base's __slots__.
    for_bases = {}
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
    written = tuple(_unmangle(cls, name) for name in slots)
    suggestion = f"__slots__ = {written!r}"
    dataclass = "__dataclass_fields__" in _namespace(cls)
    if dataclass:
        options = "slots=True, weakref_slot=True" if weakref_slot else "slots=True"
        suggestion = f"@dataclass({options})  (it writes {suggestion})"

    bytes_after = None
    if probe is not None:
        twin_slots = slots + tuple(name for group in for_bases.values() for name in group)
        if plan.weakref_in_bases and not weakref_slot:
            twin_slots += ("__weakref__",)
        try:
            twin = _twin_allocated(plan, twin_slots)
        except Exception as error:
            plan.warnings.append(
                f"no slotted twin could be built to measure ({type(error).__name__}: {error})"
            )
        else:
            # Each instance keeps what its size has beyond a bare instance's
            # (the items of a list or int base) and pays the twin's bytes.
            bytes_after = tally.sizes + tally.instances * (twin - probe.size)
    bytes_now = tally.sizes + tally.storage
    warnings = _warnings(cls, plan, probe, tally, own, names, for_bases, dataclass)
    if bytes_after is not None and bytes_after > bytes_now:
        warnings.append(
            "__slots__ would cost more: every instance reserves a slot for each name seen, "
            "and most instances use few of them"
        )
    warnings.extend(plan.warnings)
    module = _type_attribute(cls, "__module__")
    return SlotsAdvice(
        module=module if isinstance(module, str) else "",
        qualname=_type_attribute(cls, "__qualname__") or "?",
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


def _warnings(cls, plan, probe, tally, own, names, for_bases, dataclass):
    """Where the suggested __slots__ would break code, or save less."""
    warnings = []
    sampled = tally.sampled
    namespace = _namespace(cls)
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
                f"the slot {name!r} hides the default {_class_name(owner)}.{name}: an instance "
                "that never sets it raises AttributeError instead of reading the default"
            )
    if dataclass:
        fields = set(namespace.get("__dataclass_fields__") or ())
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
        base_slots = tuple(_unmangle(base, name) for name in for_bases.get(base, ()))
        warnings.append(
            f"base class {_class_name(base)} has no __slots__, so instances keep a __dict__: "
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


def _are(names):
    listed = ", ".join(repr(name) for name in names)
    return f"{listed} {'is' if len(names) == 1 else 'are'}"


def _plural(names, one, many):
    return one if len(names) == 1 else many


def _code_warnings(plan):
    """Code of the class and its Python bases that needs a __dict__."""
    warnings = []
    for klass in plan.mro:
        if not _is_python_class(klass):
            continue
        namespace = _namespace(klass)
        for name in _PICKLE_HOOKS:
            if name in namespace:
                warnings.append(
                    f"{_class_name(klass)} defines {name}: check it does not rely on __dict__ "
                    "(a slotted instance's default state is (None, {slot: value}))"
                )
        for name, value in namespace.items():
            if _is_cached_property(value):
                warnings.append(
                    f"{_class_name(klass)}.{name} is a functools.cached_property, which stores "
                    "into the instance's __dict__: without one it raises TypeError"
                )
        reported = set()
        for label, code in _code_objects(klass):
            used = set(_code_names(code))
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

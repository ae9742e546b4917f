"""What __slots__ advice reads from a class, without running its code:
its own namespace and declared slots, where it comes from (the standard
library, an installed package, the program), the names its methods and module
use, and the Plan of the attributes a slotted twin would declare.
"""

from __future__ import annotations

import sys
from typing import cast

from heaplens import _core

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from functools import cached_property
    from types import CodeType, FunctionType, MemberDescriptorType
    from typing import Any, TypeGuard


# the descriptor of a slot
_MEMBER: type[MemberDescriptorType] = type(type.__dict__["__weakrefoffset__"])


def type_attribute(cls: type, name: str, default: object = None) -> Any:
    """type's own descriptor for `name` (__mro__, __dict__, __flags__, ...)
    applied to cls: a metaclass cannot intercept it."""
    try:
        return type.__dict__[name].__get__(cls, type)
    except Exception:
        return default


def is_str(value: object) -> TypeGuard[str]:
    """Whether value is a str, asked of its real type: isinstance() would
    fall back to value.__class__, which a user's object can make a property
    that runs code."""
    return issubclass(type(value), str)


def class_namespace(cls: type) -> Mapping[str, object]:
    """The class's own namespace (a mappingproxy), or {}."""
    return cast("Mapping[str, object]", type_attribute(cls, "__dict__", {}))


def class_name(cls: type) -> str:
    module = type_attribute(cls, "__module__")
    qualname = type_attribute(cls, "__qualname__") or "?"
    return f"{module}.{qualname}" if is_str(module) and module else qualname


def lookup(cls: type, name: str) -> tuple[type, object] | None:
    """(owner, value) of `name` in cls's MRO dicts, or None; nothing is called."""
    for klass in type_attribute(cls, "__mro__", ()):
        namespace = class_namespace(klass)
        if name in namespace:
            return klass, namespace[name]
    return None


def is_python_class(cls: type) -> bool:
    """A class written in Python (a mutable heap type with its own __slots__ or
    a dict), as opposed to a builtin or extension type (static, or immutable
    like _io.StringIO on 3.12), which fixes the object's layout."""
    layout = _core.type_layout(cls)
    if not layout["heap_type"] or layout["immutable"]:
        return False
    return "__slots__" in class_namespace(cls) or type_attribute(cls, "__dictoffset__", 0) != 0


def _declared_slots(cls: type) -> tuple[str, ...]:
    """The names in the class's own __slots__: a str, or a tuple, list or
    dict of them. Another iterable is not read (iterating it could run its
    code); Python consumed it when it made the class."""
    slots = class_namespace(cls).get("__slots__", ())
    if is_str(slots):
        return (slots,)
    kind = type(slots)  # compared by identity: `in` would call a metaclass's __eq__
    if kind is tuple or kind is list or kind is dict:
        return tuple(name for name in cast("Iterable[object]", slots) if is_str(name))
    return ()


def class_origin(cls: type) -> str:
    """'heaplens', 'stdlib', 'installed' (site-packages) or 'user'."""
    module_name = type_attribute(cls, "__module__")
    if not is_str(module_name):
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
    if is_str(filename):
        parts = filename.replace("\\", "/").split("/")
        if "site-packages" in parts or "dist-packages" in parts:
            return "installed"
        stdlib = _stdlib_dir()
        if stdlib and filename.startswith(stdlib):
            return "stdlib"
    return "user"


def _stdlib_dir() -> str:
    global _STDLIB
    if _STDLIB is None:
        import sysconfig

        path = sysconfig.get_paths().get("stdlib")
        _STDLIB = path.rstrip("/") + "/" if path else ""
    return _STDLIB


_STDLIB: str | None = None  # the standard library's directory, once known


def code_objects(cls: type) -> Iterator[tuple[str, CodeType]]:
    """(label, code) for every function in the class's own namespace, nested
    functions and comprehensions included."""
    pending: list[tuple[str, CodeType]] = []
    for name, value in class_namespace(cls).items():
        for function in _functions_of(value):
            code = cast("FunctionType", function).__code__  # a plain function (_functions_of)
            if type(code).__name__ == "code":
                pending.append((f"{type_attribute(cls, '__qualname__')}.{name}", code))
    while pending:
        label, code = pending.pop()
        yield label, code
        for const in code.co_consts:
            if type(const) is type(code):
                pending.append((label, const))


def _functions_of(value: object) -> list[object]:
    """The plain functions inside a class attribute (methods, static and class
    methods, property accessors, cached_property's function)."""
    import types

    kind = type(value)  # not isinstance(): a __class__ property could lie, and runs code
    if kind is types.FunctionType:
        return [value]
    # The casts say what `kind` was just found to be. Exact types only: a
    # subclass's attributes could be computed by its code.
    if kind is staticmethod or kind is classmethod:
        method = cast("staticmethod[..., object] | classmethod[Any, ..., object]", value)
        return _functions_of(method.__func__)
    if kind is property:
        accessors = cast("property", value)
        return [
            f
            for accessor in (accessors.fget, accessors.fset, accessors.fdel)
            for f in _functions_of(accessor)
        ]
    if is_cached_property(value):
        return _functions_of(cast("cached_property[object]", value).func)
    return []


def is_cached_property(value: object) -> bool:
    functools = sys.modules.get("functools")
    return functools is not None and issubclass(type(value), functools.cached_property)


def names_in_code(code: CodeType) -> list[str]:
    """Names a code object uses as attributes or globals, and string constants
    that could be attribute names (setattr(self, "name", ...))."""
    names = list(code.co_names)
    names.extend(c for c in code.co_consts if type(c) is str and c.isidentifier())
    return names


def _module_code(cls: type) -> Iterator[CodeType]:
    """Code objects of the functions and classes of the module that defines cls:
    where attributes are often set from outside the class."""
    module_name = type_attribute(cls, "__module__")
    module = sys.modules.get(module_name) if is_str(module_name) else None
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
        elif issubclass(type(value), type) and type_attribute(value, "__module__") == module_name:
            for _, code in code_objects(value):
                yield code


class Plan:
    """What is known about one class before its instances are read."""

    def __init__(self, cls: type, installed: bool) -> None:
        self.installed = installed
        self.mro = tuple(type_attribute(cls, "__mro__", (cls,)))
        self.warnings: list[str] = []
        # The layout: the first base not written in Python fixes the object's
        # layout (object, or a builtin such as list or Exception); the Python
        # bases in between add slots, or a dict when they have no __slots__.
        self.solid: type[object] = object
        # (name, member descriptor) of slotted Python bases
        self.base_slots: list[tuple[str, MemberDescriptorType]] = []
        self.dict_bases: list[type] = []  # Python bases without __slots__
        self.weakref_in_bases = False  # a slotted Python base lists '__weakref__'
        for base in self.mro[1:]:
            if not is_python_class(base):
                self.solid = base
                break
            if "__slots__" not in class_namespace(base):
                self.dict_bases.append(base)
            for slot in _declared_slots(base):
                if slot == "__weakref__":
                    self.weakref_in_bases = True
                elif slot != "__dict__":
                    member = class_namespace(base).get(_mangle(base, slot))
                    if type(member) is _MEMBER:  # not replaced by something that runs code
                        self.base_slots.append((_mangle(base, slot), member))
        self.weakref_in_solid = bool(type_attribute(self.solid, "__weakrefoffset__", 0))
        self.own_slots = [s for s in _declared_slots(cls) if s not in ("__dict__", "__weakref__")]
        self.own_weakref = "__weakref__" in _declared_slots(cls)
        # Names the class and its bases define: these are not read from
        # instances (a descriptor would run), except plain default values.
        self.class_values: dict[str, tuple[type, object]] = {}
        self.defaults: dict[str, object] = {}  # name -> the plain class attribute (a default)
        for klass in reversed(self.mro):
            for name, value in class_namespace(klass).items():
                self.class_values[name] = (klass, value)
        for name, (klass, value) in self.class_values.items():
            if klass is not object and lookup(type(value), "__get__") is None:
                self.defaults[name] = value
        # Candidate attribute names, from the code that could set them.
        self.code_names: dict[str, list[type]] = {}  # name -> classes whose own code uses it
        candidates: list[str] = []
        for klass in self.mro:
            if not is_python_class(klass):
                continue
            static = cast(
                "Iterable[str]", class_namespace(klass).get("__static_attributes__", ())
            )  # 3.13
            for name in [*static, *_annotation_names(klass)]:
                candidates.append(name)
                self.code_names.setdefault(name, []).append(klass)
            for _, code in code_objects(klass):
                for name in names_in_code(code):
                    candidates.append(name)
                    self.code_names.setdefault(name, []).append(klass)
        self.class_code_names = set(candidates)
        candidates.extend(name for code in _module_code(cls) for name in names_in_code(code))
        self.candidates = _unique(n for n in candidates if self.readable(n) or n in self.defaults)
        self.known: list[str] = []  # names found on instances so far, first seen first
        self.dict_reads = 0
        self._order = (0, self.candidates)

    def lookup_order(self) -> list[str]:
        """Names to look up on an instance: those found so far first."""
        if self._order[0] != len(self.known):
            self._order = (len(self.known), _unique(self.known + self.candidates))
        return self._order[1]

    def readable(self, name: str) -> bool:
        """Whether object.__getattribute__(obj, name) reads only the instance:
        the class defines nothing under that name."""
        return name not in self.class_values


def _annotation_names(cls: type) -> list[str]:
    namespace = class_namespace(cls)
    fields = namespace.get("__dataclass_fields__")
    names = (
        [name for name in cast("dict[object, object]", fields) if is_str(name)]
        if (type(fields) is dict)
        else []
    )
    annotations = namespace.get("__annotations__")
    if type(annotations) is dict:  # exact: a subclass could iterate with its own code
        names.extend(name for name in annotations if is_str(name))
    return names


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))  # first seen first


def _mangle(cls: type, name: str) -> str:
    """The name a private slot gets in cls ('__x' -> '_Cls__x')."""
    if not name.startswith("__") or name.endswith("__"):
        return name
    stripped = (type_attribute(cls, "__name__") or "").lstrip("_")
    return f"_{stripped}{name}" if stripped else name


def unmangle(cls: type, name: str) -> str:
    """'_Cls__x' -> '__x' when it is cls's own private name, as written in its body."""
    stripped = (type_attribute(cls, "__name__") or "").lstrip("_")
    prefix = f"_{stripped}__"
    if stripped and name.startswith(prefix) and not name.endswith("__"):
        return "__" + name[len(prefix) :]
    return name

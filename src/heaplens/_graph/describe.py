"""Short, safe descriptions of objects for reports.

Describing an object never runs its Python code: a lazy proxy whose
__class__ property raises (werkzeug's LocalProxy), a __repr__, __eq__ or
__hash__ that raises or blocks, a metaclass whose __name__ is a property.
So nothing here calls repr(), getattr() or isinstance() on an object it is
given (isinstance() asks obj.__class__): types are tested on type(obj), which
is the object's real type, and names and short reprs are read in C from the
type's and the module's own fields (heaplens._core.type_name, safe_repr,
module_str, src/ext/safe_names.h). Nothing here raises.
"""

from __future__ import annotations

import os
import sys
import types
from typing import cast

from heaplens import _core

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeVar

    _T = TypeVar("_T")

_REPR_MAX = 60

# The heaplens package's directory (with a trailing separator): frames running
# code under it are heaplens's own, never roots or allocation sites.
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


# ---- reference counts -------------------------------------------------------
# From 3.14 the interpreter may lend a local variable to a call without
# counting the reference (LOAD_FAST_BORROW), and a parameter may then hold a
# reference borrowed from its caller's frame, which no count includes. Which
# references sys.getrefcount sees is measured here once, not inferred from a
# version number.


def _argument_references() -> int:
    probe = object()
    return sys.getrefcount(probe) - 1  # minus `probe`, which counts everywhere


# What sys.getrefcount(local) adds for its own argument: 1, or 0 where the
# local is lent to the call uncounted.
GETREFCOUNT_ARGUMENT = _argument_references()


def counted(obj: _T) -> _T:
    """`obj` as a new, counted reference: bound over a parameter, which may be
    a reference lent by the caller that sys.getrefcount does not see, it makes
    the frame's reference one that every version counts."""
    return [obj][0]


def type_name(tp: object, shortnames: bool = True) -> str:
    """'Item' or 'app.models.Item' (builtins keep their bare name): the
    qualified name of class `tp`, read from the type itself (no metaclass
    property runs). '?' when tp is not a class."""
    if not issubclass(type(tp), type):
        return "?"
    return _core.name_of_type(cast(type, tp), True, not shortnames)


def type_module(tp: object) -> str | None:
    """The module that defined class `tp` ('builtins' for builtins), read from
    the type itself as type_name() does."""
    if not issubclass(type(tp), type):
        return None
    full = _core.name_of_type(cast(type, tp), True, True)
    qualname = _core.name_of_type(cast(type, tp), True, False)
    return full[: -len(qualname) - 1] if full != qualname else "builtins"


def safe_repr(obj: object, limit: int = _REPR_MAX) -> str:
    """A short text for obj that runs none of its code: repr() of builtin
    scalars and strings cut to `limit` characters, sizes of builtin
    containers, names of functions, classes and modules, and
    `<module.Type object at 0x...>` for the rest."""
    return _core.safe_repr(obj, limit)


def module_name(module: object) -> str:
    """The __name__ in a module's own dict, or '?'."""
    return _core.module_str(module) or "?"


def module_file(module: object) -> str | None:
    """The __file__ in a module's own dict when it is a str, else None."""
    return _core.module_str(module, "__file__")


def _exact_str(value: object) -> str:
    # A str subclass could run code in format() or len(): not shown.
    return value if type(value) is str else "?"


def function_name(function: object) -> str:
    """The __qualname__ of a Python function (a C field: no code runs), or
    the type name of another callable."""
    if type(function) is types.FunctionType:
        return _exact_str(function.__qualname__)
    return type_name(type(function))


def describe(obj: object) -> str:
    """A few words that say what obj is: 'module app', 'list', 'function f', ..."""
    tp = type(obj)  # the real type: obj.__class__ may lie, or raise
    if issubclass(tp, types.ModuleType):
        return f"module {module_name(obj)}"
    if issubclass(tp, type):
        return f"class {type_name(obj, shortnames=False)}"
    if tp is types.FunctionType:
        return f"function {function_name(obj)}"
    if tp is types.MethodType:
        return f"bound method {function_name(cast(types.MethodType, obj).__func__)}"
    if tp is types.BuiltinFunctionType:
        return f"builtin {_exact_str(cast(types.BuiltinFunctionType, obj).__name__)}"
    if tp is types.CodeType:
        code = cast(types.CodeType, obj)
        return (
            f"code {code.co_qualname} ({os.path.basename(code.co_filename)}:{code.co_firstlineno})"
        )
    if issubclass(tp, (dict, list, tuple, set, frozenset, types.CellType)):
        return type_name(tp)
    if issubclass(tp, (str, bytes, int, float, complex, bool)) or obj is None:
        return f"{type_name(tp)} {safe_repr(obj, 40)}"
    return f"{type_name(tp)} object at {id(obj):#x}"


def describe_frame(code: types.CodeType, lineno: int, thread_id: int | None = None) -> str:
    """'frame handler() at app.py:12' for an executing frame."""
    where = f"{os.path.basename(code.co_filename)}:{lineno}"
    thread = f" in thread {thread_id:#x}" if thread_id is not None else ""
    return f"frame {code.co_qualname}() at {where}{thread}"


def allocation_site(obj: object) -> str | None:
    """'file.py:12' where the tracer saw obj allocated, or None."""
    try:
        found = _core.get_object_traceback(obj)
    except Exception:
        return None
    if not found or not found[0]:
        return None
    filename, lineno = found[0][0]
    return f"{filename}:{lineno}"

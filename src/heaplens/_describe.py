"""Short, safe descriptions of objects for reports.

Everything here must survive hostile objects: a __repr__ that raises, an
attribute lookup that runs code, a string of a million characters. Nothing
here raises.
"""

import os
import sys
import types

_REPR_MAX = 60


# ---- reference counts -------------------------------------------------------
# From 3.14 the interpreter may lend a local variable to a call without
# counting the reference (LOAD_FAST_BORROW), and a parameter may then hold a
# reference borrowed from its caller's frame, which no count includes. Which
# references sys.getrefcount sees is measured here once, not inferred from a
# version number.


def _argument_references():
    probe = object()
    return sys.getrefcount(probe) - 1  # minus `probe`, which counts everywhere


# What sys.getrefcount(local) adds for its own argument: 1, or 0 where the
# local is lent to the call uncounted.
GETREFCOUNT_ARGUMENT = _argument_references()


def counted(obj):
    """`obj` as a new, counted reference: bound over a parameter, which may be
    a reference lent by the caller that sys.getrefcount does not see, it makes
    the frame's reference one that every version counts."""
    return [obj][0]


def type_name(tp, shortnames=True):
    """'Item' or 'app.models.Item' (builtins keep their bare name)."""
    qualname = getattr(tp, "__qualname__", None) or getattr(tp, "__name__", "?")
    if shortnames:
        return qualname
    module = getattr(tp, "__module__", None)
    if not module or module == "builtins":
        return qualname
    return f"{module}.{qualname}"


def safe_repr(obj, limit=_REPR_MAX):
    """repr(obj) cut to `limit` characters, or a placeholder when repr fails."""
    try:
        text = repr(obj)
    except Exception as error:  # a user's __repr__ may raise anything
        return f"<{type_name(type(obj))} object; repr raised {type(error).__name__}>"
    if not isinstance(text, str):
        return f"<{type_name(type(obj))} object>"
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def _attribute(obj, name):
    try:
        value = object.__getattribute__(obj, name)
    except Exception:
        return None
    return value if isinstance(value, str) else None


def describe(obj):
    """A few words that say what obj is: 'module app', 'list', 'function f', ..."""
    if isinstance(obj, types.ModuleType):
        return f"module {_attribute(obj, '__name__') or '?'}"
    if isinstance(obj, type):
        return f"class {type_name(obj, shortnames=False)}"
    if isinstance(obj, types.FunctionType):
        return f"function {_attribute(obj, '__qualname__') or '?'}"
    if isinstance(obj, types.MethodType):
        function = obj.__func__
        name = getattr(function, "__qualname__", None) or type_name(type(function))
        return f"bound method {name}"
    if isinstance(obj, (types.BuiltinFunctionType, types.BuiltinMethodType)):
        return f"builtin {_attribute(obj, '__name__') or '?'}"
    if isinstance(obj, types.CodeType):
        return f"code {obj.co_qualname} ({os.path.basename(obj.co_filename)}:{obj.co_firstlineno})"
    if isinstance(obj, (dict, list, tuple, set, frozenset, types.CellType)):
        return type_name(type(obj))
    if isinstance(obj, (str, bytes, int, float, complex, bool)) or obj is None:
        return f"{type_name(type(obj))} {safe_repr(obj, 40)}"
    return f"{type_name(type(obj))} object at {id(obj):#x}"


def describe_frame(code, lineno, thread_id=None):
    """'frame handler() at app.py:12' for an executing frame."""
    where = f"{os.path.basename(code.co_filename)}:{lineno}"
    thread = f" in thread {thread_id:#x}" if thread_id is not None else ""
    return f"frame {code.co_qualname}() at {where}{thread}"


def allocation_site(obj):
    """'file.py:12' where the tracer saw obj allocated, or None."""
    from heaplens import _core

    try:
        found = _core.get_object_traceback(obj)
    except Exception:
        return None
    if not found or not found[0]:
        return None
    filename, lineno = found[0][0]
    return f"{filename}:{lineno}"


def human_size(size):
    """1234567 -> '1.2 MiB'."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"

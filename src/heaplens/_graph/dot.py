"""Graphviz output for heaplens.objgraph: names, labels, colours, the .dot text
and how a finished .dot file is shown to the user.

Everything here works on plain Python objects and strings; nothing walks the
heap, and nothing runs an object's own code (its __repr__, __class__, a
metaclass's __name__): names and short reprs are read in C, so an object
with a custom __repr__ is shown as `<module.Type object at 0x...>` where
objgraph would call it. The text is objgraph 3.6.2's, byte for byte (node ids are "o" + id(obj),
the same labels, the same colours printed with "%g"), so tools that read
objgraph's .dot files read these. Edge labels are the exception: the engine's
labels ("['key']", "[3]", ".attr") are preferred by the caller, and
`objgraph_edge_label` below is only the fallback for edges the engine cannot
name.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import types
from typing import cast

from heaplens import _core
from heaplens._graph import labels
from heaplens._graph.describe import type_module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import TypeGuard, TypeVar

    from heaplens._graph.labels import Label

    _T = TypeVar("_T")
    _HSV = tuple[float, float, float]  # a colour: hue, saturation, value

HEADER = "digraph ObjectGraph {\n  node[shape=box, style=filled, fillcolor=white];\n"
FOOTER = "}\n"

# Node colours: hue, saturation, value at depth 0 and at max_depth.
NODE_GRADIENT = ((0, 0, 1), (0, 0, 0.3))
TOO_MANY_GRADIENT = ((0, 1, 1), (0, 1, 0.3))

_IDENTIFIER = re.compile(r"[a-zA-Z_][a-zA-Z_0-9]*$")


def type_name(tp: object, shortnames: bool = True) -> str:
    """objgraph's name for objects of type `tp`: "name" or "module.name"
    (builtins keep their bare name), read from the type itself."""
    if not issubclass(type(tp), type):
        return "?"
    name = _core.name_of_type(cast(type, tp))
    return name if shortnames else f"{type_module(tp)}.{name}"


def short_typename(obj: object) -> str:
    return type_name(type(obj), True)


def long_typename(obj: object) -> str:
    return type_name(type(obj), False)


def node_id(address: int) -> str:
    """The .dot node name of the object at `address` (an id())."""
    return f"o{address}".replace("-", "_")


def quote(text: str) -> str:
    """`text` escaped for a double-quoted .dot string."""
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return text.replace("\0", "\\\\0")


def _is_a(obj: object, classes: type[_T]) -> TypeGuard[_T]:
    # type(), not isinstance(): a mock.Mock(spec=X) claims to be an X via __class__.
    return issubclass(type(obj), classes)


def _cut_repr(obj: object) -> str:
    """repr(obj)[:40] for builtins; never runs obj's own __repr__."""
    return _core.safe_repr(obj, 40)[:40]


def _name_or_repr(value: object) -> str:
    """value.__name__ of a class, module, function or builtin, read from C
    fields; the cut repr otherwise."""
    tp = type(value)
    if issubclass(tp, type):
        return _core.name_of_type(cast(type, value))
    if issubclass(tp, types.ModuleType):
        return _core.module_str(value) or _cut_repr(value)
    if tp is types.FunctionType or tp is types.BuiltinFunctionType:
        name = cast("types.FunctionType | types.BuiltinFunctionType", value).__name__
        return name if type(name) is str else _cut_repr(value)
    return _cut_repr(value)


def _is_one_of(tp: type, classes: tuple[type, ...]) -> bool:
    """tp is one of `classes`, by identity (`in` would run a metaclass's __eq__)."""
    return any(tp is cls for cls in classes)


def _is_true(obj: object) -> bool:
    """bool(obj) for objects whose truth runs no user code (None and the
    builtins); True for other objects, as object's default is."""
    if obj is None or _is_one_of(type(obj), (bool, int, float, str, bytes, tuple, list, dict, set)):
        return bool(obj)
    return True


def short_repr(obj: object) -> str:
    """The second line of a node's label: a name, a size or a cut repr."""
    tp = type(obj)  # the real type: obj.__class__ may lie, or raise
    if issubclass(tp, (type, types.ModuleType, types.BuiltinFunctionType)):
        return _name_or_repr(obj)
    if tp is types.MethodType:
        method = cast(types.MethodType, obj)
        name = _name_or_repr(method.__func__)
        return f"{name} (bound)" if _is_true(method.__self__) else name
    if tp is types.FunctionType and cast(types.FunctionType, obj).__name__ == "<lambda>":
        code = cast(types.FunctionType, obj).__code__
        return f"lambda: {os.path.basename(code.co_filename)}:{code.co_firstlineno}"
    if tp is types.FrameType:
        frame = cast(types.FrameType, obj)
        return f"{frame.f_code.co_filename}:{frame.f_lineno}"
    for base in (tuple, list, dict, set):
        if issubclass(tp, base):
            # The base's length: no __len__ override runs (obj is an instance of base).
            return f"{base.__len__(obj)} items"  # type: ignore[arg-type]
    return _cut_repr(obj)


def safe_repr(obj: object) -> str:
    try:
        return short_repr(obj)
    except Exception:
        return "(unrepresentable)"


def refcount_label(obj: object, refcount: int, held_here: int) -> int:
    """The number shown by refcounts=True: sys.getrefcount() less the
    `held_here` references the caller's own code holds. An immortal object
    (3.12+: None, small ints, interned strings, ...) has a fixed count that no
    reference moves, whose value differs between versions; objgraph's fixed 4
    is taken off it."""
    if _core.is_immortal(obj):
        return refcount - 4
    return refcount - held_here


def node_label(
    obj: object,
    extra_info: Callable[[object], object] | None = None,
    refcount: int | None = None,
    shortnames: bool = True,
) -> str:
    """The quoted label of a node: type name [refcount], short repr, extra info."""
    first = type_name(type(obj), shortnames)
    if refcount is not None:
        first += f" [{refcount}]"
    lines = [first, safe_repr(obj)]
    if extra_info:
        lines.append(str(extra_info(obj)))
    return quote("\n".join(lines))


def node_attrs(
    obj: object, extra_node_attrs: Callable[[object], Mapping[str, object]] | None
) -> str:
    """', name="value", ...' from extra_node_attrs(obj), or '' without it."""
    if extra_node_attrs is None:
        return ""
    attrs = extra_node_attrs(obj)
    pairs = [
        f'{name}="{quote(str(value))}"'
        for name, value in sorted(attrs.items())
        if value is not None
    ]
    return ", " + ", ".join(pairs)


def gradient(start: _HSV, end: _HSV, depth: int, max_depth: int) -> tuple[float, ...]:
    """The colour `depth` steps of `max_depth` along the line from start to end."""
    if max_depth == 0:
        return start
    frac = float(depth) / max_depth
    return tuple(a * (1 - frac) + b * frac for a, b in zip(start, end))


def node_colour(
    obj: object, depth: int, max_depth: int, highlight: Callable[[object], object] | None = None
) -> _HSV:
    """(h, s, v) of a node: grey by depth, green for a module, blue when highlighted."""
    h, s, v = gradient(*NODE_GRADIENT, depth, max_depth)
    if issubclass(type(obj), types.ModuleType):
        h, s = 0.3, 1
    if highlight and highlight(obj):
        h, s, v = 0.6, 0.6, 0.5 + v * 0.5
    return h, s, v


def engine_edge_attrs(label: Label) -> str:
    """' [label=...]' for a (kind, key) label named by the engine (see
    heaplens._graph.labels): attributes weigh most, then str dict keys."""
    if label[0] == labels.ATTRIBUTE:
        weight = ",weight=10"
    elif label[0] == labels.VALUE and cast(str, label[1]).startswith("'"):
        weight = ",weight=2"
    else:
        weight = ""
    return f' [label="{quote(labels.render(label))}"{weight}]'


def objgraph_edge_label(source: object, target: object, shortnames: bool = True) -> str:
    """objgraph's own edge label for source -> target, '' when it has none."""
    # Only builtin types are looked into (their attributes are C fields):
    # getattr() on a user's object could run its code. The engine names the
    # references of instances (".attr", ".__dict__") before this is asked.
    if _is_a(source, types.FrameType):
        if target is source.f_locals:
            return ' [label="f_locals",weight=10]'
        if target is source.f_globals:
            return ' [label="f_globals",weight=10]'
    if _is_a(source, types.MethodType):
        if target is source.__self__:
            return ' [label="__self__",weight=10]'
        if target is source.__func__:
            return ' [label="__func__",weight=10]'
    if _is_a(source, types.FunctionType):
        for attr in dir(source):
            if getattr(source, attr) is target:
                return f' [label="{quote(attr)}",weight=10]'
    if _is_a(source, dict):
        for key, value in list(dict.items(source)):  # dict's own items(): no override runs
            if value is not target:
                continue
            if type(key) is str and _IDENTIFIER.match(key):
                return f' [label="{quote(key)}",weight=2]'
            name = type_name(type(key), shortnames)
            return f' [label="{quote(name + chr(10) + safe_repr(key))}"]'
    return ""


def find_program(name: str) -> str | None:
    """The path of executable `name` on PATH, or None. Tests replace this."""
    return shutil.which(name)


def in_ipython_with_graphviz() -> types.ModuleType | None:
    """The graphviz module when running in a graphical IPython shell, else None
    (objgraph then returns a graphviz.Source instead of writing a file)."""
    import builtins

    get_ipython = getattr(builtins, "get_ipython", None)
    if get_ipython is None:
        return None
    try:
        import graphviz  # type: ignore[import-not-found, unused-ignore]  # optional
    except ImportError:
        return None
    if "TerminalInteractiveShell" in type(get_ipython()).__name__:
        return None  # text-only shells: IPython's terminal, PyCharm's console
    return graphviz  # type: ignore[no-any-return, unused-ignore]  # graphviz is untyped


def present(dot_filename: str, filename: str | None = None) -> None:
    """Show the .dot file written at `dot_filename` as objgraph does.

    With a `filename` other than the .dot file itself, `dot` renders the graph
    into it in the format its extension names (png, svg, pdf...). Without one,
    xdot shows the graph, or `dot` makes a .png next to the .dot file. Without
    graphviz, says so and where the .dot file is. Prints one line either way.
    """
    if filename == dot_filename:
        return
    if not filename and find_program("xdot"):
        print("Spawning graph viewer (xdot)")
        subprocess.Popen(["xdot", dot_filename], close_fds=True)
        return
    dot = find_program("dot")
    if dot is None:
        print(
            f"Graphviz not found: no 'dot' on PATH to render the graph; "
            f"the graph is in {dot_filename}"
        )
        return
    if not filename:
        print("Graph viewer (xdot) not found, generating a png instead")
        filename = dot_filename[:-4] + ".png"
    fmt = os.path.splitext(filename)[1][1:]
    command = [dot, "-T" + fmt, "-o" + filename, dot_filename]
    returncode = subprocess.call(command)
    if returncode != 0:
        print(f'dot failed (exit code {returncode}) while executing "{" ".join(command)}"')
    else:
        print(f"Image generated as {filename}")

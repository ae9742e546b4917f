"""Graphviz output for heaplens.objgraph: names, labels, colours, the .dot text
and how a finished .dot file is shown to the user.

Everything here works on plain Python objects and strings; nothing walks the
heap. The text is objgraph 3.6.2's, byte for byte (node ids are "o" + id(obj),
the same labels, the same colours printed with "%g"), so tools that read
objgraph's .dot files read these. Edge labels are the exception: the engine's
labels ("['key']", "[3]", ".attr") are preferred by the caller, and
`objgraph_edge_label` below is only the fallback for edges the engine cannot
name.
"""

import inspect
import os
import re
import shutil
import subprocess
import types

from heaplens import _core

HEADER = "digraph ObjectGraph {\n  node[shape=box, style=filled, fillcolor=white];\n"
FOOTER = "}\n"

# Node colours: hue, saturation, value at depth 0 and at max_depth.
NODE_GRADIENT = ((0, 0, 1), (0, 0, 0.3))
TOO_MANY_GRADIENT = ((0, 1, 1), (0, 1, 0.3))

_IDENTIFIER = re.compile(r"[a-zA-Z_][a-zA-Z_0-9]*$")


def type_name(tp, shortnames=True):
    """objgraph's name for objects of type `tp`: "name" or "module.name"."""
    name = tp.__name__
    if shortnames:
        return name
    module = getattr(tp, "__module__", None)
    return f"{module}.{name}" if module else name


def short_typename(obj):
    return type_name(type(obj), True)


def long_typename(obj):
    return type_name(type(obj), False)


def node_id(address):
    """The .dot node name of the object at `address` (an id())."""
    return f"o{address}".replace("-", "_")


def quote(text):
    """`text` escaped for a double-quoted .dot string."""
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return text.replace("\0", "\\\\0")


def _is_a(obj, classes):
    # type(), not isinstance(): a mock.Mock(spec=X) claims to be an X via __class__.
    return issubclass(type(obj), classes)


def _name_or_repr(value):
    try:
        name = value.__name__
    except AttributeError:
        return repr(value)[:40]
    return name if _is_a(name, str) else repr(value)[:40]


def short_repr(obj):
    """The second line of a node's label: a name, a size or a cut repr."""
    if _is_a(obj, (type, types.ModuleType, types.BuiltinFunctionType)):
        return _name_or_repr(obj)
    if _is_a(obj, types.MethodType):
        name = _name_or_repr(obj.__func__)
        return f"{name} (bound)" if obj.__self__ else name
    if _is_a(obj, types.FunctionType) and obj.__name__ == "<lambda>":
        code = obj.__code__
        return f"lambda: {os.path.basename(code.co_filename)}:{code.co_firstlineno}"
    if _is_a(obj, types.FrameType):
        return f"{obj.f_code.co_filename}:{obj.f_lineno}"
    if _is_a(obj, (tuple, list, dict, set)):
        return f"{len(obj)} items"
    return repr(obj)[:40]


def safe_repr(obj):
    try:
        return short_repr(obj)
    except Exception:
        return "(unrepresentable)"


def refcount_label(obj, refcount, held_here):
    """The number shown by refcounts=True: sys.getrefcount() less the
    `held_here` references the caller's own code holds. An immortal object
    (3.12+: None, small ints, interned strings, ...) has a fixed count that no
    reference moves, whose value differs between versions; objgraph's fixed 4
    is taken off it."""
    if _core.is_immortal(obj):
        return refcount - 4
    return refcount - held_here


def node_label(obj, extra_info=None, refcount=None, shortnames=True):
    """The quoted label of a node: type name [refcount], short repr, extra info."""
    first = type_name(type(obj), shortnames)
    if refcount is not None:
        first += f" [{refcount}]"
    lines = [first, safe_repr(obj)]
    if extra_info:
        lines.append(str(extra_info(obj)))
    return quote("\n".join(lines))


def node_attrs(obj, extra_node_attrs):
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


def gradient(start, end, depth, max_depth):
    """The colour `depth` steps of `max_depth` along the line from start to end."""
    if max_depth == 0:
        return start
    frac = float(depth) / max_depth
    return tuple(a * (1 - frac) + b * frac for a, b in zip(start, end))


def node_colour(obj, depth, max_depth, highlight=None):
    """(h, s, v) of a node: grey by depth, green for a module, blue when highlighted."""
    h, s, v = gradient(*NODE_GRADIENT, depth, max_depth)
    if inspect.ismodule(obj):
        h, s = 0.3, 1
    if highlight and highlight(obj):
        h, s, v = 0.6, 0.6, 0.5 + v * 0.5
    return h, s, v


def engine_edge_attrs(label):
    """' [label=...]' for a label named by the engine ("['key']", "[3]", ".attr")."""
    if label.startswith(".") or label == "__dict__":
        weight = ",weight=10"
    elif label.startswith("['"):
        weight = ",weight=2"
    else:
        weight = ""
    return f' [label="{quote(label)}"{weight}]'


def objgraph_edge_label(source, target, shortnames=True):
    """objgraph's own edge label for source -> target, '' when it has none."""
    if _is_a(target, dict) and target is getattr(source, "__dict__", None):
        return ' [label="__dict__",weight=10]'
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
        for key, value in source.items():
            if value is not target:
                continue
            if _is_a(key, str) and _IDENTIFIER.match(key):
                return f' [label="{quote(key)}",weight=2]'
            name = type_name(type(key), shortnames)
            return f' [label="{quote(name + chr(10) + safe_repr(key))}"]'
    return ""


def find_program(name):
    """The path of executable `name` on PATH, or None. Tests replace this."""
    return shutil.which(name)


def in_ipython_with_graphviz():
    """The graphviz module when running in a graphical IPython shell, else None
    (objgraph then returns a graphviz.Source instead of writing a file)."""
    import builtins

    get_ipython = getattr(builtins, "get_ipython", None)
    if get_ipython is None:
        return None
    try:
        import graphviz
    except ImportError:
        return None
    if "TerminalInteractiveShell" in type(get_ipython()).__name__:
        return None  # text-only shells: IPython's terminal, PyCharm's console
    return graphviz


def present(dot_filename, filename=None):
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

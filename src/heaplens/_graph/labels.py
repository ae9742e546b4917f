"""How one object refers to another: edge labels.

The engine names each reference as data, a (kind, key) pair
(src/ext/edge_label.h): one label per reference, so an object held twice by
one tuple has two, ("item", 1) and ("item", 2). This module is the one place
that turns labels into text, and callers decide on kinds, never on text.

    ("attribute", name)   .name        (also .__dict__, .__class__, .cell_contents)
    ("item", index)       [index]
    ("value", key_text)   [key_text]   a dict's value; key_text describes the key
    ("key", None)         (key)        a dict's key
    ("local", name)       local name   a frame's variable; "cell", "free" alike
    ("held", what)        what         a frame's function, locals dict, code ...
"""

from __future__ import annotations

from typing import cast

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from heaplens import _core

    # A label as the engine gives it: (kind, key), the key a str, an int or None.
    Label = tuple[str, object]

ATTRIBUTE = "attribute"
ITEM = "item"
VALUE = "value"
KEY = "key"
LOCAL = "local"
CELL = "cell"
FREE = "free"
HELD = "held"

_VARIABLE_WORDS = {LOCAL: "local", CELL: "cell", FREE: "free variable"}


def render(label: Label) -> str:
    """The text of a label, written to follow a description of the referrer:
    '.name', '[3]', "['key']", '(key)', 'local x', 'free variable x', 'code'."""
    kind, key = label
    if kind == ATTRIBUTE:
        return f".{key}"
    if kind in (ITEM, VALUE):
        return f"[{key}]"
    if kind == KEY:
        return "(key)"
    if kind in _VARIABLE_WORDS:
        return f"{_VARIABLE_WORDS[kind]} {key}"
    return str(key)


def is_instance_dict(label: Label | None) -> bool:
    """Whether the reference is an object's (or a module's) __dict__."""
    return label == (ATTRIBUTE, "__dict__")


def is_variable(label: Label) -> bool:
    """Whether the reference is a frame's local or cell variable."""
    return label[0] in (LOCAL, CELL)


def identifier_key(label: Label) -> str | None:
    """The key of a dict value when it is a str that reads as a Python name
    ('x' for ("value", "'x'")), else None."""
    if label[0] != VALUE:
        return None
    text = cast(str, label[1])  # a dict value's key text
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        name = text[1:-1]
        if name.isidentifier():
            return name
    return None


def label_of(graph: _core.HeapGraph, source: int, target: int, occurrence: int = 0) -> Label | None:
    """The label of reference number `occurrence` (0 for the first) from node
    `source` to node `target`, or None when the engine cannot name it.
    LookupError when a node's object is gone."""
    labels = graph.edge_labels(source, target)
    return labels[occurrence] if occurrence < len(labels) else None


def text_of(graph: _core.HeapGraph, source: int, target: int, occurrence: int = 0) -> str | None:
    """render(label_of(...)), or None when the reference has no name."""
    label = label_of(graph, source, target, occurrence)
    return render(label) if label is not None else None


def texts_for_referrers(
    graph: _core.HeapGraph, sources: Sequence[int], target: int
) -> list[str | None]:
    """The text of each reference that `sources` lists (graph.referrers(target):
    a node once per reference), asking the engine once per distinct source:
    the k-th listing of a source gets its k-th label. None where a reference
    has no name or its holder is gone. Linear in the references: a list that
    holds the target a million times is asked once."""
    by_source: dict[int, list[Label]] = {}
    texts: list[str | None] = []
    for source, occurrence in zip(sources, occurrences(sources)):
        found = by_source.get(source)
        if found is None:
            try:
                found = graph.edge_labels(source, target)
            except LookupError:
                found = []
            by_source[source] = found
        texts.append(render(found[occurrence]) if occurrence < len(found) else None)
    return texts


def occurrences(nodes: Iterable[int]) -> list[int]:
    """For nodes listed once per reference (graph.referrers), the number of
    each node's earlier listings: [t, t, u] gives [0, 1, 0], so that the second
    reference from t gets t's second label."""
    seen: dict[int, int] = {}
    numbers: list[int] = []
    for node in nodes:
        number = seen.get(node, 0)
        numbers.append(number)
        seen[node] = number + 1
    return numbers

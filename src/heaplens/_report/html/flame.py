"""Flame graphs of the run and diff pages (icicles, outermost call on top).

The stacks (most recent call first in the data) are reversed and merged into
a trie keyed by (file, line, function), so the outermost call is the first
row under the total. Each node is a <div> whose width is its share of its
parent's bytes; boxes under about 0.1% of the total are merged into one
"smaller" box per parent or left out, which bounds the page on big inputs.
"""

from __future__ import annotations

from heaplens._report.html import page
from heaplens._report.lines import is_native_frame
from heaplens._report.units import format_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from heaplens._report.data import Frame, Snap
    from heaplens._report.protocol import JSON

    # A child's key under its parent: the frame's (file, line, function).
    _Key = tuple[str | None, int | None, str | None]

_MIN_SHARE = 0.001  # boxes narrower than this share of the total are merged away
_MAX_BOXES = 3000  # per flame graph; the cut-off share doubles until it fits
_MAX_DEPTH = 128  # rows of a flame graph; deeper frames count in their last shown box
_PALETTE = 10  # box colours, one per source file in order of first use


class _Node:
    """One box of a flame graph: a frame on the path from the root, with the
    bytes and blocks of every stack passing through it."""

    __slots__ = ("frame", "kind", "bytes", "blocks", "children")

    def __init__(self, frame: Frame, kind: str = "frame") -> None:
        # {"file", "line", "function"}; a box that is no frame (the root,
        # "other", "small") has its label as "function", file "" and line 0.
        self.frame = frame
        self.kind = kind  # "root", "frame", "other" (left out by the cut-off) or "small"
        self.bytes = 0
        self.blocks = 0
        self.children: dict[_Key, _Node] = {}


def _build_tree(stacks: Iterable[tuple[Sequence[Frame], int, int]], root_label: str) -> _Node:
    """The trie of `stacks` [(frames most recent first, bytes, blocks)], the
    outermost call first; frames past _MAX_DEPTH count in their parent."""
    root = _Node({"file": "", "line": 0, "function": root_label}, "root")
    for frames, size, blocks in stacks:
        node = root
        node.bytes += size
        node.blocks += blocks
        for frame in list(reversed(frames))[:_MAX_DEPTH]:
            key = (frame.get("file"), frame.get("line"), frame.get("function"))
            child = node.children.get(key)
            if child is None:
                child = node.children[key] = _Node(frame)
            child.bytes += size
            child.blocks += blocks
            node = child
    return root


def _add_other(root: _Node, size: int, blocks: int, n_stacks: int) -> None:
    """Count what the report left out as one box under the root."""
    if size <= 0:
        return
    label = f"{n_stacks:,} smaller stacks" if n_stacks else "other stacks"
    other = _Node({"file": "", "line": 0, "function": label}, "other")
    other.bytes, other.blocks = size, max(blocks, 0)
    root.children[("", 0, label)] = other
    root.bytes += size
    root.blocks += other.blocks


def _shown_children(node: _Node, min_bytes: float) -> list[_Node]:
    """node's children to draw, biggest first: those of at least min_bytes,
    then one "smaller" box for the rest when together they reach min_bytes."""
    children = sorted(node.children.values(), key=lambda child: -child.bytes)
    big = [child for child in children if child.bytes >= min_bytes]
    small = children[len(big) :]
    rest = sum(child.bytes for child in small)
    if small and rest >= min_bytes:
        merged = _Node({"file": "", "line": 0, "function": f"{len(small):,} smaller"}, "small")
        merged.bytes, merged.blocks = rest, sum(child.blocks for child in small)
        big.append(merged)
    return big


def _count_boxes(node: _Node, min_bytes: float) -> int:
    """How many boxes the graph of `node` draws at this cut-off."""
    return 1 + sum(_count_boxes(child, min_bytes) for child in _shown_children(node, min_bytes))


def _cut_off(root: _Node) -> tuple[float, float]:
    """The smallest box size (bytes) drawn: _MIN_SHARE of the total, raised
    until the graph has at most _MAX_BOXES boxes."""
    share = _MIN_SHARE
    while True:
        min_bytes = max(1, root.bytes * share)
        if share >= 0.1 or _count_boxes(root, min_bytes) <= _MAX_BOXES:
            return min_bytes, share
        share *= 2


class Palette:
    """Box colours: one per file, in order of first use on the page, so that
    the frames of one module look alike in every graph of the page."""

    def __init__(self) -> None:
        self.by_file: dict[str, int] = {}

    def colour(self, frame: Frame) -> int | str:
        """The palette index (0.._PALETTE-1) of frame's file, or "native" for
        a native (C) frame: one colour for all of them, apart from every
        Python file's."""
        if is_native_frame(frame):
            return "native"
        file = frame.get("file") or ""
        if file not in self.by_file:
            self.by_file[file] = len(self.by_file) % _PALETTE
        return self.by_file[file]


class _Flame:
    """What every box of one flame graph needs: the total (the root's bytes),
    the cut-off, what the total is called in tooltips, and the palette."""

    def __init__(self, root: _Node, unit_name: str, palette: Palette) -> None:
        self.root = root
        self.min_bytes, self.share = _cut_off(root)
        self.unit_name = unit_name
        self.palette = palette


def _render_flame(root: _Node, graph_id: str, unit_name: str, palette: Palette) -> str:
    """The flame graph <figure> of the trie `root` (whose bytes are the 100%).
    `unit_name` says what the percentages are of ('of the total')."""
    flame = _Flame(root, unit_name, palette)
    cut = f"{flame.share * 100:.1f}%".replace(".0%", "%")
    return "\n".join(
        [
            f'<figure class="flame card" id="{graph_id}" data-total="{root.bytes}">',
            '<div class="fg-bar"><span class="fg-zoom"></span>'
            '<button type="button" class="fg-reset" hidden>Reset zoom</button></div>',
            f'<div class="fg">{_render_node(flame, root, 100.0)}</div>',
            f'<figcaption class="fg-note">Boxes under {cut} of the total are merged into '
            "one &ldquo;smaller&rdquo; box or left out. Colours stand for source files; "
            "native (C) frames are grey-blue, labelled function [library]."
            "</figcaption>",
            "</figure>",
        ]
    )


def _render_node(flame: _Flame, node: _Node, width: float) -> str:
    """One box, `width` percent of its parent's, and below it the boxes of
    its children (recursively; the depth is at most _MAX_DEPTH)."""
    frame = node.frame
    is_frame = node.kind == "frame"
    label = page.frame_label(frame) if is_frame else frame["function"]
    tooltip = (
        f"{_frame_tooltip_name(frame) if is_frame else label}\n"
        f"{format_bytes(node.bytes, decimals=1)} ({page.share(node.bytes, flame.root.bytes)} {flame.unit_name}), "
        f"{node.blocks:,} blocks"
    )
    attrs = [
        f'class="fg-n k-{node.kind}" style="width:{width:.4f}%"',
        f'data-name="{page.plain(frame.get("function") or "", 300)}"',
    ]
    if is_frame:
        attrs.append(f'data-file="{page.plain(frame.get("file") or "", 1000)}"')
        attrs.append(f'data-line="{int(frame.get("line") or 0)}"')
    attrs.append(f'data-bytes="{node.bytes}" data-blocks="{node.blocks}"')
    colour = flame.palette.colour(frame) if is_frame else node.kind
    box = f'<div class="fg-b c-{colour}" title="{page.plain(tooltip, 2000)}"><span>{page.plain(label, 300)}</span></div>'
    kids = [
        _render_node(flame, child, 100.0 * child.bytes / node.bytes)
        for child in _shown_children(node, flame.min_bytes)
    ]
    inner = f'<div class="fg-k">{"".join(kids)}</div>' if kids else ""
    return f'<div {" ".join(attrs)}>{box}{inner}</div>'


def _frame_tooltip_name(frame: Frame) -> str:
    """'function (/full/path.py:12)', the long name of a box, unescaped."""
    function = frame.get("function")
    return f"{function} ({page.where(frame)})" if function else page.where(frame)


def render_snapshot_flame(snap: Snap | None, which: str, palette: Palette) -> str:
    """The section with the flame graph of a run snapshot (`which`: 'peak' or 'exit')."""
    when = "when traced memory was highest" if which == "peak" else "when the program ended"
    heading = "Live memory at the peak" if which == "peak" else "Live memory at exit"
    lead = (
        f"Where the memory alive {when} was allocated. The top row is all of it; below "
        "each box are the calls it made, down to the line that allocated. A box's width is "
        "the memory allocated under it. Hover over a box for its size; click it to zoom in."
    )
    key = f"flame-{which}"
    if not snap:
        missing = f'<p class="missing">This capture has no snapshot {when}.</p>'
        return page.section(key, heading, lead, missing)
    if not snap.get("stacks") and not snap.get("other_bytes"):
        empty = '<p class="missing">Nothing traced was alive then.</p>'
        return page.section(key, heading, lead, empty)
    stacks = [(s["frames"], s["bytes"], s["blocks"]) for s in snap["stacks"]]
    root = _build_tree(stacks, f"all live memory ({format_bytes(snap['total_bytes'], decimals=1)})")
    _add_other(
        root, snap.get("other_bytes", 0), snap.get("other_blocks", 0), snap.get("other_stacks", 0)
    )
    _account_total(root, snap.get("total_bytes", 0), snap.get("total_blocks", 0))
    flame = _render_flame(root, f"fg-{which}", "of the total", palette)
    return page.section(key, heading, lead, flame)


def _account_total(root: _Node, total_bytes: int, total_blocks: int) -> None:
    """Make the root the snapshot's total when the stacks add up to less (the
    difference shows as an empty end of the top row)."""
    root.bytes = max(root.bytes, total_bytes)
    root.blocks = max(root.blocks, total_blocks)


def render_growth_flame(diff: dict[str, JSON], palette: Palette) -> str:
    """The section with the flame graph of the stacks whose memory grew."""
    lead = (
        "Where memory grew between the two captures: each box's width is the growth under "
        "it. Stacks whose memory shrank are not drawn here; the table below lists them. "
        "Hover over a box for its size; click it to zoom in."
    )
    grown: list[tuple[list[Frame], int, int]] = [
        (s["frames"], s["diff_bytes"], max(s.get("diff_blocks", 0), 0))
        for s in diff.get("stacks") or []
        if s["diff_bytes"] > 0
    ]
    other = diff.get("other_diff_bytes", 0)
    if not grown and other <= 0:
        empty = '<p class="missing">No stack grew.</p>'
        return page.section("flame-growth", "Where memory grew", lead, empty)
    growth = sum(size for _, size, _ in grown) + max(other, 0)
    root = _build_tree(grown, f"all growth ({format_bytes(growth, decimals=1)})")
    _add_other(root, other, 0, diff.get("other_stacks", 0))
    flame = _render_flame(root, "fg-growth", "of the growth", palette)
    return page.section("flame-growth", "Where memory grew", lead, flame)

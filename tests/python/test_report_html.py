"""The HTML pages of `heaplens report --html` and `heaplens diff --html`: whole,
self-contained, safe documents whose flame graphs, chart and tables say what the
report dicts hold (docs/report-data.md)."""

import copy
import json
import re
from html.parser import HTMLParser

import pytest
from browser import fixtures

from heaplens._report.html import chart, flame, page
from heaplens._report.html import run as _report_html
from heaplens._report.html.run import render_diff_report, render_run_report

VOID = {"meta", "link", "br", "hr", "wbr", "input", "img"}
# Every element the pages may hold; anything else came from the data.
ALLOWED = {
    "html", "head", "meta", "link", "title", "style", "script", "body", "header", "main",
    "footer", "nav", "section", "figure", "figcaption", "div", "p", "span", "strong", "code",
    "h1", "h2", "a", "ul", "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody", "tr", "th",
    "td", "details", "summary", "button", "i", "svg", "g", "line", "path", "polygon", "circle",
    "text",
}  # fmt: skip

HOSTILE = [
    "</script><b>x",
    '<img src=x onerror="alert(1)">',
    "\"'><svg onload=alert(2)>",
    "</style><style>body{background:url(https://evil.example/x)}</style>",
    "</title><iframe src=https://evil.example>",
    "&amp; &lt;not a tag&gt; <!-- comment -->",
]


class Element:
    """One parsed element: tag, attributes (unescaped), children, text."""

    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children, self.content = [], []  # content: text and children, in order

    def classes(self):
        return set((self.attrs.get("class") or "").split())

    def iter(self):
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, tag=None, cls=None):
        return [
            e
            for e in self.iter()
            if (tag is None or e.tag == tag) and (cls is None or cls in e.classes())
        ]

    def text(self):
        return "".join(part if isinstance(part, str) else part.text() for part in self.content)


class TreeBuilder(HTMLParser):
    """A strict parse: every non-void element is closed, in order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        element = Element(tag, attrs, self.current)
        self.current.children.append(element)
        self.current.content.append(element)
        if tag not in VOID:
            self.current = element

    def handle_startendtag(self, tag, attrs):
        element = Element(tag, attrs, self.current)
        self.current.children.append(element)
        self.current.content.append(element)

    def handle_endtag(self, tag):
        assert tag == self.current.tag, f"</{tag}> closes <{self.current.tag}>"
        self.current = self.current.parent

    def handle_data(self, data):
        self.current.content.append(data)


def parse(document):
    """The element tree of a page, after checking it is one whole ASCII document."""
    assert document.startswith("<!doctype html>")
    assert document.isascii()
    builder = TreeBuilder()
    builder.feed(document)
    builder.close()
    assert builder.current is builder.root, f"<{builder.current.tag}> is never closed"
    return builder.root


def check_page(document):
    """Parse and check what holds for every page: allowed elements only, no
    URL but in-page links and the empty icon, the CSP, the script."""
    tree = parse(document)
    tags = {e.tag for e in tree.iter()} - {"#document"}
    assert tags <= ALLOWED, f"unexpected elements {tags - ALLOWED}"
    for element in tree.iter():
        for name, value in element.attrs.items():
            assert not name.startswith("on"), (element.tag, name)
            if name in ("src", "href", "action", "xlink:href"):
                assert value.startswith("#") or value == "data:,", (element.tag, name, value)
    csp = [m for m in tree.find_all("meta") if m.attrs.get("http-equiv")]
    assert csp and "default-src 'none'" in csp[0].attrs["content"]
    scripts = tree.find_all("script")
    assert [s.attrs.get("type") for s in scripts if s.attrs.get("type")] in (
        [],
        ["application/json"],
    )
    assert len([s for s in scripts if not s.attrs.get("type")]) == 1
    return tree


def flame_root(tree, graph_id):
    """The root box (<div class="fg-n k-root">) of the flame graph graph_id."""
    figure = next(e for e in tree.find_all("figure") if e.attrs.get("id") == graph_id)
    return figure.find_all("div", "k-root")[0]


def boxes(node):
    """The child boxes of a flame graph node, in order."""
    kids = [c for c in node.children if "fg-k" in c.classes()]
    return [c for c in kids[0].children] if kids else []


def box_path(root, names):
    """The node reached from root by following data-name through `names`."""
    node = root
    for name in names:
        matches = [c for c in boxes(node) if c.attrs.get("data-name") == name]
        assert matches, f"no box {name!r} under {node.attrs.get('data-name')!r}"
        node = matches[0]
    return node


def width(node):
    return float(re.search(r"width:([0-9.]+)%", node.attrs["style"]).group(1))


# -- The run page -------------------------------------------------------------


@pytest.fixture(scope="module")
def run_data():
    return fixtures.run_report()


@pytest.fixture(scope="module")
def run_page(run_data):
    return render_run_report(run_data)


def test_run_page_has_every_section_with_a_lead(run_page):
    tree = check_page(run_page)
    sections = {s.attrs["id"]: s for s in tree.find_all("section")}
    assert list(sections) == ["timeline", "flame-peak", "flame-exit", "sites", "leaks"]
    for section in sections.values():
        assert section.find_all("h2") and section.find_all("p", "lead")
    links = [a.attrs["href"] for a in tree.find_all("nav")[0].find_all("a")]
    assert links == [f"#{key}" for key in sections]


def test_run_header_shows_status_totals_and_meta(run_data, run_page):
    tree = parse(run_page)
    header = tree.find_all("header")[0]
    assert header.find_all("h1")[0].text() == "python shop/app.py --requests 500"
    status = header.find_all("p", "exit")[0]
    assert "ok" in status.classes() and "exit status 0" in status.text()
    stats = header.find_all("div", "stat")
    assert "45.9 MiB" in stats[0].text()  # the peak snapshot's total
    assert "at 1.52 s" in stats[0].text()
    assert "7.4 MiB" in stats[1].text()
    meta = header.find_all("dl", "meta")[0]
    assert [dt.text() for dt in meta.find_all("dt")][:3] == ["Command", "Python", "PID"]
    assert not header.find_all("div", "callout")  # no notes, no callout


def test_notes_and_a_failed_exit_are_prominent(run_data):
    data = copy.deepcopy(run_data)
    data["exit_status"] = "uncaught ValueError: bad row"
    data["notes"] = ["Sizes are estimates: one allocation in about 512 KiB is recorded."]
    tree = parse(render_run_report(data))
    status = tree.find_all("p", "exit")[0]
    assert "bad" in status.classes() and "uncaught ValueError: bad row" in status.text()
    callout = tree.find_all("header")[0].find_all("div", "callout")[0]
    assert "one allocation in about 512 KiB" in callout.text()


def test_flame_graph_is_the_trie_of_the_stacks_outermost_first(run_data, run_page):
    root = flame_root(parse(run_page), "fg-peak")
    peak = run_data["peak"]
    assert int(root.attrs["data-bytes"]) == peak["total_bytes"]
    assert [b.attrs["data-name"] for b in boxes(root)][0] == "<module>"
    path = ["<module>", "main", "serve", "handle", "load_orders", "decode_rows", "raw_decode"]
    leaf = box_path(root, path)
    assert leaf.attrs["data-file"] == fixtures.JSON and leaf.attrs["data-line"] == "353"
    assert int(leaf.attrs["data-bytes"]) == 24 * fixtures.MiB
    assert not boxes(leaf)
    frames = [(f, line, fn) for f, line, fn in fixtures.REQUEST] + [
        (fixtures.DB, 88, "load_orders")
    ]
    load_orders = box_path(root, path[:5])
    assert int(load_orders.attrs["data-bytes"]) == fixtures.bytes_under(peak["stacks"], frames)
    # two lines of decode_rows are two boxes: the trie is keyed by (file, line, function)
    assert [b.attrs["data-line"] for b in boxes(load_orders)] == ["132", "140"]
    handle = box_path(root, path[:4])
    expected = 100.0 * int(load_orders.attrs["data-bytes"]) / int(handle.attrs["data-bytes"])
    assert width(load_orders) == pytest.approx(expected, abs=1e-3)
    box = load_orders.children[0]
    assert box.text() == "load_orders (db.py:88)"
    assert "/srv/shop/db.py:88" in box.attrs["title"] and "blocks" in box.attrs["title"]


def test_flame_graph_cut_off_merges_small_boxes_and_shows_the_rest(run_data, run_page):
    root = flame_root(parse(run_page), "fg-peak")
    total = int(root.attrs["data-bytes"])
    nodes = root.find_all("div", "fg-n")
    assert len(nodes) < 200  # 3,000 tail stacks of about 1 KiB: merged, not drawn
    assert all(int(n.attrs["data-bytes"]) >= 0.001 * total for n in nodes)
    small = root.find_all("div", "k-small")
    assert small and all("smaller" in n.attrs["data-name"] for n in small)
    other = root.find_all("div", "k-other")
    assert len(other) == 1 and other[0] in boxes(root)
    assert int(other[0].attrs["data-bytes"]) == run_data["peak"]["other_bytes"]
    assert f"{run_data['peak']['other_stacks']:,} smaller stacks" in other[0].attrs["data-name"]
    for node in nodes:
        kids = boxes(node)
        assert sum(width(k) for k in kids) <= 100.001
        assert sum(int(k.attrs["data-bytes"]) for k in kids) <= int(node.attrs["data-bytes"])


def test_flame_graph_box_count_is_bounded_on_wide_deep_inputs():
    stacks = []
    for i in range(900):  # 900 distinct paths of 20 frames, each just over 0.1%
        frames = [
            {"file": f"/m{i}.py", "line": depth, "function": f"f{i}_{depth}"} for depth in range(20)
        ]
        stacks.append({"frames": frames, "bytes": 1000, "blocks": 1})
    snap = {"label": "At the peak", "time_s": 1.0, "total_bytes": 900_000, "total_blocks": 900,
            "stacks": stacks, "other_bytes": 0, "other_blocks": 0, "other_stacks": 0}  # fmt: skip
    data = dict(fixtures.run_report(n_tail=10), peak=snap)
    page = render_run_report(data)
    root = flame_root(parse(page), "fg-peak")
    assert len(root.find_all("div", "fg-n")) <= flame._MAX_BOXES
    assert len(page) < 3_000_000


def test_flame_graph_labels_frames_of_unknown_function_by_place():
    frames = [{"file": "/a/b.py", "line": 7, "function": ""}]
    snap = {"label": "At exit", "time_s": None, "total_bytes": 100, "total_blocks": 1,
            "stacks": [{"frames": frames, "bytes": 100, "blocks": 1}],
            "other_bytes": 0, "other_blocks": 0, "other_stacks": 0}  # fmt: skip
    data = dict(fixtures.run_report(n_tail=10), exit=snap)
    root = flame_root(parse(render_run_report(data)), "fg-exit")
    (box,) = boxes(root)
    assert box.children[0].text() == "b.py:7"
    assert box.attrs["data-name"] == ""


def test_timeline_chart_has_human_axes_the_peak_and_its_data(run_data, run_page):
    tree = parse(run_page)
    svg = tree.find_all("svg", "chart")[0]
    ticks = [t.text() for t in svg.find_all("text", "tick")]
    assert "0 MiB" in ticks and "40 MiB" in ticks
    assert "1.5 s" in ticks and "0 s" in ticks
    assert "peak 45.9 MiB at 1.52 s" in svg.find_all("g", "peak")[0].text()
    assert svg.find_all("path", "traced") and svg.find_all("path", "rss")
    assert svg.find_all("polygon", "band")
    data = json.loads(next(s for s in tree.find_all("script") if s.attrs.get("type")).text())
    assert data["t"] == [p["t"] for p in run_data["timeline"]["points"]]
    assert data["traced_max"][151] == run_data["peak"]["total_bytes"]


def test_timeline_without_rss_draws_no_rss_line(run_data):
    data = copy.deepcopy(run_data)
    for point in data["timeline"]["points"]:
        point["rss"] = None
    tree = parse(render_run_report(data))
    assert not tree.find_all("path", "rss")
    assert "RSS" not in tree.find_all("figcaption", "legend")[0].text()
    peak_rss = tree.find_all("div", "stat")[2]
    assert peak_rss.find_all("dd")[0].text() == "\u2013"  # unknown, not 0 B


def test_long_timelines_are_thinned_keeping_the_peak():
    points = [
        {"t": i / 100, "traced": i % 97, "traced_max": (i % 97) + 1, "rss": None}
        for i in range(10_000)
    ]
    points[7777]["traced_max"] = 10**9
    thinned = chart._thin(points, 1500)
    assert len(thinned) <= 1500
    assert max(p["traced_max"] for p in thinned) == 10**9
    assert thinned[0]["t"] == 0 and all(p["rss"] is None for p in thinned)


@pytest.mark.parametrize(
    "top, unit, last",
    [(900, "B", "1000 B"), (3000, "KiB", "3 KiB"), (45 * 2**20, "MiB", "50 MiB"),
     (3 * 2**30, "GiB", "3 GiB")],
)  # fmt: skip
def test_byte_axis_uses_binary_units(top, unit, last):
    ticks, y_max = chart._byte_ticks(top)
    assert ticks[0][0] == 0 and y_max >= top
    assert all(label.endswith(" " + unit) for _, label in ticks)
    assert ticks[-1][1] == last


def test_time_axis_switches_to_minutes_on_long_runs():
    ticks, end = chart._time_ticks(600.0)
    assert end >= 600 and ticks[-1][1] == "10 min"
    ticks, end = chart._time_ticks(0.35)
    assert ticks[1][1] == "0.05 s" and end == pytest.approx(0.35)


def test_tables_list_sites_and_survivors_folding_the_long_tail(run_data, run_page):
    tree = parse(run_page)
    sites = next(s for s in tree.find_all("section") if s.attrs["id"] == "sites")
    first = sites.find_all("table")[0].find_all("tbody")[0].find_all("tr")
    assert len(first) == _report_html._ROWS_SHOWN
    assert first[0].find_all("code", "fn")[0].text() == "raw_decode"
    assert first[0].find_all("td")[0].text() == "24.0 MiB"
    assert "52.3%" in first[0].find_all("td")[1].text()
    folded = sites.find_all("details", "more-rows")[0]
    assert folded.find_all("summary")[0].text() == f"Show {len(run_data['top_sites']) - 15} more"
    leaks = next(s for s in tree.find_all("section") if s.attrs["id"] == "leaks")
    row = leaks.find_all("tbody")[0].find_all("tr")[0]
    assert "remember" in row.text() and "+4 callers" in row.text()
    stack = [li.text() for li in row.find_all("ol", "stack")[0].find_all("li")]
    assert stack[0].startswith("/srv/shop/app.py:120 in <module>")
    assert stack[-1].startswith("/srv/shop/cache.py:19 in remember")
    assert "allocated here" in stack[-1]


def test_empty_snapshots_and_no_timeline_render_as_sentences():
    empty = {"label": "At the peak", "time_s": None, "total_bytes": 0, "total_blocks": 0,
             "stacks": [], "other_bytes": 0, "other_blocks": 0, "other_stacks": 0}  # fmt: skip
    data = {
        "kind": "run", "title": "python idle.py", "meta": [], "exit_status": "KeyboardInterrupt",
        "sample_rate": 0, "peak": empty, "exit": None, "timeline": None, "top_sites": [],
        "leaks": [], "notes": [],
    }  # fmt: skip
    tree = check_page(render_run_report(data))
    assert not tree.find_all("figure")
    missing = " ".join(p.text() for p in tree.find_all("p", "missing"))
    assert "no timeline" in missing
    assert "Nothing traced was alive then." in missing
    assert "no snapshot when the program ended" in missing
    assert "No allocation was traced." in missing
    assert "No exit snapshot." in missing
    assert "KeyboardInterrupt" in tree.find_all("p", "exit")[0].text()


def test_timeline_of_one_point_still_draws(run_data):
    data = copy.deepcopy(run_data)
    data["timeline"] = {
        "points": [{"t": 0.0, "traced": 0, "traced_max": 0, "rss": 0}],
        "peak_t": None,
    }
    tree = check_page(render_run_report(data))
    assert tree.find_all("g", "peak")
    assert "peak 0 B at 0.00 s" in tree.find_all("g", "peak")[0].text()


# -- Hostile strings ----------------------------------------------------------


def hostile_run(text):
    """A run report with `text` in every string field the page shows."""
    data = fixtures.run_report(n_tail=20)
    data["title"] = text
    data["exit_status"] = text
    data["meta"] = [[text, text]]
    data["notes"] = [text]
    frame = {"file": text, "line": 3, "function": text}
    for snap in (data["peak"], data["exit"]):
        snap["stacks"][0]["frames"] = [frame, *snap["stacks"][0]["frames"][1:]]
    data["top_sites"][0].update(file=text, function=text)
    data["leaks"][0]["frames"] = [frame, frame]
    return data


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_stay_text(text):
    page = render_run_report(hostile_run(text))
    tree = check_page(page)
    assert tree.find_all("title")[0].text().startswith(text[:100])
    assert tree.find_all("h1")[0].text() == text
    names = {e.attrs.get("data-name") for e in tree.find_all("div", "fg-n")}
    files = {e.attrs.get("data-file") for e in tree.find_all("div", "fg-n")}
    assert text in names and text in files
    assert text in tree.find_all("div", "callout")[0].text()
    assert f"{text}:3" in tree.find_all("section")[3].text()  # the sites table
    for script in tree.find_all("script"):
        assert "alert" not in script.text() and "evil" not in script.text()


def test_control_and_bidi_characters_are_made_visible():
    page = render_run_report(hostile_run("evil\u202etxt.py\x1b[2J"))
    tree = parse(page)
    assert tree.find_all("h1")[0].text() == "evil\\u202etxt.py\\x1b[2J"


def test_json_in_script_cannot_close_the_element():
    text = page.script_json({"a": "</script><!--", "b": "&"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"a": "</script><!--", "b": "&"}


# -- The diff page ------------------------------------------------------------


@pytest.fixture(scope="module")
def diff_data():
    return fixtures.diff_report()


def test_diff_page_shows_totals_changes_and_growth(diff_data):
    tree = check_page(render_diff_report(diff_data))
    assert [s.attrs["id"] for s in tree.find_all("section")] == ["flame-growth", "changes"]
    stats = [s.text() for s in tree.find_all("div", "stat")]
    assert "before.hlc (exit)" in stats[0] and "after.hlc (exit)" in stats[1]
    change = diff_data["new"]["total_bytes"] - diff_data["old"]["total_bytes"]
    assert stats[2].startswith(f"Change+{change / 2**20:.1f} MiB")
    assert "+3,210 blocks" in stats[2]
    rows = tree.find_all("section")[1].find_all("tr")[1:]
    first = [td.text() for td in rows[0].find_all("td")][:4]
    assert first == ["+3.2 MiB", "4.0 MiB", "7.2 MiB", "+4,869"]
    assert "grew" in rows[0].find_all("td")[0].classes()
    shrank = rows[1].find_all("td")
    assert shrank[0].text() == "\u22121.0 MiB" and "shrank" in shrank[0].classes()
    last = tree.find_all("section")[1].find_all("tr", "more")[0].text()
    n_rest = len(diff_data["stacks"]) - _report_html._MAX_ROWS + diff_data["other_stacks"]
    assert f"{n_rest:,} more stacks" in last


def test_diff_growth_flame_holds_only_what_grew(diff_data):
    root = flame_root(parse(render_diff_report(diff_data)), "fg-growth")
    grown = sum(s["diff_bytes"] for s in diff_data["stacks"] if s["diff_bytes"] > 0)
    assert int(root.attrs["data-bytes"]) == grown + diff_data["other_diff_bytes"]
    names = {e.attrs.get("data-name") for e in root.find_all("div", "fg-n")}
    assert "remember" in names and "format_row" in names
    assert "decode_rows" not in names  # it shrank
    remember = box_path(root, ["<module>", "main", "serve", "handle", "remember"])
    assert int(remember.attrs["data-bytes"]) == 3 * fixtures.MiB + 256 * fixtures.KiB


def test_diff_with_nothing_changed():
    data = {"kind": "diff", "title": "a.hlc -> b.hlc",
            "old": {"label": "a", "total_bytes": 10, "total_blocks": 1},
            "new": {"label": "b", "total_bytes": 10, "total_blocks": 1},
            "stacks": [], "other_stacks": 0, "other_diff_bytes": 0, "notes": []}  # fmt: skip
    tree = check_page(render_diff_report(data))
    missing = [p.text() for p in tree.find_all("p", "missing")]
    assert missing == ["No stack grew.", "No stack changed."]
    assert tree.find_all("div", "stat")[2].find_all("dd")[0].text() == "0 B"

"""The HTML page of a leak report: a whole, self-contained, safe document that
shows everything in the report's dict."""

import copy
import html
import re
from html.parser import HTMLParser

import pytest

from heaplens._report.html.leaks import render_leak_report
from heaplens._report.units import format_bytes

VOID = {"meta", "br", "hr", "wbr"}
# Every element the page may hold; anything else came from the data.
ALLOWED = {
    "html", "head", "meta", "title", "style", "body", "header", "main", "footer", "section",
    "article", "div", "p", "span", "strong", "code", "pre", "br", "h1", "h2", "h3", "h4", "a",
    "ul", "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody", "tr", "th", "td", "details",
    "summary", "figure", "figcaption", "svg", "rect",
}  # fmt: skip

HOSTILE = [
    "</script><script>alert(1)</script>",
    '<img src=x onerror="alert(2)">',
    "\"'><svg onload=alert(3)>",
    "</style><style>body{background:url(https://evil.example/x)}</style>",
    "</title><iframe src=https://evil.example>",
    "&amp; &lt;not a tag&gt; <!-- comment -->",
]


def _report():
    """A realistic report: three holders (one bounded, one held from C), three
    groups, one with a long traceback, one with nothing known about it."""
    return {
        "format": "heaplens-leak-report",
        "version": 1,
        "heaplens": "0.1.0",
        "python": "3.11.7",
        "title": "find_leaks(app.handle)",
        "calls": 5,
        "warmup": 2,
        "clean": False,
        "headline": "app.py: module global _cache (list) holds 5 new Request per call",
        "summary": {"objects": 12345, "size": 3400, "retained": 61200},
        "holders": [
            {
                "holder": "module global _cache (list)",
                "where": "app.py",
                "kind": "object",
                "objects": 25,
                "per_call": 5.0,
                "retained": 51200,
                "types": [["Request", 25], ["bytearray", 25]],
                "sentence": "app.py: module global _cache (list) holds 5 new Request per call",
                "note": None,
            },
            {
                "holder": "lru_cache of lookup()",
                "where": "db.py",
                "kind": "object",
                "objects": 6,
                "per_call": 1.2,
                "retained": 8000,
                "types": [["Row", 6]],
                "sentence": "db.py: lru_cache of lookup() holds 1.2 new Row per call",
                "note": "bounded cache: at most 128 entries",
            },
            {
                "holder": "Session objects with no referrer",
                "where": None,
                "kind": "external",
                "objects": 2,
                "per_call": 0.4,
                "retained": 2000,
                "types": [["Session", 2]],
                "sentence": "2 Session held from C (no referrer explains them)",
                "note": None,
            },
        ],
        "groups": [
            {
                "type": "Request",
                "module": "app",
                "count": 25,
                "per_call": [5, 5, 5, 5, 5],
                "size": 1200,
                "retained": 51200,
                "site": "app.py:12",
                "traceback": [
                    ["/srv/app/main.py", 88, "serve_forever()"],
                    ["/srv/app/server.py", 41, "self.dispatch(conn)"],
                    ["/srv/app/server.py", 57, "return handler(request_data)"],
                    ["/srv/app/app.py", 30, "handle(n)"],
                    ["/srv/app/app.py", 21, "req = make_request(n)"],
                    ["/srv/app/app.py", 12, "request = Request(n)"],
                ],
                "chain": [
                    ["module app", ".__dict__['_cache']"],
                    ["list", "[3]"],
                    ["Request object at 0x7f12ab", None],
                ],
                "holder": 0,
                "holder_step": 1,
                "example": "Request object at 0x7f12ab",
            },
            {
                "type": "Row",
                "module": "db",
                "count": 6,
                "per_call": [2, 1, 1, 1, 1],
                "size": 1800,
                "retained": 8000,
                "site": "db.py:40",
                "traceback": [["/srv/app/app.py", 31, "lookup(key)"], ["/srv/app/db.py", 40, None]],
                "chain": [
                    ["module db", ".__dict__['lookup']"],
                    ["functools._lru_cache_wrapper lookup", "cache"],
                    ["dict", "[('user', 42)]"],
                    ["Row object at 0x7f99cc", None],
                ],
                "holder": 1,
                "holder_step": 1,
                "example": "Row object at 0x7f99cc",
            },
            {
                "type": "Session",
                "module": "ext",
                "count": 2,
                "per_call": [0, 1, 0, 1, 0],
                "size": 400,
                "retained": 2000,
                "site": None,
                "traceback": None,
                "chain": [],
                "holder": 2,
                "holder_step": None,
                "example": "Session object at 0x7f0001",
            },
        ],
        "notes": [
            "The tracer was started for this hunt with 32 frames.",
            "Objects made during the 2 warm-up calls are not counted.",
        ],
    }


def _clean_report():
    report = _report()
    report.update(
        clean=True,
        headline="no leaks in find_leaks(app.handle)",
        summary={"objects": 0, "size": 0, "retained": 0},
        holders=[],
        groups=[],
        notes=[],
    )
    return report


def _hostile_report():
    """Every string of the report replaced by markup, quotes and the like."""
    report = _report()
    report["title"] = HOSTILE[0]
    report["headline"] = HOSTILE[1]
    report["python"] = HOSTILE[2]
    report["notes"] = list(HOSTILE)
    holder = report["holders"][0]
    holder.update(holder=HOSTILE[3], where=HOSTILE[4], sentence=HOSTILE[5], note=HOSTILE[0])
    holder["types"] = [[HOSTILE[1], 3]]
    holder["kind"] = HOSTILE[2]
    group = report["groups"][0]
    group.update(type=HOSTILE[0], module=HOSTILE[1], site=HOSTILE[2], example=HOSTILE[3])
    group["traceback"] = [[HOSTILE[4], 1, HOSTILE[5]], [HOSTILE[0], 2, HOSTILE[1]]]
    group["chain"] = [[HOSTILE[2], HOSTILE[3]], [HOSTILE[4], HOSTILE[5]], [HOSTILE[0], None]]
    return report


class Page(HTMLParser):
    """The parts of a page the tests look at: its elements in order, their
    attributes, the visible text, and any nesting error."""

    def __init__(self, document):
        super().__init__(convert_charrefs=True)
        self.tags = []  # (tag, attrs dict) for every start tag
        self.in_svg = []  # the tags of those inside an <svg>
        self.stack = []
        self.errors = []
        self.text = []
        self.declarations = []
        self.feed(document)
        self.close()
        if self.stack:
            self.errors.append(f"unclosed: {self.stack}")
        self.text = "".join(self.text)

    def handle_decl(self, decl):
        self.declarations.append(decl)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if "svg" in self.stack:
            self.in_svg.append(tag)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()

    def handle_data(self, data):
        if "style" not in self.stack:
            self.text.append(data)

    def count(self, tag):
        """How many `tag` elements there are outside SVG (whose <title> is a tooltip)."""
        return sum(1 for name, _ in self.tags if name == tag) - self.in_svg.count(tag)


def _page(report):
    document = render_leak_report(report)
    page = Page(document)
    return document, page


def _squash(text):
    return " ".join(text.split())


@pytest.mark.parametrize("make", [_report, _clean_report, _hostile_report])
def test_page_is_one_well_formed_document(make):
    document, page = _page(make())
    assert document.startswith("<!doctype html>\n")
    assert page.declarations == ["doctype html"]
    assert page.errors == []
    for tag in ("html", "head", "title", "style", "body", "main"):
        assert page.count(tag) == 1, tag
    assert {tag for tag, _ in page.tags} <= ALLOWED
    ids = [attrs["id"] for _, attrs in page.tags if "id" in attrs]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("make", [_report, _clean_report, _hostile_report])
def test_page_reaches_no_network(make):
    document, page = _page(make())
    ids = {attrs["id"] for _, attrs in page.tags if "id" in attrs}
    for tag, attrs in page.tags:
        assert "src" not in attrs, tag
        assert tag not in ("script", "link", "img", "iframe", "object", "embed", "base")
        if "href" in attrs:
            assert attrs["href"].startswith("#") and attrs["href"][1:] in ids, attrs["href"]
    style = document[document.index("<style>") : document.index("</style>")]
    assert "url(" not in style and "@import" not in style and "http" not in style
    tags_only = re.sub(r">[^<]*<", "><", document)  # escaped text holds no "<"
    assert not re.search(r"""src\s*=|href\s*=\s*["']?[^#"'\s]|https?:|url\(|//""", tags_only, re.I)


def test_hostile_strings_are_text_not_markup():
    document, page = _page(_hostile_report())
    assert "<script" not in document.lower()
    assert "</script" not in document.lower()
    assert "<img" not in document.lower() and "<iframe" not in document.lower()
    for tag, attrs in page.tags:
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
    assert page.count("svg") == 3  # the per-call bars of three groups, none from the data
    assert page.count("style") == 1 and page.count("title") == 1
    text = _squash(page.text)
    for hostile in HOSTILE:
        assert _squash(hostile) in text, hostile
    attribute_text = " ".join(str(v) for _, attrs in page.tags for v in attrs.values())
    assert "<" not in attribute_text


def test_every_part_of_the_report_is_shown():
    report = _report()
    document, page = _page(report)
    text = _squash(page.text)
    assert report["headline"] in text
    assert report["title"] in text
    assert "3.11.7" in text and "0.1.0" in text
    assert "12,345" in text  # objects, with thousands separators
    assert format_bytes(3400, decimals=1) in text and format_bytes(61200, decimals=1) in text
    for holder in report["holders"]:
        for key in ("holder", "sentence"):
            assert holder[key] in text
        for name, count in holder["types"]:
            assert f"{name} \u00d7{count}" in text
    assert "bounded cache: at most 128 entries" in text
    assert "held from C" in text  # the external holder's kind, explained
    for group in report["groups"]:
        assert group["type"] in text
        assert (
            format_bytes(group["size"], decimals=1) in text
            and format_bytes(group["retained"], decimals=1) in text
        )
        if group["site"]:
            assert group["site"] in text
        for filename, lineno, line in group["traceback"] or []:
            assert f'File "{filename}", line {lineno}' in text
            if line:
                assert line in text
        for description, label in group["chain"]:
            assert description in text
            if label:
                assert label in text
        assert group["example"] in text
    for note in report["notes"]:
        assert note in text


def test_the_holder_step_and_the_ends_of_the_chain_are_marked():
    document, _ = _page(_report())
    steps = re.findall(r'<li class="(step[^"]*)"><div class="box">(.*?)</div>', document)
    marked = {
        description: classes
        for classes, box in steps
        for description in re.findall(r'<span class="desc">(.*?)</span>', box)
    }
    assert marked["module app"] == "step root"
    assert marked["list"] == "step holder"
    assert marked["Request object at 0x7f12ab"] == "step leaked"
    assert marked["functools._lru_cache_wrapper lookup"] == "step holder"
    assert marked["dict"] == "step"
    assert len(steps) == 3 + 4  # every step of the two chains, and the empty third
    # The references are drawn between the steps they join, in chain order.
    first = document.index("module app")
    assert first < document.index(".__dict__[&#x27;_cache&#x27;]") < document.index(">list<")


def test_each_group_has_one_bar_per_call_scaled_to_the_largest():
    document, page = _page(_report())
    charts = re.findall(r"<svg.*?</svg>", document)
    assert len(charts) == 3
    heights = [[float(h) for h in re.findall(r'height="([\d.]+)"><title>', c)] for c in charts]
    assert heights[0] == [28.0] * 5
    assert heights[1] == [28.0, 14.0, 14.0, 14.0, 14.0]
    assert heights[2][1] == 28.0 and heights[2][0] < 1  # a zero is a hairline
    assert "call 3: 0" in page.text
    assert "in order: 2 \u00b7 1 \u00b7 1 \u00b7 1 \u00b7 1" in page.text


def test_a_single_call_draws_no_bars():
    report = _report()
    report.update(calls=1, warmup=0)
    for group in report["groups"]:
        group["per_call"] = [group["count"]]
    document, _ = _page(report)
    assert "<svg" not in document


def test_older_frames_fold_away_and_the_innermost_is_marked():
    document, page = _page(_report())
    details = re.findall(r"<details>(.*?)</details>", document)
    assert len(details) == 1  # only the 6-frame traceback has frames to fold
    assert "2 older frames" in details[0]
    assert "/srv/app/main.py" in details[0] and "/srv/app/server.py" in details[0]
    assert "line <code>57</code>" not in details[0]
    marks = re.findall(r'line <code>(\d+)</code> <span class="badge alloc">', document)
    assert marks == ["12", "40"]


def test_long_strings_are_cut_visibly():
    report = _report()
    long_repr = "Request(" + "x" * 5000 + ")"
    report["groups"][0]["chain"][-1][0] = long_repr
    report["notes"].append("y" * 20000)
    document, page = _page(report)
    assert long_repr[:300] in document
    assert long_repr[:301] not in document
    assert "[+4,709 characters]" in page.text
    assert "y" * 1000 in document and "y" * 1001 not in document
    assert "[+19,000 characters]" in page.text
    assert len(document) < 60000


def test_unicode_and_invisible_characters():
    report = _report()
    report["groups"][0]["example"] = "caf\u00e9 \u2713 \u65e5\u672c \U0001f600"
    report["groups"][0]["chain"][-1][0] = "evil\u202ereversed \x1b[31mred\x00 \ud800 end"
    document, page = _page(report)
    document.encode("ascii")  # the page is ASCII, whatever encoding writes it
    assert "caf\u00e9 \u2713 \u65e5\u672c \U0001f600" in page.text
    assert "evil\\u202ereversed \\x1b[31mred\\x00 \ufffd end" in page.text
    assert "\u202e" not in page.text and "\x00" not in page.text


def test_clean_report_says_no_leaks():
    document, page = _page(_clean_report())
    text = _squash(page.text)
    assert "No leaks found." in text
    assert "5 measured calls" in text
    assert 'class="verdict ok"' in document and "verdict bad" not in document
    assert 'id="holders"' not in document and 'id="groups"' not in document
    assert 'id="notes"' not in document
    assert "Leak found" not in text


def test_leaky_report_says_leak_found():
    _, page = _page(_report())
    text = _squash(page.text)
    assert "Leak found: 12,345 objects" in text
    assert "No leaks found" not in text


def test_missing_optional_fields_render():
    report = {
        "format": "heaplens-leak-report",
        "version": 1,
        "calls": 3,
        "groups": [
            {
                "type": "Node",
                "count": 3,
                "per_call": [1, 1, 1],
                "site": None,
                "traceback": None,
                "chain": None,
                "holder": None,
                "holder_step": None,
            }
        ],
    }
    document, page = _page(report)
    text = _squash(page.text)
    assert page.errors == []
    assert "Leak found: 3 objects" in text
    assert "3 objects were left alive" in text  # the headline made up for it
    assert "Unknown: the tracer did not see these objects allocated." in text
    assert "No reference chain was found." in text
    assert 'id="notes"' not in document and 'id="holders"' not in document
    assert "Held by" not in text


def test_an_empty_dict_is_a_clean_report():
    _, page = _page({})
    assert "No leaks found." in page.text


def _set(path, value):
    """A function that sets report[path...] = value on a fresh report."""

    def change(report):
        target = report
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return report

    return change


@pytest.mark.parametrize(
    "change, error, words",
    [
        (lambda report: [report], TypeError, "LeakReport.to_dict"),
        (_set(["format"], "something-else"), ValueError, "format"),
        (_set(["version"], 2), ValueError, "version 2"),
        (_set(["calls"], "5"), TypeError, "calls"),
        (_set(["calls"], True), TypeError, "calls"),
        (_set(["clean"], "no"), TypeError, "clean"),
        (_set(["summary"], [1, 2]), TypeError, "summary"),
        (_set(["summary", "size"], -1), ValueError, "summary.size"),
        (_set(["holders"], {"a": 1}), TypeError, "holders"),
        (_set(["holders", 0], "holder"), TypeError, "holders[0]"),
        (_set(["holders", 0, "types"], [["Request"]]), TypeError, "holders[0].types[0]"),
        (_set(["groups", 1, "per_call", 2], float("nan")), ValueError, "groups[1].per_call[2]"),
        (_set(["groups", 0, "traceback", 1], ["app.py", "12", None]), TypeError, "traceback[1][1]"),
        (_set(["groups", 0, "traceback", 1], "app.py:12"), TypeError, "groups[0].traceback[1]"),
        (_set(["groups", 0, "chain", 0], ["module app", 3]), TypeError, "groups[0].chain[0][1]"),
        (_set(["groups", 0, "holder"], 3), ValueError, "groups[0].holder"),
        (_set(["groups", 0, "holder_step"], 3), ValueError, "groups[0].holder_step"),
        (_set(["groups", 0, "type"], 42), TypeError, "groups[0].type"),
        (_set(["notes"], ["fine", None]), TypeError, "notes[1]"),
    ],
)
def test_wrong_fields_raise_clear_errors(change, error, words):
    report = change(copy.deepcopy(_report()))
    with pytest.raises(error) as raised:
        render_leak_report(report)
    assert words in str(raised.value)


def test_the_data_is_not_changed():
    report = _hostile_report()
    before = copy.deepcopy(report)
    render_leak_report(report)
    assert report == before


def test_headline_is_in_the_title():
    document, _ = _page(_report())
    title = re.search(r"<title>(.*?)</title>", document).group(1)
    assert html.unescape(title).startswith("app.py: module global _cache (list) holds 5 new")

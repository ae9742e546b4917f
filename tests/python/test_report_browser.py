"""The HTML reports in a real browser: headless chromium, driven over the
DevTools protocol (tests/python/browser/cdp.py), opens a run report and a diff
report and checks that they render without console errors, warnings or
uncaught exceptions, that the flame graphs have the expected boxes at the
expected widths, and that clicking a box zooms into it. Screenshots go to
tests/artifacts/.

Without chromium the tests are skipped, unless HEAPLENS_REQUIRE_BROWSER=1 (as
`make test` sets after installing it), when they fail. HEAPLENS_SKIP_BROWSER=1
skips them (the extra interpreters and the ASan run of `make test`: the page is
the same there, made by pure Python).
"""

import json
import os
from pathlib import Path

import pytest
from browser import cdp, fixtures

from heaplens._report.html.run import render_diff_report, render_run_report

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
READY = "document.documentElement.dataset.ready === '1'"

# The request path down to load_orders, outermost first: its box's bytes.
LOAD_ORDERS = [*fixtures.REQUEST, (fixtures.DB, 88, "load_orders")]

# Facts about one flame graph box, found by name: its width, its root's width,
# its bytes, whether it is shown, whether its label fits.
BOX_JS = """
((graphId, name) => {
  const figure = document.getElementById(graphId);
  const root = figure.querySelector('.k-root');
  const nodes = Array.from(figure.querySelectorAll('.fg-n')).filter(n => n.dataset.name === name);
  return nodes.map(n => {
    const box = n.firstElementChild;
    const rect = box.getBoundingClientRect();
    return {
      width: n.getBoundingClientRect().width, rootWidth: root.getBoundingClientRect().width,
      bytes: Number(n.dataset.bytes), rootBytes: Number(root.dataset.bytes),
      shown: n.offsetParent !== null, fits: box.scrollWidth <= box.clientWidth,
      label: box.textContent, x: rect.left + rect.width / 2, y: rect.top + rect.height / 2,
    };
  });
})
"""


@pytest.fixture(scope="module")
def browser():
    """A headless chromium with one page, or a skip (or failure) when there is none."""
    required = os.environ.get("HEAPLENS_REQUIRE_BROWSER") == "1"
    if not required and os.environ.get("HEAPLENS_SKIP_BROWSER") == "1":
        pytest.skip("HEAPLENS_SKIP_BROWSER=1")
    executable = cdp.find_chromium()
    if executable is None:
        message = f"no browser found (looked for {' and '.join(cdp.BROWSER_NAMES)} on PATH)"
        if required:
            pytest.fail(
                f"HEAPLENS_REQUIRE_BROWSER=1 but {message}: install Debian's chromium "
                "(`make test` does it with tools/apt_ensure.sh chromium chromium, as root)",
                pytrace=False,
            )
        pytest.skip(message)
    with cdp.Browser(executable, width=1280, height=900, timeout=30) as page:
        yield page


def open_report(browser, document, path):
    """Write `document` to `path`, open it, and return the index of the first
    event of this page (for browser.problems())."""
    path.write_text(document, encoding="ascii")
    start = len(browser.events)
    browser.open(path.as_uri(), ready_expression=READY)
    browser.drain(0.3)  # console messages that come after the load event
    return start


def box(browser, graph_id, name):
    """The one box named `name` in flame graph graph_id (see BOX_JS)."""
    found = browser.evaluate(f"{BOX_JS}({json.dumps(graph_id)}, {json.dumps(name)})")
    assert len(found) == 1, f"{len(found)} boxes named {name!r} in #{graph_id}"
    return found[0]


def click_box(browser, graph_id, name):
    """Scroll the box into view and click its middle with the mouse."""
    browser.evaluate(
        f"Array.from(document.querySelectorAll('#{graph_id} .fg-n'))"
        f".find(n => n.dataset.name === {json.dumps(name)}).scrollIntoView({{block: 'center'}})"
    )
    target = box(browser, graph_id, name)
    browser.click(target["x"], target["y"])


def screenshot(browser, name):
    """Save a full-page screenshot to tests/artifacts/name and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    browser.screenshot(path)
    assert path.stat().st_size > 10_000
    return path


def test_run_report_renders_and_zooms(browser, tmp_path):
    data = fixtures.run_report()
    start = open_report(browser, render_run_report(data), tmp_path / "report.html")
    assert browser.problems(start) == []
    assert browser.evaluate("document.title").endswith("heaplens memory report")

    # The flame graph at the peak: load_orders holds its share of the width.
    load_orders = box(browser, "fg-peak", "load_orders")
    expected = (
        fixtures.bytes_under(data["peak"]["stacks"], LOAD_ORDERS) / data["peak"]["total_bytes"]
    )
    assert load_orders["bytes"] / load_orders["rootBytes"] == pytest.approx(expected)
    assert load_orders["width"] / load_orders["rootWidth"] == pytest.approx(expected, abs=0.005)
    assert load_orders["label"] == "load_orders (db.py:88)" and load_orders["fits"]
    first_row = browser.evaluate(
        "Array.from(document.querySelectorAll('#fg-peak .k-root > .fg-k > .fg-n'))"
        ".map(n => n.dataset.name)"
    )
    assert first_row[0] == "<module>" and first_row[-1].endswith("smaller stacks")
    screenshot(browser, "report-run.png")

    # Clicking load_orders zooms into it: full width, its callers stay as the
    # rows above, its siblings go, its callees widen by the same factor.
    raw_decode = box(browser, "fg-peak", "raw_decode")
    click_box(browser, "fg-peak", "load_orders")
    zoomed = box(browser, "fg-peak", "load_orders")
    assert zoomed["width"] == pytest.approx(zoomed["rootWidth"], abs=1)
    assert box(browser, "fg-peak", "handle")["width"] == pytest.approx(zoomed["rootWidth"], abs=1)
    assert not box(browser, "fg-peak", "render_page")["shown"]
    raw_zoomed = box(browser, "fg-peak", "raw_decode")
    factor = zoomed["width"] / load_orders["width"]
    assert raw_zoomed["width"] == pytest.approx(raw_decode["width"] * factor, rel=0.01)
    state = browser.evaluate(
        "({zoom: document.getElementById('fg-peak').dataset.zoom,"
        " caption: document.querySelector('#fg-peak .fg-zoom').textContent,"
        " reset: !document.querySelector('#fg-peak .fg-reset').hidden,"
        " other: document.getElementById('fg-exit').classList.contains('zoomed')})"
    )
    assert state["zoom"] == "load_orders" and state["reset"] and not state["other"]
    assert state["caption"].startswith("Zoomed into load_orders (/srv/shop/db.py:88): 27.0 MiB")
    screenshot(browser, "report-run-zoomed.png")

    # "Reset zoom" puts every box back.
    button = browser.evaluate(
        "(() => { const b = document.querySelector('#fg-peak .fg-reset');"
        " const r = b.getBoundingClientRect();"
        " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
    )
    browser.click(*button)
    again = box(browser, "fg-peak", "load_orders")
    assert again["width"] == pytest.approx(load_orders["width"], abs=0.5)
    assert box(browser, "fg-peak", "render_page")["shown"]

    # The chart: the peak label inside the chart, the hover readout answers.
    chart = browser.evaluate(
        "(() => { const svg = document.querySelector('svg.chart');"
        " svg.scrollIntoView({block: 'center'});"
        " const label = svg.querySelector('.peak text').getBBox();"
        " const r = svg.getBoundingClientRect();"
        " return {x: label.x, end: label.x + label.width, view: svg.viewBox.baseVal.width,"
        " midX: r.left + r.width / 2, midY: r.top + r.height / 2, height: r.height}; })()"
    )
    assert 0 <= chart["x"] and chart["end"] <= chart["view"] and chart["height"] > 150
    browser.call(
        "Input.dispatchMouseEvent", {"type": "mouseMoved", "x": chart["midX"], "y": chart["midY"]}
    )
    readout = browser.evaluate("document.querySelector('.readout').textContent")
    assert " s: traced " in readout and "MiB" in readout
    browser.drain(0.2)
    assert browser.problems(start) == []


def test_diff_report_renders_and_zooms(browser, tmp_path):
    data = fixtures.diff_report()
    start = open_report(browser, render_diff_report(data), tmp_path / "diff.html")
    assert browser.problems(start) == []
    remember = box(browser, "fg-growth", "remember")
    growth = sum(s["diff_bytes"] for s in data["stacks"] if s["diff_bytes"] > 0)
    growth += data["other_diff_bytes"]
    expected = (3 * fixtures.MiB + 256 * fixtures.KiB) / growth
    assert remember["width"] / remember["rootWidth"] == pytest.approx(expected, abs=0.005)
    assert browser.evaluate("document.querySelectorAll('#changes td.grew').length") > 10
    screenshot(browser, "report-diff.png")
    click_box(browser, "fg-growth", "format_row")
    zoomed = box(browser, "fg-growth", "format_row")
    assert zoomed["width"] == pytest.approx(zoomed["rootWidth"], abs=1)
    assert not box(browser, "fg-growth", "remember")["shown"]
    screenshot(browser, "report-diff-zoomed.png")
    browser.drain(0.2)
    assert browser.problems(start) == []


def test_problems_are_seen(browser, tmp_path):
    """The check above can fail: a page that throws and logs is caught."""
    page = "<!doctype html><title>t</title><script>console.warn('w'); null.x;</script>"
    path = tmp_path / "bad.html"
    path.write_text(page, encoding="ascii")
    start = len(browser.events)
    browser.open(path.as_uri())
    browser.drain(0.3)
    problems = browser.problems(start)
    assert any(p.startswith("console.warning: w") for p in problems), problems
    assert any(p.startswith("uncaught exception: TypeError") for p in problems), problems


def test_report_of_a_real_run(browser, tmp_path):
    """End to end, as a newcomer does it: `heaplens run` on the bundled example,
    then `heaplens report --html`; the page names the example's functions."""
    import subprocess
    import sys

    example = Path(__file__).resolve().parents[2] / "examples" / "memory_hog.py"
    capture = tmp_path / "hog.hlc"
    page = tmp_path / "hog.html"
    cli = [sys.executable, "-m", "heaplens"]
    run = subprocess.run(
        [*cli, "run", "-o", str(capture), str(example), "2", "5000"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    report = subprocess.run(
        [*cli, "report", "--html", str(page), str(capture)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.returncode == 0, report.stderr
    start = len(browser.events)
    browser.open(page.as_uri(), ready_expression=READY)
    browser.drain(0.3)
    assert browser.problems(start) == []

    def biggest(graph_id, name):
        found = browser.evaluate(f"{BOX_JS}({json.dumps(graph_id)}, {json.dumps(name)})")
        assert found, f"no box named {name!r} in #{graph_id}"
        return max(found, key=lambda b: b["bytes"])

    # At exit the cache kept by remember() holds orders made in parse_orders.
    parse_orders = biggest("fg-exit", "parse_orders")
    assert parse_orders["bytes"] > 0.3 * parse_orders["rootBytes"]
    # Nearly all of the peak is under main(): the harness frames are gone.
    main = biggest("fg-peak", "main")
    assert main["bytes"] > 0.8 * main["rootBytes"]
    assert main["width"] > 0.8 * main["rootWidth"]
    screenshot(browser, "memory-hog-run.png")

"""The self-contained HTML page of a leak report (LeakReport.save_html).

render_leak_report() takes the dict of LeakReport.to_dict() and returns one
HTML document. Two invariants hold for every input:

- Nothing from the data is ever markup. Every string from the dict goes through
  page.text() (escaped, control and bidi characters made visible, cut past page.CLIP
  characters with a visible mark); numbers are formatted here; attributes hold
  only text made here or escaped text.
- The page reaches no network: no script, no external font, image or style
  sheet, and no URL except "#..." links inside the page. The document is pure
  ASCII (other characters are character references), so any encoding writes it.

The dict is read first, by leak_data.read_report(), which raises TypeError or
ValueError on a field of the wrong type or value and fills in what optional
fields leave out; the rest of the module renders the cleaned values.
"""

from __future__ import annotations

from heaplens._report.html import page
from heaplens._report.html.leak_data import read_report

TYPE_CHECKING = False
if TYPE_CHECKING:
    from heaplens._report.html.leak_data import Group, Holder, LeakPage, NativeRow


_FRAMES_SHOWN = 4  # innermost traceback frames always shown; older ones fold away
_VALUES_SHOWN = 24  # per-call counts spelled out under the bar chart

_KINDS = {
    "object": (
        "held by an object",
        "A Python object keeps these alive. Drop its reference to them, or bound it.",
    ),
    "external": (
        "held from C",
        "No Python referrer explains these objects: a C extension holds a reference, "
        "or a reference count was leaked.",
    ),
    "uncollectable": (
        "uncollectable",
        "These are in gc.garbage: the garbage collector found them unreachable "
        "but could not free them.",
    ),
    "frame": (
        "local of a running frame",
        "A local variable of a frame that is still executing keeps these alive.",
    ),
}


def render_leak_report(data: object) -> str:
    """The complete HTML document (a str) for the report dict `data`.

    Raises TypeError when `data` or one of its fields has the wrong type, and
    ValueError when a field has an impossible value (another format, a
    negative count, a holder index past the holders).
    """
    report = read_report(data)
    body = [_render_header(report), '<main class="page">', _render_summary(report)]
    if report["groups"]:
        body.append(_render_overview(report))
    if report["holders"]:
        body.append(_render_holders(report))
    if report["groups"]:
        body.append(_render_groups(report))
    if report["native"]:
        body.append(_render_native(report))
    if report["notes"]:
        body.append(_render_notes(report["notes"]))
    body.append("</main>")
    body.append(_render_footer(report))
    title = page.plain(report["headline"]) + " - heaplens leak report"
    document = "\n".join(
        [
            "<!doctype html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="generator" content="heaplens">',
            f"<title>{title}</title>",
            f"<style>{page.asset('base.css')}</style>",
            "</head>",
            f'<body class="{"clean" if report["clean"] else "leaky"}">',
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )
    return document.encode("ascii", "xmlcharrefreplace").decode("ascii")


# -- Page parts ---------------------------------------------------------------


def _render_header(report: LeakPage) -> str:
    what_ran = ""
    if report["title"]:
        what_ran = f'<p class="ran">Leak report for <code>{page.text(report["title"])}</code></p>'
    if report["clean"]:
        calls = report["calls"]
        measured = (
            f"the {page.count(calls)} measured {page.plural(calls, 'call')}"
            if calls
            else "the code"
        )
        verdict = (
            '<div class="verdict ok"><span class="check" aria-hidden="true">&#10003;</span>'
            f"<div><strong>No leaks found.</strong><br>No object created by {measured} "
            "was still alive afterwards.</div></div>"
        )
    else:
        n = report["objects"]
        objects = (
            f"{page.count(n)} {page.plural(n, 'object')} created by the measured calls stayed "
            f"alive ({page.size(report['size'])} themselves, retaining "
            f"{page.size(report['retained'])})."
        )
        native = ""
        if report["native_size"]:
            native = (
                f"{page.size(report['native_size'])} of native memory that the measured calls "
                "allocated stayed alive."
            )
            if not n:
                objects = ""
        verdict = (
            f'<div class="verdict bad"><strong>Leak found:</strong> {objects}'
            f"{' ' if objects and native else ''}{native}</div>"
        )
    return "\n".join(
        [
            '<header class="top"><div class="page">',
            '<p class="brand">heaplens &middot; leak report</p>',
            f'<h1>{page.text(report["headline"], limit=400)}</h1>',
            what_ran,
            verdict,
            "</div></header>",
        ]
    )


def _render_summary(report: LeakPage) -> str:
    items = [
        ("Measured calls", page.count(report["calls"]), "calls whose survivors were counted"),
        ("Warm-up calls", page.count(report["warmup"]), "run first and not counted"),
        ("Objects left alive", page.count(report["objects"]), "made by the measured calls"),
        ("Size", page.size(report["size"]), "their own bytes"),
        ("Retained size", page.size(report["retained"]), "freed if they went away"),
    ]
    if report["native_checked"]:
        items.append(
            (
                "Native memory left alive",
                page.size(report["native_size"]),
                "outside a leaked object's size",
            )
        )
    items += [
        ("Python", page.text(report["python"], 40) if report["python"] else "&ndash;", ""),
    ]
    cells = [
        f'<div class="stat"><dt>{label}</dt><dd>{value}</dd>'
        + (f'<dd class="hint">{hint}</dd>' if hint else "")
        + "</div>"
        for label, value, hint in items
    ]
    return '<section class="summary" aria-label="Summary"><dl class="stats">\n' + (
        "\n".join(cells) + "\n</dl></section>"
    )


def _render_overview(report: LeakPage) -> str:
    """One row per group, linking to its card: the page at a glance."""
    rows: list[str] = []
    for i, group in enumerate(report["groups"]):
        per_call = _mean(group["per_call"])
        rows.append(
            "<tr>"
            f'<td><a href="#group-{i}">{page.text(group["type"], 80)}</a></td>'
            f'<td class="num">{page.count(group["count"])}</td>'
            f'<td class="num">{page.count(per_call)}</td>'
            f'<td class="num">{page.size(group["size"])}</td>'
            f'<td class="num">{page.size(group["retained"])}</td>'
            f"<td><code>{page.text(group['site'], 120) if group['site'] else '&ndash;'}</code></td>"
            "</tr>"
        )
    return "\n".join(
        [
            '<section class="overview"><h2>At a glance</h2>',
            '<div class="table-wrap"><table>',
            "<thead><tr><th>Type</th><th class=num>Objects</th><th class=num>Per call</th>"
            "<th class=num>Size</th><th class=num>Retained</th><th>Allocated at</th></tr></thead>",
            "<tbody>",
            *rows,
            "</tbody></table></div></section>",
        ]
    )


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _render_holders(report: LeakPage) -> str:
    cards = [_render_holder(report, i, holder) for i, holder in enumerate(report["holders"])]
    lead = (
        "A holder is the object whose references keep the leaked objects alive: the place "
        "to fix the leak."
    )
    return page.section("holders", "Who holds the leak", lead, *cards)


def _render_holder(report: LeakPage, index: int, holder: Holder) -> str:
    short, explanation = _KINDS.get(holder["kind"], (holder["kind"], ""))
    kind_class = holder["kind"] if holder["kind"] in _KINDS else "other"
    where = (
        f' <span class="where">in {page.text(holder["where"], 120)}</span>'
        if holder["where"]
        else ""
    )
    facts = [
        f"<li><strong>{page.count(holder['objects'])}</strong> objects</li>",
        f"<li><strong>{page.count(holder['per_call'])}</strong> per call</li>",
        f"<li>retaining <strong>{page.size(holder['retained'])}</strong></li>",
    ]
    chips = [
        f'<li class="chip">{page.text(name, 80)} <span class="times">&times;{page.count(n)}</span></li>'
        for name, n in holder["types"]
    ]
    groups = [
        f'<a href="#group-{i}">{page.text(group["type"], 80)}</a>'
        for i, group in enumerate(report["groups"])
        if group["holder"] == index
    ]
    parts = [
        f'<article class="card holder" id="holder-{index}">',
        f'<div class="card-head"><h3>{page.text(holder["holder"])}{where}</h3>'
        f'<span class="badge kind-{kind_class}">{page.text(short, 40)}</span></div>',
    ]
    if holder["sentence"]:
        parts.append(f'<p class="sentence">{page.text(holder["sentence"])}</p>')
    parts.append(f'<ul class="facts">{"".join(facts)}</ul>')
    if chips:
        parts.append(
            '<div class="holds"><span class="label">Holds</span>'
            f'<ul class="chips">{"".join(chips)}</ul></div>'
        )
    if groups:
        parts.append(f'<p class="see">See {", ".join(groups)} below.</p>')
    if explanation:
        parts.append(f'<p class="explain">{explanation}</p>')
    if holder["note"]:
        parts.append(f'<p class="note">{page.text(holder["note"])}</p>')
    parts.append("</article>")
    return "\n".join(parts)


def _render_groups(report: LeakPage) -> str:
    cards = [_render_group(report, i, group) for i, group in enumerate(report["groups"])]
    lead = (
        "The objects left alive, by type: where they were allocated, and the chain of "
        "references from a root that keeps one of them alive."
    )
    return page.section("groups", "What leaked", lead, *cards)


def _render_group(report: LeakPage, index: int, group: Group) -> str:
    module = group["module"]
    qualifier = ""
    if module and module != "builtins":
        qualifier = f' <span class="module">from module {page.text(module, 120)}</span>'
    per_call = _mean(group["per_call"])
    holder_link = ""
    if group["holder"] is not None:
        holder = report["holders"][group["holder"]]
        holder_link = (
            f'<p class="held-by">Held by <a href="#holder-{group["holder"]}">'
            f"{page.text(holder['holder'])}</a></p>"
        )
    metrics = [
        ("Objects", page.count(group["count"])),
        ("Per call", page.count(per_call)),
        ("Size", page.size(group["size"])),
        ("Retained", page.size(group["retained"])),
    ]
    metric_cells = "".join(
        f"<div><dt>{label}</dt><dd>{value}</dd></div>" for label, value in metrics
    )
    return "\n".join(
        [
            f'<article class="card group" id="group-{index}">',
            f'<div class="card-head"><h3><span class="type">{page.text(group["type"], 120)}</span>'
            f"{qualifier}</h3></div>",
            holder_link,
            '<div class="group-top">',
            f'<dl class="metrics">{metric_cells}</dl>',
            _render_per_call(group["per_call"]),
            "</div>",
            '<div class="group-body">',
            _render_site(group),
            _render_chain(report, group),
            "</div>",
            "</article>",
        ]
    )


def _render_native(report: LeakPage) -> str:
    cards = [_render_native_row(i, row) for i, row in enumerate(report["native"])]
    lead = (
        "Memory that C code allocated during the measured calls (malloc, mmap, or blocks an "
        "extension reports, such as NumPy's arrays) and that was still alive after them, "
        "growing with the calls, by the Python line that asked. What a leaked object's size "
        "already counts (an array's data) is not listed here."
    )
    return page.section("native", "Native memory left alive", lead, *cards)


def _render_native_row(index: int, row: NativeRow) -> str:
    metrics = [
        ("Per call", page.size(row["bytes_per_call"])),
        ("In all", page.size(row["size"])),
        ("Blocks per call", page.count(row["blocks_per_call"])),
    ]
    if row["held_by_objects"]:
        metrics.append(("In leaked objects", page.size(row["held_by_objects"])))
    metric_cells = "".join(
        f"<div><dt>{label}</dt><dd>{value}</dd></div>" for label, value in metrics
    )
    steps = " &middot; ".join(page.size(max(v, 0)) for v in row["per_call"][:_VALUES_SHOWN])
    excluded = (
        f'<p class="note">Not counted: {page.text(row["excluded"])}</p>' if row["excluded"] else ""
    )
    return "\n".join(
        [
            f'<article class="card group" id="native-{index}">',
            f'<div class="card-head"><h3><span class="type">'
            f"{page.text(row['site'] or 'unknown line', 120)}</span> "
            f'<span class="module">{page.text(row["domain_name"], 80)}</span></h3></div>',
            excluded,
            '<div class="group-top">',
            f'<dl class="metrics">{metric_cells}</dl>',
            f"<p>Added by each call, in order: {steps}</p>" if len(row["per_call"]) > 1 else "",
            "</div>",
            '<div class="group-body">',
            _render_allocation(
                row["site"], row["traceback"], "Unknown: no Python frames were running."
            ),
            "</div>",
            "</article>",
        ]
    )


def _render_per_call(values: list[float]) -> str:
    """Bars of the survivors of each measured call, with the counts spelled out."""
    if len(values) < 2:
        return ""
    top = max(values) or 1
    bars: list[str] = []
    for i, value in enumerate(values):
        height = max(value / top * 28, 0.8)  # a zero still shows as a hairline
        css = ' class="zero"' if value == 0 else ""
        bars.append(
            f'<rect{css} x="{i + 0.15:.2f}" y="{30 - height:.2f}" width="0.7" '
            f'height="{height:.2f}"><title>call {i + 1}: {page.count(value)}</title></rect>'
        )
    width = min(16 * len(values), 320)
    spelled = " &middot; ".join(page.count(v) for v in values[:_VALUES_SHOWN])
    if len(values) > _VALUES_SHOWN:
        spelled += f" &middot; &hellip; (+{len(values) - _VALUES_SHOWN:,} calls)"
    return (
        '<figure class="per-call">'
        f'<svg viewBox="0 0 {len(values)} 30" preserveAspectRatio="none" width="{width}" '
        f'height="36" role="img" aria-label="survivors per call">{"".join(bars)}</svg>'
        f"<figcaption>Left alive by each call, in order: {spelled}</figcaption></figure>"
    )


def _render_site(group: Group) -> str:
    """The allocation site and its traceback, innermost frames always shown."""
    return _render_allocation(
        group["site"],
        group["traceback"],
        "Unknown: the tracer did not see these objects allocated.",
    )


def _render_allocation(
    site: str | None, frames: list[tuple[str, int | None, str | None]], unknown: str
) -> str:
    """An allocation site and its traceback, innermost frames always shown."""
    parts = ['<div class="block"><h4>Allocated at</h4>']
    if site:
        parts.append(f'<p class="site"><code>{page.text(site)}</code></p>')
    else:
        parts.append(f'<p class="missing">{unknown}</p>')
    if frames:
        rendered = [
            _render_frame(frame, last=(i == len(frames) - 1)) for i, frame in enumerate(frames)
        ]
        older, shown = rendered[:-_FRAMES_SHOWN], rendered[-_FRAMES_SHOWN:]
        parts.append(
            '<div class="traceback"><p class="tb-title">Traceback (most recent call last)</p>'
        )
        if older:
            parts.append(
                f"<details><summary>{len(older)} older {page.plural(len(older), 'frame')}</summary>"
                f'<ol class="frames">{"".join(older)}</ol></details>'
            )
        parts.append(f'<ol class="frames">{"".join(shown)}</ol></div>')
    elif site:
        parts.append('<p class="missing">No traceback was recorded.</p>')
    parts.append("</div>")
    return "\n".join(parts)


def _render_frame(frame: tuple[str, int | None, str | None], last: bool) -> str:
    filename, lineno, line = frame
    lineno_text = str(lineno) if lineno is not None else "?"
    source = f'<pre class="src">{page.text(line.strip())}</pre>' if line and line.strip() else ""
    css = ' class="innermost"' if last else ""
    tag = ' <span class="badge alloc">allocated here</span>' if last else ""
    return (
        f'<li{css}><div class="loc">File <code>"{page.text(filename)}"</code>, line '
        f"<code>{lineno_text}</code>{tag}</div>{source}</li>"
    )


def _render_chain(report: LeakPage, group: Group) -> str:
    """The references from a root to the example object, one step per object."""
    chain = group["chain"]
    example = group["example"]
    heading = "How it is kept alive"
    if example:
        heading += f': <span class="example">{page.text(example, 120)}</span>'
    parts = [f'<div class="block"><h4>{heading}</h4>']
    if not chain:
        kind = report["holders"][group["holder"]]["kind"] if group["holder"] is not None else None
        reasons: dict[str | None, str] = {
            "external": " It is held from C: no Python object refers to it.",
            "uncollectable": " It is in gc.garbage.",
        }
        reason = reasons.get(kind, "")
        parts.append(f'<p class="missing">No reference chain was found.{reason}</p></div>')
        return "\n".join(parts)
    steps: list[str] = []
    last = len(chain) - 1
    for i, (description, label) in enumerate(chain):
        classes = ["step"]
        tags = []
        if i == 0:
            classes.append("root")
            tags.append('<span class="badge root">root</span>')
        if i == group["holder_step"]:
            classes.append("holder")
            tags.append('<span class="badge holder">holder</span>')
        if i == last:
            classes.append("leaked")
            tags.append('<span class="badge leaked">leaked object</span>')
        ref = ""
        if i != last:
            named = f" <code>{page.text(label)}</code>" if label is not None else ""
            ref = f'<div class="ref"><span class="arrow">&darr;</span>{named}</div>'
        steps.append(
            f'<li class="{" ".join(classes)}"><div class="box">{"".join(tags)}'
            f'<span class="desc">{page.text(description)}</span></div>{ref}</li>'
        )
    parts.append(f'<ol class="chain">{"".join(steps)}</ol></div>')
    return "\n".join(parts)


def _render_notes(notes: list[str]) -> str:
    items = "".join(f"<li>{page.text(note, 1000)}</li>" for note in notes)
    return f'<section id="notes"><h2>Notes</h2><ul class="notes">{items}</ul></section>'


def _render_footer(report: LeakPage) -> str:
    version = f" {page.text(report['heaplens'], 40)}" if report["heaplens"] else ""
    return (
        f'<footer class="page">Written by heaplens{version}. '
        "This page is self-contained: it loads nothing from the network.</footer>"
    )

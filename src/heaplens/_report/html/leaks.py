"""The self-contained HTML page of a leak report (LeakReport.save_html).

render_leak_report() takes the dict of LeakReport.to_dict() and returns one
HTML document. Two invariants hold for every input:

- Nothing from the data is ever markup. Every string from the dict goes through
  _text() (escaped, control and bidi characters made visible, cut past _CLIP
  characters with a visible mark); numbers are formatted here; attributes hold
  only text made here or escaped text.
- The page reaches no network: no script, no external font, image or style
  sheet, and no URL except "#..." links inside the page. The document is pure
  ASCII (other characters are character references), so any encoding writes it.

The dict is read first, by _read_report(), which raises TypeError or
ValueError on a field of the wrong type or value and fills in what optional
fields leave out; the rest of the module renders the cleaned values.
"""

import html
import math
import re
from heaplens._report.units import format_bytes


FORMAT = "heaplens-leak-report"
VERSION = 1

_CLIP = 300  # characters of one string from the data shown before it is cut
_FRAMES_SHOWN = 4  # innermost traceback frames always shown; older ones fold away
_VALUES_SHOWN = 24  # per-call counts spelled out under the bar chart

# Characters that must not reach the page as themselves: C0 controls but tab
# and newline, DEL, lone surrogates (which no encoding writes) and the bidi
# overrides that can make text read differently from what it is.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")

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


def render_leak_report(data):
    """The complete HTML document (a str) for the report dict `data`.

    Raises TypeError when `data` or one of its fields has the wrong type, and
    ValueError when a field has an impossible value (another format, a
    negative count, a holder index past the holders).
    """
    report = _read_report(data)
    body = [_render_header(report), '<main class="page">', _render_summary(report)]
    if report["groups"]:
        body.append(_render_overview(report))
    if report["holders"]:
        body.append(_render_holders(report))
    if report["groups"]:
        body.append(_render_groups(report))
    if report["notes"]:
        body.append(_render_notes(report["notes"]))
    body.append("</main>")
    body.append(_render_footer(report))
    title = _plain(report["headline"]) + " - heaplens leak report"
    document = "\n".join(
        [
            "<!doctype html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="generator" content="heaplens">',
            f"<title>{title}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            f'<body class="{"clean" if report["clean"] else "leaky"}">',
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )
    return document.encode("ascii", "xmlcharrefreplace").decode("ascii")


# -- Reading the dict ---------------------------------------------------------


def _field(mapping, key, kinds, where, default=None):
    """mapping[key] checked against `kinds` (a type or tuple), or `default`
    when the key is missing or None. Raises TypeError naming the field."""
    value = mapping.get(key)
    if value is None:
        return default
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in _tuple(kinds)):
        raise TypeError(
            f"leak report: {where}{key} should be {_kind_name(kinds)}, not {value!r:.80}"
        )
    return value


def _number(mapping, key, where, default=None, integer=False):
    """A count or byte size: an int (or a float unless `integer`), finite and >= 0."""
    value = _field(mapping, key, int if integer else (int, float), where, default)
    if value is not None:
        _check_number(value, f"{where}{key}")
    return value


def _check_number(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"leak report: {name} should be a number, not {value!r:.80}")
    if (isinstance(value, float) and not math.isfinite(value)) or value < 0:
        raise ValueError(f"leak report: {name} should be a finite number >= 0, not {value!r}")


def _tuple(kinds):
    return kinds if isinstance(kinds, tuple) else (kinds,)


def _kind_name(kinds):
    names = {bool: "a bool", int: "an int", float: "a float", str: "a str"}
    names.update({list: "a list", tuple: "a list", dict: "a dict"})
    return " or ".join(dict.fromkeys(names.get(kind, kind.__name__) for kind in _tuple(kinds)))


def _items(mapping, key, where):
    """mapping[key] as a list (a list or tuple in the data; [] when missing)."""
    return list(_field(mapping, key, (list, tuple), where, ()))


def _read_report(data):
    """The report as plain checked values, optional fields filled in."""
    if not isinstance(data, dict):
        raise TypeError(f"leak report: expected the dict of LeakReport.to_dict(), not {data!r:.80}")
    fmt = _field(data, "format", str, "", FORMAT)
    if fmt != FORMAT:
        raise ValueError(f"leak report: format is {fmt!r:.80}, expected {FORMAT!r}")
    version = _field(data, "version", int, "", VERSION)
    if version != VERSION:
        raise ValueError(
            f"leak report: version {version} is not supported (this page reads {VERSION})"
        )
    holders = [_read_holder(item, i) for i, item in enumerate(_items(data, "holders", ""))]
    groups = [
        _read_group(item, i, len(holders)) for i, item in enumerate(_items(data, "groups", ""))
    ]
    summary = _field(data, "summary", dict, "", {})
    clean = _field(data, "clean", bool, "", not groups)
    notes = _items(data, "notes", "")
    for i, note in enumerate(notes):
        if not isinstance(note, str):
            raise TypeError(f"leak report: notes[{i}] should be a str, not {note!r:.80}")
    report = {
        "heaplens": _field(data, "heaplens", str, "", None),
        "python": _field(data, "python", str, "", None),
        "title": _field(data, "title", str, "", None),
        "calls": _number(data, "calls", "", integer=True),
        "warmup": _number(data, "warmup", "", integer=True),
        "clean": clean,
        "objects": _number(summary, "objects", "summary.", sum(g["count"] for g in groups)),
        "size": _number(summary, "size", "summary.", _sum(g["size"] for g in groups)),
        "retained": _number(summary, "retained", "summary.", _sum(g["retained"] for g in groups)),
        "holders": holders,
        "groups": groups,
        "notes": notes,
    }
    report["headline"] = _field(data, "headline", str, "", None) or _default_headline(report)
    return report


def _sum(values):
    values = list(values)
    return None if not values or None in values else sum(values)


def _default_headline(report):
    if report["clean"]:
        return "No leaks found"
    if report["holders"] and report["holders"][0]["sentence"]:
        return report["holders"][0]["sentence"]
    return f"{_count(report['objects'])} objects were left alive"


def _read_holder(item, index):
    where = f"holders[{index}]."
    if not isinstance(item, dict):
        raise TypeError(f"leak report: holders[{index}] should be a dict, not {item!r:.80}")
    types_held = []
    for i, pair in enumerate(_items(item, "types", where)):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not isinstance(pair[0], str):
            raise TypeError(f"leak report: {where}types[{i}] should be [type name, count]")
        _check_number(pair[1], f"{where}types[{i}][1]")
        types_held.append((pair[0], pair[1]))
    return {
        "holder": _field(item, "holder", str, where, "an unknown holder"),
        "where": _field(item, "where", str, where),
        "kind": _field(item, "kind", str, where, "object"),
        "objects": _number(item, "objects", where),
        "per_call": _number(item, "per_call", where),
        "retained": _number(item, "retained", where),
        "types": types_held,
        "sentence": _field(item, "sentence", str, where),
        "note": _field(item, "note", str, where),
    }


def _read_group(item, index, n_holders):
    where = f"groups[{index}]."
    if not isinstance(item, dict):
        raise TypeError(f"leak report: groups[{index}] should be a dict, not {item!r:.80}")
    per_call = _items(item, "per_call", where)
    for i, value in enumerate(per_call):
        _check_number(value, f"{where}per_call[{i}]")
    chain = [
        _read_step(step, f"{where}chain[{i}]")
        for i, step in enumerate(_items(item, "chain", where))
    ]
    holder = _field(item, "holder", int, where)
    if holder is not None and not 0 <= holder < n_holders:
        raise ValueError(
            f"leak report: {where}holder is {holder}, but there are {n_holders} holders"
        )
    holder_step = _field(item, "holder_step", int, where)
    if holder_step is not None and not 0 <= holder_step < len(chain):
        raise ValueError(
            f"leak report: {where}holder_step is {holder_step}, "
            f"but the chain has {len(chain)} steps"
        )
    return {
        "type": _field(item, "type", str, where, "?"),
        "module": _field(item, "module", str, where),
        "count": _number(item, "count", where, sum(per_call)),
        "per_call": per_call,
        "size": _number(item, "size", where),
        "retained": _number(item, "retained", where),
        "site": _field(item, "site", str, where),
        "traceback": [
            _read_frame(frame, f"{where}traceback[{i}]")
            for i, frame in enumerate(_items(item, "traceback", where))
        ],
        "chain": chain,
        "holder": holder,
        "holder_step": holder_step,
        "example": _field(item, "example", str, where),
    }


def _read_frame(frame, name):
    """(filename, lineno or None, source line or None) from [file, line, source]."""
    if not isinstance(frame, (list, tuple)) or len(frame) not in (2, 3):
        raise TypeError(f"leak report: {name} should be [filename, lineno, source line or null]")
    filename, lineno = frame[0], frame[1]
    line = frame[2] if len(frame) == 3 else None
    if not isinstance(filename, str):
        raise TypeError(f"leak report: {name}[0] should be a str, not {filename!r:.80}")
    if lineno is not None and (isinstance(lineno, bool) or not isinstance(lineno, int)):
        raise TypeError(f"leak report: {name}[1] should be an int, not {lineno!r:.80}")
    if line is not None and not isinstance(line, str):
        raise TypeError(f"leak report: {name}[2] should be a str or null, not {line!r:.80}")
    return filename, lineno, line


def _read_step(step, name):
    """(description, reference label or None) from [description, label]."""
    if not isinstance(step, (list, tuple)) or len(step) not in (1, 2):
        raise TypeError(f"leak report: {name} should be [description, reference label or null]")
    description = step[0]
    label = step[1] if len(step) == 2 else None
    if not isinstance(description, str):
        raise TypeError(f"leak report: {name}[0] should be a str, not {description!r:.80}")
    if label is not None and not isinstance(label, str):
        raise TypeError(f"leak report: {name}[1] should be a str or null, not {label!r:.80}")
    return description, label


# -- Text and numbers ---------------------------------------------------------


def _visible(text):
    """`text` with characters that would hide or garble it spelled out."""

    def spell(match):
        char = match.group()
        if "\ud800" <= char <= "\udfff":
            return "\ufffd"
        return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"

    return _INVISIBLE.sub(spell, text)


def _text(text, limit=_CLIP):
    """`text` from the data as safe HTML, cut past `limit` characters with a
    visible mark that says how much was left out."""
    text = _visible(text)
    if len(text) <= limit:
        return html.escape(text)
    left_out = len(text) - limit
    return (
        f"{html.escape(text[:limit])}"
        f'<span class="cut" title="{left_out:,} more characters not shown">'
        f"&hellip; [+{left_out:,} characters]</span>"
    )


def _plain(text, limit=120):
    """`text` escaped for an attribute or the <title>: no markup, a plain cut."""
    text = _visible(text)
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return html.escape(text)


def _count(value):
    """25 -> '25', 1234 -> '1,234', 2.5 -> '2.5', 5.0 -> '5'."""
    if value is None:
        return "&ndash;"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}".rstrip("0")
    return f"{int(value):,}"


def _size(value):
    """A byte size in human units, the exact count on hover."""
    if value is None:
        return "&ndash;"
    return f'<span title="{int(value):,} bytes">{format_bytes(value, decimals=1)}</span>'


def _plural(value, word):
    return word if value == 1 else word + "s"


# -- Page parts ---------------------------------------------------------------


def _render_header(report):
    what_ran = ""
    if report["title"]:
        what_ran = f'<p class="ran">Leak report for <code>{_text(report["title"])}</code></p>'
    if report["clean"]:
        calls = report["calls"]
        measured = f"the {_count(calls)} measured {_plural(calls, 'call')}" if calls else "the code"
        verdict = (
            '<div class="verdict ok"><span class="check" aria-hidden="true">&#10003;</span>'
            f"<div><strong>No leaks found.</strong><br>No object created by {measured} "
            "was still alive afterwards.</div></div>"
        )
    else:
        n = report["objects"]
        verdict = (
            f'<div class="verdict bad"><strong>Leak found:</strong> {_count(n)} '
            f"{_plural(n, 'object')} created by the measured calls stayed alive "
            f"({_size(report['size'])} themselves, retaining {_size(report['retained'])}).</div>"
        )
    return "\n".join(
        [
            '<header class="top"><div class="page">',
            '<p class="brand">heaplens &middot; leak report</p>',
            f'<h1>{_text(report["headline"], limit=400)}</h1>',
            what_ran,
            verdict,
            "</div></header>",
        ]
    )


def _render_summary(report):
    items = [
        ("Measured calls", _count(report["calls"]), "calls whose survivors were counted"),
        ("Warm-up calls", _count(report["warmup"]), "run first and not counted"),
        ("Objects left alive", _count(report["objects"]), "made by the measured calls"),
        ("Size", _size(report["size"]), "their own bytes"),
        ("Retained size", _size(report["retained"]), "freed if they went away"),
        ("Python", _text(report["python"], 40) if report["python"] else "&ndash;", ""),
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


def _render_overview(report):
    """One row per group, linking to its card: the page at a glance."""
    rows = []
    for i, group in enumerate(report["groups"]):
        per_call = _mean(group["per_call"])
        rows.append(
            "<tr>"
            f'<td><a href="#group-{i}">{_text(group["type"], 80)}</a></td>'
            f'<td class="num">{_count(group["count"])}</td>'
            f'<td class="num">{_count(per_call)}</td>'
            f'<td class="num">{_size(group["size"])}</td>'
            f'<td class="num">{_size(group["retained"])}</td>'
            f"<td><code>{_text(group['site'], 120) if group['site'] else '&ndash;'}</code></td>"
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


def _mean(values):
    return sum(values) / len(values) if values else None


def _render_holders(report):
    cards = [_render_holder(report, i, holder) for i, holder in enumerate(report["holders"])]
    return "\n".join(
        [
            '<section id="holders"><h2>Who holds the leak</h2>',
            '<p class="lead">A holder is the object whose references keep the leaked objects '
            "alive: the place to fix the leak.</p>",
            *cards,
            "</section>",
        ]
    )


def _render_holder(report, index, holder):
    short, explanation = _KINDS.get(holder["kind"], (holder["kind"], ""))
    kind_class = holder["kind"] if holder["kind"] in _KINDS else "other"
    where = (
        f' <span class="where">in {_text(holder["where"], 120)}</span>' if holder["where"] else ""
    )
    facts = [
        f"<li><strong>{_count(holder['objects'])}</strong> objects</li>",
        f"<li><strong>{_count(holder['per_call'])}</strong> per call</li>",
        f"<li>retaining <strong>{_size(holder['retained'])}</strong></li>",
    ]
    chips = [
        f'<li class="chip">{_text(name, 80)} <span class="times">&times;{_count(n)}</span></li>'
        for name, n in holder["types"]
    ]
    groups = [
        f'<a href="#group-{i}">{_text(group["type"], 80)}</a>'
        for i, group in enumerate(report["groups"])
        if group["holder"] == index
    ]
    parts = [
        f'<article class="card holder" id="holder-{index}">',
        f'<div class="card-head"><h3>{_text(holder["holder"])}{where}</h3>'
        f'<span class="badge kind-{kind_class}">{_text(short, 40)}</span></div>',
    ]
    if holder["sentence"]:
        parts.append(f'<p class="sentence">{_text(holder["sentence"])}</p>')
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
        parts.append(f'<p class="note">{_text(holder["note"])}</p>')
    parts.append("</article>")
    return "\n".join(parts)


def _render_groups(report):
    cards = [_render_group(report, i, group) for i, group in enumerate(report["groups"])]
    return "\n".join(
        [
            '<section id="groups"><h2>What leaked</h2>',
            '<p class="lead">The objects left alive, by type: where they were allocated, and the '
            "chain of references from a root that keeps one of them alive.</p>",
            *cards,
            "</section>",
        ]
    )


def _render_group(report, index, group):
    module = group["module"]
    qualifier = ""
    if module and module != "builtins":
        qualifier = f' <span class="module">from module {_text(module, 120)}</span>'
    per_call = _mean(group["per_call"])
    holder_link = ""
    if group["holder"] is not None:
        holder = report["holders"][group["holder"]]
        holder_link = (
            f'<p class="held-by">Held by <a href="#holder-{group["holder"]}">'
            f"{_text(holder['holder'])}</a></p>"
        )
    metrics = [
        ("Objects", _count(group["count"])),
        ("Per call", _count(per_call)),
        ("Size", _size(group["size"])),
        ("Retained", _size(group["retained"])),
    ]
    metric_cells = "".join(
        f"<div><dt>{label}</dt><dd>{value}</dd></div>" for label, value in metrics
    )
    return "\n".join(
        [
            f'<article class="card group" id="group-{index}">',
            f'<div class="card-head"><h3><span class="type">{_text(group["type"], 120)}</span>'
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


def _render_per_call(values):
    """Bars of the survivors of each measured call, with the counts spelled out."""
    if len(values) < 2:
        return ""
    top = max(values) or 1
    bars = []
    for i, value in enumerate(values):
        height = max(value / top * 28, 0.8)  # a zero still shows as a hairline
        css = ' class="zero"' if value == 0 else ""
        bars.append(
            f'<rect{css} x="{i + 0.15:.2f}" y="{30 - height:.2f}" width="0.7" '
            f'height="{height:.2f}"><title>call {i + 1}: {_count(value)}</title></rect>'
        )
    width = min(16 * len(values), 320)
    spelled = " &middot; ".join(_count(v) for v in values[:_VALUES_SHOWN])
    if len(values) > _VALUES_SHOWN:
        spelled += f" &middot; &hellip; (+{len(values) - _VALUES_SHOWN:,} calls)"
    return (
        '<figure class="per-call">'
        f'<svg viewBox="0 0 {len(values)} 30" preserveAspectRatio="none" width="{width}" '
        f'height="36" role="img" aria-label="survivors per call">{"".join(bars)}</svg>'
        f"<figcaption>Left alive by each call, in order: {spelled}</figcaption></figure>"
    )


def _render_site(group):
    """The allocation site and its traceback, innermost frames always shown."""
    parts = ['<div class="block"><h4>Allocated at</h4>']
    if group["site"]:
        parts.append(f'<p class="site"><code>{_text(group["site"])}</code></p>')
    else:
        parts.append(
            '<p class="missing">Unknown: the tracer did not see these objects allocated.</p>'
        )
    frames = group["traceback"]
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
                f"<details><summary>{len(older)} older {_plural(len(older), 'frame')}</summary>"
                f'<ol class="frames">{"".join(older)}</ol></details>'
            )
        parts.append(f'<ol class="frames">{"".join(shown)}</ol></div>')
    elif group["site"]:
        parts.append('<p class="missing">No traceback was recorded.</p>')
    parts.append("</div>")
    return "\n".join(parts)


def _render_frame(frame, last):
    filename, lineno, line = frame
    lineno_text = str(lineno) if lineno is not None else "?"
    source = f'<pre class="src">{_text(line.strip())}</pre>' if line and line.strip() else ""
    css = ' class="innermost"' if last else ""
    tag = ' <span class="badge alloc">allocated here</span>' if last else ""
    return (
        f'<li{css}><div class="loc">File <code>"{_text(filename)}"</code>, line '
        f"<code>{lineno_text}</code>{tag}</div>{source}</li>"
    )


def _render_chain(report, group):
    """The references from a root to the example object, one step per object."""
    chain = group["chain"]
    example = group["example"]
    heading = "How it is kept alive"
    if example:
        heading += f': <span class="example">{_text(example, 120)}</span>'
    parts = [f'<div class="block"><h4>{heading}</h4>']
    if not chain:
        kind = report["holders"][group["holder"]]["kind"] if group["holder"] is not None else None
        reason = {
            "external": " It is held from C: no Python object refers to it.",
            "uncollectable": " It is in gc.garbage.",
        }.get(kind, "")
        parts.append(f'<p class="missing">No reference chain was found.{reason}</p></div>')
        return "\n".join(parts)
    steps = []
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
            named = f" <code>{_text(label)}</code>" if label is not None else ""
            ref = f'<div class="ref"><span class="arrow">&darr;</span>{named}</div>'
        steps.append(
            f'<li class="{" ".join(classes)}"><div class="box">{"".join(tags)}'
            f'<span class="desc">{_text(description)}</span></div>{ref}</li>'
        )
    parts.append(f'<ol class="chain">{"".join(steps)}</ol></div>')
    return "\n".join(parts)


def _render_notes(notes):
    items = "".join(f"<li>{_text(note, 1000)}</li>" for note in notes)
    return f'<section id="notes"><h2>Notes</h2><ul class="notes">{items}</ul></section>'


def _render_footer(report):
    version = f" {_text(report['heaplens'], 40)}" if report["heaplens"] else ""
    return (
        f'<footer class="page">Written by heaplens{version}. '
        "This page is self-contained: it loads nothing from the network.</footer>"
    )


_CSS = """
:root {
  --ink: #1f2328; --muted: #59636e; --line: #d8dee4; --bg: #f6f8fa; --card: #fff;
  --accent: #0969da; --bad: #cf222e; --bad-bg: #ffebe9; --hold: #9a6700; --hold-bg: #fff8c5;
  --ok: #1a7f37; --ok-bg: #dafbe1; --code-bg: #f3f4f6;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  overflow-wrap: anywhere; }
.page { max-width: 1080px; margin: 0 auto; padding: 0 24px; }
main.page { padding-bottom: 24px; }
code, pre { font-family: var(--mono); font-size: 13px; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
header.top { background: var(--card); border-bottom: 1px solid var(--line); padding: 20px 0 22px; }
.brand { margin: 0; color: var(--muted); font-size: 13px; letter-spacing: .04em;
  text-transform: uppercase; }
h1 { margin: 4px 0 6px; font-size: 24px; line-height: 1.3; font-weight: 650; }
.ran { margin: 0 0 14px; color: var(--muted); }
.verdict { padding: 10px 14px; border-radius: 6px; border-left: 4px solid; }
.verdict.bad { background: var(--bad-bg); border-color: var(--bad); }
.verdict.ok { background: var(--ok-bg); border-color: var(--ok); font-size: 17px;
  display: flex; gap: 14px; align-items: center; padding: 14px 18px; }
.check { font-size: 30px; line-height: 1; color: var(--ok); font-weight: 700; }
h2 { font-size: 18px; margin: 28px 0 4px; }
h3 { font-size: 16px; margin: 0; }
h4 { font-size: 13px; margin: 0 0 6px; color: var(--muted); text-transform: uppercase;
  letter-spacing: .04em; font-weight: 600; }
.lead { margin: 0 0 12px; color: var(--muted); }
.stats { display: grid; grid-template-columns: repeat(auto-fill, minmax(140px, 1fr)); gap: 10px;
  margin: 20px 0 0; }
.stat { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 10px 12px; }
.stat dt { color: var(--muted); font-size: 12px; }
.stat dd { margin: 0; font-size: 20px; font-weight: 600; }
.stat dd.hint { font-size: 12px; font-weight: 400; color: var(--muted); }
.table-wrap { overflow-x: auto; background: var(--card); border: 1px solid var(--line);
  border-radius: 8px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 7px 12px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
tbody tr:last-child td { border-bottom: 0; }
th { font-size: 12px; color: var(--muted); font-weight: 600; background: var(--bg); }
.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 14px 16px; margin: 0 0 14px; break-inside: avoid; }
.card-head { display: flex; gap: 10px; align-items: baseline; justify-content: space-between; }
.card.holder { border-left: 4px solid var(--hold); }
.card.group { border-left: 4px solid var(--bad); }
.where, .module { color: var(--muted); font-weight: 400; font-size: 14px; }
.type { font-family: var(--mono); font-size: 17px; }
.sentence { margin: 6px 0; font-size: 15px; }
.facts { list-style: none; padding: 0; margin: 6px 0; display: flex; flex-wrap: wrap; gap: 6px 18px;
  color: var(--muted); }
.facts strong { color: var(--ink); }
.holds { display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; }
.label { color: var(--muted); font-size: 13px; }
.chips { list-style: none; margin: 4px 0; padding: 0; display: flex; flex-wrap: wrap; gap: 6px; }
.chip { background: var(--code-bg); border: 1px solid var(--line); border-radius: 999px;
  padding: 1px 10px; font-family: var(--mono); font-size: 13px; }
.times { color: var(--muted); }
.see, .held-by { margin: 6px 0 0; font-size: 14px; }
.explain { margin: 8px 0 0; color: var(--muted); font-size: 14px; }
.note { margin: 8px 0 0; padding: 6px 10px; background: var(--hold-bg); border-radius: 6px;
  font-size: 14px; }
.badge { display: inline-block; font-size: 11px; font-weight: 600; padding: 1px 8px;
  border-radius: 999px; border: 1px solid var(--line); background: var(--bg); color: var(--muted);
  white-space: nowrap; text-transform: uppercase; letter-spacing: .03em; margin-right: 6px; }
.badge.holder, .badge.kind-object, .badge.kind-frame { background: var(--hold-bg);
  border-color: #d4a72c; color: var(--hold); }
.badge.kind-external, .badge.kind-uncollectable, .badge.leaked { background: var(--bad-bg);
  border-color: #ff8182; color: var(--bad); }
.badge.alloc { background: var(--bad-bg); border-color: #ff8182; color: var(--bad);
  margin-left: 8px; font-family: system-ui, sans-serif; }
.group-top { display: flex; flex-wrap: wrap; gap: 12px 32px; align-items: flex-end;
  margin: 10px 0 4px; }
.metrics { display: flex; gap: 24px; margin: 0; }
.metrics dt { color: var(--muted); font-size: 12px; }
.metrics dd { margin: 0; font-size: 18px; font-weight: 600; font-variant-numeric: tabular-nums; }
.per-call { margin: 0; }
.per-call svg { display: block; background: var(--bg); border-bottom: 1px solid var(--line); }
.per-call rect { fill: var(--bad); opacity: .75; }
.per-call rect.zero { fill: var(--muted); opacity: .5; }
.per-call figcaption { font-size: 12px; color: var(--muted); }
.group-body { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 0 24px; }
.block { margin-top: 14px; }
.site { margin: 0 0 6px; }
.site code { font-size: 14px; font-weight: 600; }
.missing { margin: 0; color: var(--muted); font-style: italic; }
.traceback { border: 1px solid var(--line); border-radius: 6px; background: var(--code-bg);
  padding: 8px 12px; }
.tb-title { margin: 0 0 4px; font-size: 12px; color: var(--muted); }
.frames { list-style: none; margin: 0; padding: 0; }
.frames li { padding: 3px 0; }
.frames li.innermost .loc { font-weight: 600; }
.loc { font-size: 13px; }
.loc code { font-size: 13px; }
pre.src { margin: 2px 0 0 18px; white-space: pre-wrap; color: #0550ae; }
details summary { cursor: pointer; color: var(--accent); font-size: 13px; padding: 2px 0; }
details[open] summary { margin-bottom: 2px; }
.example { text-transform: none; letter-spacing: 0; font-family: var(--mono); font-weight: 400;
  color: var(--ink); }
.chain { list-style: none; margin: 0; padding: 0; }
.chain .box { display: inline-flex; flex-wrap: wrap; align-items: baseline; gap: 2px;
  border: 1px solid var(--line); border-radius: 6px; padding: 5px 10px; background: var(--card);
  max-width: 100%; }
.chain .desc { font-family: var(--mono); font-size: 13px; }
.chain .root .box { background: var(--bg); }
.chain .holder .box { background: var(--hold-bg); border-color: #d4a72c; border-width: 2px; }
.chain .leaked .box { background: var(--bad-bg); border-color: #ff8182; }
.chain .ref { margin: 0 0 0 16px; padding: 3px 0 3px 14px; border-left: 2px solid var(--line);
  color: var(--muted); }
.chain .ref code { font-size: 13px; color: var(--ink); background: var(--code-bg);
  padding: 0 4px; border-radius: 4px; }
.arrow { color: var(--muted); }
.cut { color: var(--bad); font-family: system-ui, sans-serif; font-size: 12px;
  white-space: nowrap; }
.notes { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  margin: 0; padding: 10px 16px 10px 34px; }
.notes li { margin: 3px 0; }
footer.page { color: var(--muted); font-size: 12px; padding-top: 8px; padding-bottom: 32px; }
@media (max-width: 860px) { .group-body { grid-template-columns: minmax(0, 1fr); } }
@page { margin: 12mm; }
@media print {
  .group-body { grid-template-columns: minmax(0, 1fr); }
  h2, h4, .lead { break-after: avoid; }
  .card.group { break-inside: auto; }
  .block, .frames li, .chain li, .group-top { break-inside: avoid; }
  body { background: #fff; font-size: 12px; }
  header.top { border: 0; padding-top: 0; }
  .card, .stat, .table-wrap, .notes { border-color: #bbb; }
  a { color: inherit; }
  details summary { color: inherit; }
}
"""

"""Realistic report dicts (docs/report-data.md), made by hand, for the HTML tests.

run_report() looks like `heaplens run shop/app.py` on a small web shop: at the
peak most memory was decoding rows from the database (load_orders ->
decode_rows -> json's raw_decode), less was rendering pages, a module-level
cache kept growing (it is most of what is left at exit), imports hold a few MiB,
and thousands of small stacks make the long tail the cut-offs must handle. Every
number is deterministic (a seeded random.Random).
"""

import random

KiB = 1024
MiB = 1024 * 1024

APP = "/srv/shop/app.py"
SERVER = "/srv/shop/server.py"
DB = "/srv/shop/db.py"
VIEWS = "/srv/shop/views.py"
CACHE = "/srv/shop/cache.py"
JSON = "/usr/lib/python3.11/json/decoder.py"
BOOT = "<frozen importlib._bootstrap>"

# The outermost calls of every request, outermost first.
REQUEST = [
    (APP, 120, "<module>"),
    (APP, 101, "main"),
    (SERVER, 44, "serve"),
    (SERVER, 61, "handle"),
]

# (path below REQUEST, outermost first; bytes at the peak; bytes at exit)
HOT_PATHS = [
    (
        [(DB, 88, "load_orders"), (DB, 132, "decode_rows"), (JSON, 353, "raw_decode")],
        24 * MiB,
        0,
    ),
    ([(DB, 88, "load_orders"), (DB, 140, "decode_rows")], 3 * MiB, 0),
    ([(VIEWS, 27, "render_page"), (VIEWS, 53, "format_row")], 9 * MiB, 0),
    ([(CACHE, 19, "remember")], 4 * MiB, 4 * MiB + 512 * KiB),
]

TAIL_FILES = [
    "/srv/shop/models.py",
    "/srv/shop/util.py",
    "/usr/lib/python3.11/email/parser.py",
    "/usr/lib/python3.11/re/_compiler.py",
    "/usr/lib/python3.11/logging/__init__.py",
    "/srv/shop/forms.py",
]
TAIL_FUNCTIONS = ["parse", "compile", "get", "build", "validate", "emit", "format", "_step"]


def stack(path, prefix=REQUEST):
    """The frames dicts of prefix + path, most recent call first (as in the data)."""
    frames = [{"file": f, "line": line, "function": fn} for f, line, fn in prefix + path]
    return frames[::-1]


def _tail_stacks(rng, count):
    """`count` small stacks of 3 to 12 frames under <module> or a request."""
    stacks = []
    for _ in range(count):
        depth = rng.randint(3, 12)
        path = [
            (rng.choice(TAIL_FILES), rng.randint(1, 900), rng.choice(TAIL_FUNCTIONS))
            for _ in range(depth)
        ]
        prefix = REQUEST if rng.random() < 0.6 else REQUEST[:1]
        size = rng.randint(48, 2400)
        stacks.append({"frames": stack(path, prefix), "bytes": size, "blocks": rng.randint(1, 9)})
    return stacks


def _import_stacks():
    """The memory of imports: code objects and module dicts, alive to the end."""
    stacks = []
    for i, module in enumerate(["db", "views", "cache", "json", "email", "logging"]):
        path = [
            (BOOT, 1178, "_find_and_load"),
            (BOOT, 690, "_load_unlocked"),
            (f"/srv/shop/{module}.py" if i < 3 else JSON, 1, "<module>"),
        ]
        stacks.append(
            {"frames": stack(path, REQUEST[:1]), "bytes": (600 - 80 * i) * KiB, "blocks": 900}
        )
    return stacks


def _snapshot(label, time_s, stacks, top):
    """A SNAP dict: the biggest `top` stacks and what the cut-off left out."""
    stacks = sorted(stacks, key=lambda s: -s["bytes"])
    kept, left = stacks[:top], stacks[top:]
    return {
        "label": label,
        "time_s": time_s,
        "total_bytes": sum(s["bytes"] for s in stacks),
        "total_blocks": sum(s["blocks"] for s in stacks),
        "stacks": kept,
        "other_bytes": sum(s["bytes"] for s in left),
        "other_blocks": sum(s["blocks"] for s in left),
        "other_stacks": len(left),
    }


def _top_sites(peak_stacks, exit_stacks, top=40):
    """top_sites grouped by allocating line, biggest at the peak first."""
    sites = {}
    for which, stacks in (("peak", peak_stacks), ("exit", exit_stacks)):
        for entry in stacks:
            frame = entry["frames"][0]
            key = (frame["file"], frame["line"], frame["function"])
            site = sites.setdefault(
                key,
                {"file": key[0], "line": key[1], "function": key[2], "peak_bytes": 0,
                 "peak_blocks": 0, "exit_bytes": 0, "exit_blocks": 0},
            )  # fmt: skip
            site[f"{which}_bytes"] += entry["bytes"]
            site[f"{which}_blocks"] += entry["blocks"]
    return sorted(sites.values(), key=lambda s: -s["peak_bytes"])[:top]


def _timeline(peak_total, exit_total, rng):
    """350 samples over 3.5 s: imports, a climb to the peak at 1.52 s, a drop."""
    points = []
    for i in range(350):
        t = 0.01 * (i + 1)
        if t < 0.3:
            traced = 2.7 * MiB * t / 0.3
        elif t <= 1.52:
            traced = 2.7 * MiB + (peak_total - 2.7 * MiB) * ((t - 0.3) / 1.22) ** 1.6
        else:
            traced = exit_total + (peak_total - exit_total) * max(0.0, 1 - (t - 1.52) / 0.4)
        traced = int(min(traced, peak_total))
        traced_max = min(peak_total, traced + rng.randint(0, 400 * KiB))
        if abs(t - 1.52) < 1e-9:
            traced, traced_max = peak_total - 64 * KiB, peak_total
        rss = int(11 * MiB + 1.25 * max(traced, 0.8 * peak_total if t > 1.52 else 0))
        points.append({"t": round(t, 3), "traced": traced, "traced_max": traced_max, "rss": rss})
    return {"points": points, "peak_t": 1.52}


def run_report(n_tail=3000, top=2000):
    """The report dict of a run (kind "run") with every section filled."""
    rng = random.Random(6)
    peak_stacks = [
        {"frames": stack(path), "bytes": size, "blocks": size // 900} for path, size, _ in HOT_PATHS
    ]
    peak_stacks += _import_stacks() + _tail_stacks(rng, n_tail)
    exit_stacks = [
        {"frames": stack(path), "bytes": size, "blocks": size // 900}
        for path, _, size in HOT_PATHS
        if size
    ]
    exit_stacks += _import_stacks() + _tail_stacks(rng, n_tail // 6)
    peak = _snapshot("At the peak", 1.52, peak_stacks, top)
    at_exit = _snapshot("At exit", 3.5, exit_stacks, top)
    leaks = sorted(exit_stacks, key=lambda s: -s["bytes"])[:50]
    return {
        "kind": "run",
        "title": "python shop/app.py --requests 500",
        "meta": [
            ["Command", "python shop/app.py --requests 500"],
            ["Python", "3.11.7"],
            ["PID", "48213"],
            ["Started", "2026-11-24 10:02:03"],
            ["Duration", "3.50 s"],
            ["Exit", "exit status 0"],
            ["Tracing", "every allocation, 25 frames"],
        ],
        "exit_status": "exit status 0",
        "sample_rate": 0,
        "peak": peak,
        "exit": at_exit,
        "timeline": _timeline(peak["total_bytes"], at_exit["total_bytes"], rng),
        "top_sites": _top_sites(peak_stacks, exit_stacks),
        "leaks": leaks,
        "notes": [],
    }


def diff_report(n_tail=600):
    """The report dict of a diff (kind "diff"): the cache grew, decoding shrank."""
    rng = random.Random(7)
    changes = [
        ([(CACHE, 19, "remember")], 4 * MiB, 7 * MiB + 256 * KiB),
        ([(VIEWS, 27, "render_page"), (VIEWS, 53, "format_row")], 1 * MiB, 1 * MiB + 300 * KiB),
        ([(DB, 88, "load_orders"), (DB, 132, "decode_rows")], 2 * MiB, 1 * MiB),
    ]
    stacks = []
    for path, old, new in changes:
        stacks.append(_diff_entry(stack(path), old, new))
    for entry in _tail_stacks(rng, n_tail):
        old = entry["bytes"]
        new = max(0, old + rng.randint(-old, 3000))
        if new != old:
            stacks.append(_diff_entry(entry["frames"], old, new))
    stacks.sort(key=lambda s: -abs(s["diff_bytes"]))
    old_total = 60 * MiB + sum(s["old_bytes"] for s in stacks)
    new_total = old_total + sum(s["diff_bytes"] for s in stacks) + 20 * KiB
    return {
        "kind": "diff",
        "title": "before.hlc -> after.hlc",
        "old": {"label": "before.hlc (exit)", "total_bytes": old_total, "total_blocks": 81000},
        "new": {"label": "after.hlc (exit)", "total_bytes": new_total, "total_blocks": 84210},
        "stacks": stacks,
        "other_stacks": 37,
        "other_diff_bytes": 20 * KiB,
        "notes": [],
    }


def _diff_entry(frames, old, new):
    """One stack of a diff report."""
    old_blocks, new_blocks = old // 700, new // 700
    return {
        "frames": frames,
        "old_bytes": old,
        "new_bytes": new,
        "diff_bytes": new - old,
        "old_blocks": old_blocks,
        "new_blocks": new_blocks,
        "diff_blocks": new_blocks - old_blocks,
    }


def bytes_under(stacks, path, key="bytes"):
    """The bytes of the stacks whose outermost frames are `path`
    [(file, line, function)], i.e. what the flame graph box of path's last frame holds."""
    total = 0
    for entry in stacks:
        outermost = [(f["file"], f["line"], f["function"]) for f in reversed(entry["frames"])]
        if outermost[: len(path)] == list(path):
            total += entry[key]
    return total

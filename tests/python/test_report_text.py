"""The report data of captures and diffs (heaplens._report.data), its text
(heaplens._report.text) and units (heaplens._report.units).

Snapshots are built from raw trace tuples (frames most recent first) or, where
one trace must stand for many blocks as in `heaplens run` captures, from a
stand-in that answers statistics() with aggregated counts.
"""

import json
import re

import pytest

from heaplens._report.data import build_diff_report, build_run_report
from heaplens._report.lines import frame_text
from heaplens._report.text import format_diff, format_report, format_run_summary
from heaplens._report.units import format_bytes, format_count, format_percent, format_seconds
from heaplens._trace.capture import Capture, Timeline
from heaplens._trace.snapshot import Snapshot, Statistic, Traceback

APP = "/srv/app/src/app/loader.py"
MAIN = "/srv/app/main.py"
LIB = "/usr/lib/python3.11/json/decoder.py"
START_NS = 1_764_000_000_000_000_000


def traces(n, size, *frames):
    """n raw traces of `size` bytes allocated by `frames` (most recent first)."""
    return [(0, size, tuple(frames), len(frames))] * n


def snapshot(*groups):
    """A tuple-backed Snapshot of the concatenated trace groups."""
    return Snapshot([t for group in groups for t in group], 25)


class AggregatedSnapshot:
    """A snapshot whose single trace per stack stands for many blocks, as in
    captures written by `heaplens run`: statistics() reports counts that
    len(traces) cannot give."""

    def __init__(self, stacks, functions=None):
        # stacks: [(frames most recent first, size, count)]
        self._stacks = stacks
        self._functions = functions or {}
        self.traces = [(0, size, frames, len(frames)) for frames, size, _ in stacks]

    def statistics(self, key_type, cumulative=False):
        groups = {}
        for frames, size, count in self._stacks:
            key = Traceback(frames if key_type == "traceback" else frames[:1])
            old = groups.get(key)
            groups[key] = Statistic(
                key, size + (old.size if old else 0), count + (old.count if old else 0)
            )
        return sorted(groups.values(), key=Statistic._sort_key, reverse=True)

    def domain_sizes(self):
        return {0: sum(size for _, size, _ in self._stacks)} if self._stacks else {}

    def stack_statistics(self):
        rows = [
            (tuple((f, n, self._functions.get((f, n), "")) for f, n in frames), size, count)
            for frames, size, count in self._stacks
        ]
        return sorted(rows, key=lambda row: (-row[1], -row[2], row[0]))


def run_info(**extra):
    """The info dict `heaplens run` writes for a plain, successful run."""
    info = {
        "command": "python main.py --rows 1000",
        "pid": "4242",
        "python_version": "3.11.7",
        "platform": "Linux-6.1-x86_64",
        "heaplens_version": "0.1.0",
        "started_ns": str(START_NS),
        "duration_ns": "2500000000",
        "exit": "exit status 0",
        "exit_code": "0",
        "nframe": "25",
        "sample_rate": "0",
        "interval_ms": "10",
        "peak_ns": "1500000000",
        "dropped": "0",
    }
    info.update(extra)
    return info


@pytest.fixture
def run_capture():
    """A capture like `heaplens run` writes: peak, exit, timeline, info."""
    peak = snapshot(
        traces(300, 100_000, (APP, 42), (APP, 80), (MAIN, 10)),
        traces(50, 30_000, (LIB, 353), (APP, 51), (MAIN, 10)),
        traces(2, 500, (APP, 42), (MAIN, 99)),
    )
    exit_ = snapshot(
        traces(40, 100_000, (APP, 42), (APP, 80), (MAIN, 10)),
        traces(3, 700, (MAIN, 5)),
    )
    points = [(i * 100_000_000, i * 1_000_000, i * 1_000_000 + 10, 50_000_000) for i in range(25)]
    info = run_info(peak_traced=str(peak_total(peak)))
    return Capture({"peak": peak, "exit": exit_}, Timeline(START_NS, points, 10**7), info)


def peak_total(snap):
    return sum(stat.size for stat in snap.statistics("traceback"))


def assert_fits(text, width=100):
    for line in text.splitlines():
        assert len(line) <= width, f"{len(line)} columns: {line!r}"


# ---- units -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (1, "1 B"),
        (1023, "1023 B"),
        (1024, "1.00 KiB"),
        (1536, "1.50 KiB"),
        (10 * 1024, "10.0 KiB"),
        (int(99.97 * 1024), "100 KiB"),
        (1000 * 1024, "1000 KiB"),
        (1024 * 1024 - 1, "1.00 MiB"),
        (5 * 1024**2 + 300 * 1024, "5.29 MiB"),
        (3 * 1024**3, "3.00 GiB"),
        (2**63, "8.00 EiB"),
    ],
)
def test_format_bytes_picks_the_unit_and_three_digits(size, text):
    assert format_bytes(size) == text


def test_format_bytes_signs_and_absurd_sizes():
    assert format_bytes(2048, sign=True) == "+2.00 KiB"
    assert format_bytes(-2048, sign=True) == "-2.00 KiB"
    assert format_bytes(-5) == "-5 B"
    assert format_bytes(0, sign=True) == "0 B"
    assert len(format_bytes(10**40)) <= 12


def test_counts_percents_and_durations():
    assert format_count(1234567) == "1,234,567"
    assert format_count(1200, sign=True) == "+1,200"
    assert format_count(-1200, sign=True) == "-1,200"
    assert format_count(0, sign=True) == "0"
    assert format_percent(1, 3) == "33.3%"
    assert format_percent(1, 10_000) == "<0.1%"
    assert format_percent(9999, 10_000) == ">99.9%"
    assert format_percent(5, 5) == "100%"
    assert format_percent(5, 0) == ""
    assert format_percent(-1, 4, sign=True) == "-25.0%"
    assert format_seconds(0.351) == "0.35 s"
    assert format_seconds(12.46) == "12.5 s"
    assert format_seconds(185) == "3 min 05 s"
    assert format_seconds(7380) == "2 h 03 min"


def test_frame_text_keeps_file_name_and_line_when_shortened():
    frame = {"file": "/very/" + "deep/" * 80 + "module_name.py", "line": 1234, "function": "f"}
    text = frame_text(frame, 60)
    assert len(text) <= 60
    assert text.startswith("...")
    assert text.endswith("/module_name.py:1234 in f")


def test_frame_text_cuts_the_function_before_the_file_name():
    frame = {"file": "/a/" + "b" * 40 + ".py", "line": 7, "function": "g" * 200}
    text = frame_text(frame, 70)
    assert len(text) <= 70
    assert ("b" * 40 + ".py:7 in g") in text
    assert text.endswith("...")


def test_frame_text_shows_control_characters_as_escapes():
    frame = {"file": "/tmp/\x1b[2Jevil\n.py", "line": 1, "function": "f\r"}
    text = frame_text(frame, 100)
    assert "\x1b" not in text and "\n" not in text and "\r" not in text
    assert "\\x1b[2Jevil\\n.py:1 in f\\r" in text


# ---- the run report data -------------------------------------------------------


def test_run_report_has_every_contract_key(run_capture):
    report = build_run_report(run_capture)
    assert set(report) >= {
        "kind",
        "title",
        "meta",
        "exit_status",
        "sample_rate",
        "peak",
        "exit",
        "timeline",
        "top_sites",
        "leaks",
        "notes",
    }
    assert report["kind"] == "run"
    assert report["title"] == "python main.py --rows 1000"
    assert report["exit_status"] == "exit status 0"
    assert report["sample_rate"] == 0
    snap_keys = {"label", "time_s", "total_bytes", "total_blocks", "stacks"}
    snap_keys |= {"other_bytes", "other_blocks", "other_stacks", "outside_bytes"}
    assert set(report["peak"]) == snap_keys
    assert report["peak"]["label"] == "At the peak"
    assert report["exit"]["label"] == "At exit"
    assert report["exit"]["time_s"] == 2.5
    assert report["peak"]["time_s"] == 1.5
    json.dumps(report)  # JSON-ready: plain types only


def test_run_report_frames_run_most_recent_first(run_capture):
    report = build_run_report(run_capture)
    biggest = report["peak"]["stacks"][0]
    assert biggest["frames"] == [
        {"file": APP, "line": 42, "function": ""},
        {"file": APP, "line": 80, "function": ""},
        {"file": MAIN, "line": 10, "function": ""},
    ]
    assert biggest["bytes"] == 30_000_000
    assert biggest["blocks"] == 300


def test_run_report_totals_and_cut_off(run_capture):
    report = build_run_report(run_capture, top=1)
    peak = report["peak"]
    assert peak["total_bytes"] == 300 * 100_000 + 50 * 30_000 + 2 * 500
    assert peak["total_blocks"] == 352
    assert len(peak["stacks"]) == 1
    assert peak["other_stacks"] == 2
    assert peak["other_bytes"] == 50 * 30_000 + 2 * 500
    assert peak["other_blocks"] == 52


def test_run_report_counts_blocks_not_traces():
    stack = ((APP, 42), (MAIN, 10))
    names = {(APP, 42): "load"}  # one run: both snapshots know the same functions
    peak = AggregatedSnapshot([(stack, 8_000_000, 1000), (((LIB, 1),), 64, 4)], functions=names)
    exit_ = AggregatedSnapshot([(stack, 800, 100)], functions=names)
    report = build_run_report(Capture({"peak": peak, "exit": exit_}, info=run_info()))
    assert report["peak"]["total_blocks"] == 1004
    assert report["peak"]["stacks"][0]["blocks"] == 1000
    assert report["leaks"] == [
        {
            "frames": [
                {"file": APP, "line": 42, "function": "load"},
                {"file": MAIN, "line": 10, "function": ""},
            ],
            "bytes": 800,
            "blocks": 100,
        }
    ]
    site = report["top_sites"][0]
    assert (site["file"], site["line"], site["function"]) == (APP, 42, "load")
    assert (site["peak_blocks"], site["exit_blocks"]) == (1000, 100)


def test_top_sites_group_by_allocating_line(run_capture):
    report = build_run_report(run_capture)
    sites = report["top_sites"]
    first = sites[0]
    # Two stacks allocate at APP:42; they make one site.
    assert (first["file"], first["line"]) == (APP, 42)
    assert first["peak_bytes"] == 300 * 100_000 + 2 * 500
    assert first["peak_blocks"] == 302
    assert first["exit_bytes"] == 40 * 100_000
    assert first["exit_blocks"] == 40
    exit_only = [s for s in sites if (s["file"], s["line"]) == (MAIN, 5)]
    assert exit_only[0]["peak_bytes"] == 0 and exit_only[0]["exit_blocks"] == 3
    assert [s["peak_bytes"] for s in sites] == sorted(
        (s["peak_bytes"] for s in sites), reverse=True
    )
    assert len(build_run_report(run_capture, sites_top=2)["top_sites"]) == 2


def test_leaks_are_the_biggest_stacks_alive_at_exit(run_capture):
    report = build_run_report(run_capture, leaks_top=1)
    assert len(report["leaks"]) == 1
    assert report["leaks"][0]["bytes"] == 4_000_000
    assert report["leaks"][0]["frames"][0]["line"] == 42


def test_timeline_points_and_peak_time(run_capture):
    run_capture.timeline.points[3] = run_capture.timeline.points[3]._replace(rss=0)
    # The timeline started 0.5 s after the run: the peak time moves with it.
    run_capture.timeline.start_ns = START_NS + 500_000_000
    report = build_run_report(run_capture)
    timeline = report["timeline"]
    assert len(timeline["points"]) == 25
    assert timeline["points"][1] == {
        "t": 0.1,
        "traced": 1_000_000,
        "traced_max": 1_000_010,
        "rss": 50_000_000,
    }
    assert timeline["points"][3]["rss"] is None
    assert timeline["peak_t"] == pytest.approx(1.0)
    assert report["peak_t"] == pytest.approx(1.0)


def test_meta_names_the_facts_in_order(run_capture):
    report = build_run_report(run_capture)
    meta = dict(report["meta"])
    assert [name for name, _ in report["meta"]][:3] == ["Command", "Python", "Platform"]
    assert meta["PID"] == "4242"
    assert meta["Duration"] == "2.50 s"
    assert meta["Exit"] == "exit status 0"
    assert meta["Tracing"] == "every allocation, 25 frames; heap size every 10 ms"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", meta["Started"])


def test_fork_child_names_its_parent(run_capture):
    run_capture.info["parent_pid"] = "4000"
    meta = dict(build_run_report(run_capture)["meta"])
    assert meta["PID"] == "4242 (child of 4000)"


def test_notes_on_sampling_dropped_blocks_and_peak_mismatch(run_capture):
    assert build_run_report(run_capture)["notes"] == []
    total = run_capture.info["peak_traced"]
    run_capture.info.update(sample_rate="524288", dropped="1234", peak_traced=str(int(total) * 2))
    report = build_run_report(run_capture)
    assert report["sample_rate"] == 524288
    assert "sampled" in dict(report["meta"])["Tracing"]
    sampling, dropped, mismatch = report["notes"]
    assert sampling.startswith("Sizes and block counts are estimates")
    assert "512 KiB" in sampling
    assert "1,234 blocks" in dropped
    assert "50.0% less" in mismatch


def test_peak_mismatch_within_one_percent_is_not_noted(run_capture):
    total = int(run_capture.info["peak_traced"])
    run_capture.info["peak_traced"] = str(int(total * 1.009))
    assert build_run_report(run_capture)["notes"] == []


def test_missing_info_and_no_timeline():
    capture = Capture({"peak": snapshot(), "exit": snapshot()})
    report = build_run_report(capture)
    assert report["title"] == "heaplens capture"
    assert report["meta"] == []
    assert report["exit_status"] is None
    assert report["timeline"] is None
    assert report["peak"]["total_bytes"] == 0 and report["peak"]["stacks"] == []
    assert report["exit"]["time_s"] is None
    assert report["top_sites"] == [] and report["leaks"] == []
    for text in (
        format_report(report),
        format_run_summary(report, "x.hlc", "heaplens report x.hlc"),
    ):
        assert_fits(text)
    assert "(nothing was alive)" in format_report(report)


def test_malformed_info_values_are_ignored():
    info = {"pid": "", "duration_ns": "soon", "sample_rate": "-5", "nframe": "x", "peak_ns": "?"}
    report = build_run_report(Capture({"exit": snapshot(traces(1, 10, (APP, 1)))}, info=info))
    assert report["sample_rate"] == 0
    assert report["peak_t"] is None
    assert "PID" not in dict(report["meta"])
    assert_fits(format_report(report))


def test_lone_snapshot_from_dump_stands_in_for_exit():
    capture = Capture({"": snapshot(traces(3, 100, (APP, 7)))}, path="/data/app.hlc")
    report = build_run_report(capture)
    assert report["title"] == "app.hlc"
    assert report["peak"] is None
    assert report["exit"]["label"] == "In the snapshot"
    assert report["exit"]["total_bytes"] == 300
    assert report["leaks"][0]["blocks"] == 3
    assert any("Snapshot.dump" in note for note in report["notes"])
    text = format_report(report)
    assert "In the snapshot" in text and "at peak" not in text
    assert "Where the memory was at the peak" not in text
    summary = format_run_summary(report, "/data/app.hlc", "heaplens report /data/app.hlc")
    assert "In the snapshot: 300 B in 3 blocks" in summary


def test_progress_is_told_each_step(run_capture):
    calls = []

    class Recorder:
        def update(self, done, total):
            calls.append((done, total))

    build_run_report(run_capture, progress=Recorder())
    assert calls[0] == (0, 4) and calls[-1] == (4, 4)


# ---- the run report text ---------------------------------------------------------


def test_report_text_reads_top_down(run_capture):
    text = format_report(build_run_report(run_capture))
    assert_fits(text)
    order = [
        "heaplens report: python main.py --rows 1000",
        "Peak",
        "Memory over time",
        "Where the memory was at the peak",
        "Still alive at exit",
        "Top allocation sites",
    ]
    positions = [text.index(heading) for heading in order]
    assert positions == sorted(positions)
    assert "30.0 MiB" in text  # the biggest stack at the peak
    assert "<- peak" in text


def test_report_stack_table_columns_align(run_capture):
    text = format_report(build_run_report(run_capture))
    section = text[text.index("Where the memory was at the peak") :].split("\n\n")[1]
    header, *rows = section.splitlines()
    where = header.index("allocated at")
    for line in rows:
        assert line[where - 2 : where] == "  ", line
        assert line[where] != " ", line
    size_end = header.index("size") + len("size")
    ranked = [line for line in rows if line.strip()[0].isdigit()]
    assert len(ranked) == 3
    for line in ranked:
        assert line[size_end - 1] == "B" and line[size_end] == " ", line
    # The allocating frame first, then its callers, one per line.
    assert rows[0].endswith("/srv/app/src/app/loader.py:42")
    assert rows[1].strip() == "/srv/app/src/app/loader.py:80"


def test_report_fits_hostile_inputs():
    long_dir = "/" + "/".join(f"directory_number_{i}" for i in range(40))
    deep = tuple((f"{long_dir}/m{i}.py", 10**9 + i) for i in range(300))
    functions = {frame: "function_" + "x" * 300 for frame in deep[:5]}
    stacks = [(deep, 2**62, 10**15), (((long_dir + "/" + "n" * 150 + ".py", 1),), 1, 1)]
    peak = AggregatedSnapshot(stacks, functions)
    info = run_info(
        command="python " + "--flag " * 200 + "x" * 300,
        exit="uncaught ValueError: " + "bad row " * 50,
        peak_traced=str(2**62),
        platform="\x1b[31m" + "p" * 500,
    )
    points = [(i, 2**62, 2**62, 2**62) for i in range(5000)]
    capture = Capture({"peak": peak, "exit": peak}, Timeline(START_NS, points), info)
    report = build_run_report(capture)
    text = format_report(report)
    assert_fits(text)
    assert "\x1b" not in text
    assert "4.00 EiB" in text and "1,000,000,000,000,000" in text
    assert "... 294 older frames" in text
    assert_fits(format_report(report, width=60), 60)
    summary = format_run_summary(report, "out.hlc", "heaplens report --html out.html out.hlc")
    assert_fits(summary)


def test_format_report_with_no_snapshots():
    text = format_report(build_run_report(Capture({}, info=run_info())))
    assert "no snapshot" in text
    assert_fits(text)


# ---- the summary of `heaplens run` -------------------------------------------------


def test_run_summary_is_short_and_names_the_report_command(run_capture):
    report = build_run_report(run_capture)
    command = "heaplens report --html app.html heaplens-main-4242.hlc"
    summary = format_run_summary(report, "heaplens-main-4242.hlc", command)
    lines = summary.splitlines()
    assert lines[0] == "heaplens: python main.py --rows 1000 (exit status 0, 2.50 s)"
    assert lines[1].startswith("Peak heap: ")
    assert "1.50 s after start" in lines[1]
    assert lines[-2] == "Capture: heaplens-main-4242.hlc"
    assert lines[-1] == "Report:  " + command
    exit_line = next(i for i, line in enumerate(lines) if line.startswith("Still alive at exit"))
    assert lines[exit_line] == "Still alive at exit: 3.82 MiB in 43 blocks"
    # At most 5 stacks at the peak (here 3) and 3 at exit (here 2).
    assert exit_line - 3 == 3
    assert len(lines) == 2 + 1 + 3 + 1 + 2 + 2
    assert "99.9%" in lines[exit_line + 1]
    assert_fits(summary)


def test_run_summary_prints_a_long_report_command_whole(run_capture):
    path = "/tmp/" + "deep/" * 30 + "heaplens-main-4242.hlc"
    command = f"heaplens report --html app.html {path}"
    summary = format_run_summary(build_run_report(run_capture), path, command)
    assert summary.endswith("\n" + "Report:  " + command)
    assert_fits("\n".join(summary.splitlines()[:-2]))


def test_run_summary_carries_the_sampling_note(run_capture):
    run_capture.info["sample_rate"] = "1048576"
    summary = format_run_summary(build_run_report(run_capture), "a.hlc", "heaplens report a.hlc")
    assert "Note: Sizes and block counts are estimates" in summary
    assert_fits(summary)


# ---- diffs ---------------------------------------------------------------------


@pytest.fixture
def two_snapshots():
    old = snapshot(
        traces(10, 1000, (APP, 42), (MAIN, 10)),
        traces(5, 2000, (LIB, 353), (MAIN, 11)),
        traces(2, 64, (MAIN, 1)),
    )
    new = snapshot(
        traces(30, 1000, (APP, 42), (MAIN, 10)),
        traces(1, 2000, (LIB, 353), (MAIN, 11)),
        traces(2, 64, (MAIN, 1)),
        traces(1, 50, (MAIN, 77)),
    )
    return old, new


def test_diff_report_data(two_snapshots):
    old, new = two_snapshots
    diff = build_diff_report(old, new, "old.hlc (exit)", "new.hlc (exit)")
    assert diff["kind"] == "diff"
    assert diff["title"] == "old.hlc (exit) -> new.hlc (exit)"
    assert diff["old"] == {
        "label": "old.hlc (exit)",
        "total_bytes": 20_128,
        "total_blocks": 17,
        "outside_bytes": 0,
    }
    assert diff["new"] == {
        "label": "new.hlc (exit)",
        "total_bytes": 32_178,
        "total_blocks": 34,
        "outside_bytes": 0,
    }
    changes = [(s["frames"][0]["line"], s["diff_bytes"], s["diff_blocks"]) for s in diff["stacks"]]
    assert changes == [(42, 20_000, 20), (353, -8000, -4), (77, 50, 1)]
    grown = diff["stacks"][0]
    assert (grown["old_bytes"], grown["new_bytes"], grown["old_blocks"], grown["new_blocks"]) == (
        10_000,
        30_000,
        10,
        30,
    )
    assert grown["frames"][1] == {"file": MAIN, "line": 10, "function": ""}
    assert diff["other_stacks"] == 0 and diff["other_diff_bytes"] == 0
    assert "1 stack held the same memory" in diff["notes"][0]
    json.dumps(diff)


def test_diff_report_cut_off(two_snapshots):
    old, new = two_snapshots
    diff = build_diff_report(old, new, "a", "b", top=1)
    assert len(diff["stacks"]) == 1
    assert diff["other_stacks"] == 2
    assert diff["other_diff_bytes"] == -8000 + 50


def test_diff_text_signs_and_totals(two_snapshots):
    old, new = two_snapshots
    text = format_diff(build_diff_report(old, new, "old.hlc (exit)", "new.hlc (exit)"))
    assert_fits(text)
    lines = text.splitlines()
    assert lines[0] == "heaplens diff: old.hlc (exit) -> new.hlc (exit)"
    change = next(line for line in lines if line.lstrip().startswith("change"))
    assert re.search(r"\+11\.8 KiB\s+\+17\s+\(\+59\.9%\)$", change), change
    rows = [line for line in lines if re.match(r"\s+\d+\.\s", line)]
    assert len(rows) == 3
    assert re.match(r"\s+1\.\s+\+19\.5 KiB\s+9\.77 KiB\s+29\.3 KiB\s+\+20\s+", rows[0]), rows[0]
    assert re.match(r"\s+2\.\s+-7\.81 KiB\s+9\.77 KiB\s+1\.95 KiB\s+-4\s+", rows[1]), rows[1]
    assert re.match(r"\s+3\.\s+\+50 B\s+0 B\s+50 B\s+\+1\s+", rows[2]), rows[2]
    # Right-aligned: every change ends in the same column.
    ends = {row.index("B ") for row in rows}
    assert len(ends) == 1


def test_diff_of_equal_snapshots_says_nothing_changed(two_snapshots):
    old, _ = two_snapshots
    diff = build_diff_report(old, old, "a", "b")
    assert diff["stacks"] == []
    text = format_diff(diff)
    assert "Nothing changed" in text
    assert re.search(r"change\s+0 B\s+0\s+\(\+0\.0%\)", text)


def test_diff_text_fits_hostile_inputs():
    long_path = "/" + "x" * 400 + "/mod.py"
    old = snapshot(traces(1, 10, (long_path, 1)))
    deep = tuple((f"/{'y' * 90}/f{i}.py", i) for i in range(100))
    new = AggregatedSnapshot([(deep, 2**60, 10**12)], {deep[0]: "z" * 500})
    label = "/" + "very-long-label/" * 20 + "new.hlc (exit)"
    text = format_diff(build_diff_report(old, new, label, label))
    assert_fits(text)
    assert "+1.00 EiB" in text and "+1,000,000,000,000" in text
    assert "/f0.py:0 in zzz" in text and "/mod.py:1" in text
    assert_fits(format_diff(build_diff_report(old, new, "a", "b"), width=50), 50)


def test_module_exports_the_functions_the_cli_calls():
    from heaplens._report import data, text

    for module, name in (
        (data, "build_run_report"),
        (data, "build_diff_report"),
        (text, "format_run_summary"),
        (text, "format_report"),
        (text, "format_diff"),
    ):
        assert callable(getattr(module, name))

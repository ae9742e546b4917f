"""Snapshot.dump() and Snapshot.load(): heaplens capture files.

A round trip keeps every trace and statistic. A file that is not a capture
(corrupt, truncated, foreign, empty) raises ValueError naming the file; a file
that cannot be opened raises the OSError the stdlib's load would.
"""

import pickle
import tracemalloc as std

import pytest

import heaplens
import heaplens.tracemalloc as hl
from conftest import KEY_TYPES


def _allocate():
    keep = [bytearray(200 + i) for i in range(40)]
    keep.append({str(i): i for i in range(100)})
    return keep


@pytest.fixture(scope="module")
def snapshot():
    hl.start(6)
    keep = _allocate()
    snapshot = hl.take_snapshot()
    hl.stop()
    del keep
    return snapshot


@pytest.fixture(scope="module")
def small_capture(snapshot, tmp_path_factory):
    """The bytes of a capture holding only this file's traces."""
    path = tmp_path_factory.mktemp("capture") / "small.hlc"
    snapshot.filter_traces([hl.Filter(True, __file__)]).dump(path)
    return path.read_bytes()


def _assert_same(loaded, snapshot):
    assert loaded.traceback_limit == snapshot.traceback_limit
    assert len(loaded.traces) == len(snapshot.traces)
    assert loaded.traces == snapshot.traces
    for key, cumulative in KEY_TYPES:
        assert loaded.statistics(key, cumulative) == snapshot.statistics(key, cumulative)


def test_round_trip(snapshot, tmp_path):
    path = tmp_path / "snap.hlc"
    snapshot.dump(str(path))
    loaded = hl.Snapshot.load(str(path))
    assert isinstance(loaded, hl.Snapshot)
    _assert_same(loaded, snapshot)
    assert loaded.compare_to(snapshot, "lineno")[0].size_diff == 0
    _assert_same(heaplens.load(path).snapshot(), snapshot)  # path-like works too


def test_round_trip_filtered_and_empty(snapshot, tmp_path):
    filtered = snapshot.filter_traces([hl.Filter(True, __file__, all_frames=True)])
    empty = snapshot.filter_traces([hl.DomainFilter(True, 12345)])
    assert len(filtered.traces) >= 40 and len(empty.traces) == 0
    for name, original in (("filtered", filtered), ("empty", empty)):
        path = tmp_path / name
        original.dump(path)
        _assert_same(hl.Snapshot.load(path), original)


def test_dump_replaces_a_file(snapshot, tmp_path):
    path = tmp_path / "snap.hlc"
    path.write_bytes(b"old content")
    snapshot.dump(path)
    _assert_same(hl.Snapshot.load(path), snapshot)
    assert [p.name for p in tmp_path.iterdir()] == ["snap.hlc"]  # no partial file left


def test_dump_to_a_missing_directory(snapshot, tmp_path):
    with pytest.raises(OSError):
        snapshot.dump(tmp_path / "no" / "such" / "dir.hlc")


def test_tuple_snapshot_cannot_be_dumped(tmp_path):
    snapshot = hl.Snapshot([(0, 10, (("a.py", 1),), 1)], 1)
    with pytest.raises(TypeError):
        snapshot.dump(tmp_path / "x.hlc")


def _assert_rejected(path):
    with pytest.raises(ValueError) as info:
        hl.Snapshot.load(path)
    assert str(path) in str(info.value)


def _positions(data):
    """Every offset of the header, then a sample of the rest (the C fuzz tests
    cover the reader exhaustively; here the point is the Python error)."""
    return sorted(set(range(min(64, len(data)))) | set(range(64, len(data), 11)) | {len(data) - 1})


def test_truncated_files_are_rejected(small_capture, tmp_path):
    path = tmp_path / "truncated.hlc"
    for length in _positions(small_capture):
        path.write_bytes(small_capture[:length])
        _assert_rejected(path)


def test_corrupt_files_are_rejected(small_capture, tmp_path):
    path = tmp_path / "corrupt.hlc"
    for position in _positions(small_capture):
        corrupt = bytearray(small_capture)
        corrupt[position] ^= 0x24
        path.write_bytes(corrupt)
        _assert_rejected(path)


def test_trailing_garbage_is_rejected(small_capture, tmp_path):
    path = tmp_path / "long.hlc"
    path.write_bytes(small_capture + b"\0")
    _assert_rejected(path)


def test_foreign_files_are_rejected(tmp_path):
    std.start()
    std_snapshot = std.take_snapshot()
    std.stop()
    pickled = tmp_path / "stdlib.pickle"
    std_snapshot.dump(pickled)  # the stdlib's format is a pickle
    text = tmp_path / "text.hlc"
    text.write_text("heaplens capture, honest\n")
    empty = tmp_path / "empty.hlc"
    empty.write_bytes(b"")
    ours_pickled = tmp_path / "ours.pickle"
    ours_pickled.write_bytes(pickle.dumps(hl.Snapshot([], 1)))
    for path in (pickled, text, empty, ours_pickled):
        _assert_rejected(path)
        with pytest.raises(ValueError):
            heaplens.load(path)


def test_unreadable_paths_raise_like_stdlib(tmp_path):
    missing = tmp_path / "missing.hlc"
    for module in (std, hl):
        with pytest.raises(FileNotFoundError):
            module.Snapshot.load(missing)
        with pytest.raises(IsADirectoryError):
            module.Snapshot.load(tmp_path)

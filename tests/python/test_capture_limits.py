"""The capture reader on files that lie about their size (issue 15, defect 8).

The reader checks the header and the section table against the file's real
size before it reads a payload, so a length field cannot make it allocate
more than the file holds, and something that is not a regular file (a
device such as /dev/zero, a FIFO, a directory) is refused before a byte is
read. Every refusal is a ValueError (OSError for a directory) naming the file
and what is wrong, never a MemoryError, a hang or an exhausted machine.

The slow cases run in a fresh interpreter (tests/python/isolated.py), which
limits its own address space when it is not under AddressSanitizer, so that
a reader that regresses fails the test instead of taking the machine down.
"""

import os
import struct
import sys

import pytest

import heaplens
import heaplens.tracemalloc as hl
from isolated import run_isolated

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fuzz"))
from make_corpus import crc32c, header, section  # noqa: E402  (the independent writer)

MIB = 1 << 20
GIB = 1 << 30

# Run by the fresh interpreter: cap the address space at what it uses now
# plus 1 GiB (ASan reserves terabytes of shadow up front: no cap there), load
# the file, and print the error, the seconds taken and how much the peak RSS
# grew, in KiB.
_PROBE = """
import os, resource, sys, time
if "asan" not in os.environ.get("LD_PRELOAD", ""):
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[0])
    cap = pages * os.sysconf("SC_PAGE_SIZE") + (1 << 30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
import heaplens
import heaplens.tracemalloc as hl
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    {call}
except BaseException as error:
    outcome = type(error).__name__ + ": " + str(error)
else:
    outcome = "loaded"
took = time.perf_counter() - start
grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(repr((outcome, took, grew)))
"""


def _probe(path, call="heaplens.load({path!r})", timeout=60):
    code = _PROBE.format(call=call.format(path=os.fspath(path)))
    return eval(run_isolated(code, timeout=timeout).strip().splitlines()[-1])


def _sparse(path, head, size):
    """A file of `size` bytes starting with `head`, the rest a hole."""
    with open(path, "wb") as file:
        file.write(head)
        file.truncate(size)
    return path


def _end():
    return section(b"END ", b"")


@pytest.fixture(scope="module")
def good_capture(tmp_path_factory):
    hl.start(4)
    keep = [bytearray(100 + i) for i in range(30)]
    snapshot = hl.take_snapshot()
    hl.stop()
    del keep
    path = tmp_path_factory.mktemp("limits") / "good.hlc"
    snapshot.filter_traces([hl.Filter(True, __file__)]).dump(path)
    return path.read_bytes()


def _sections(data):
    """(offset, tag, length) of every section of a capture's bytes."""
    pos, found = 20, []
    while pos < len(data):
        tag, _flags, length = struct.unpack_from("<4sIQ", data, pos)
        found.append((pos, tag, length))
        pos += 20 + length
    return found


def _patched(data, offset, payload):
    """data with the section at offset given a new payload, its length and CRC fixed."""
    tag, flags, length = struct.unpack_from("<4sIQ", data, offset)
    head = tag + struct.pack("<IQ", flags, len(payload))
    fixed = head + struct.pack("<I", crc32c(payload, crc32c(head))) + payload
    return data[:offset] + fixed + data[offset + 20 + length :]


def _assert_refused(path, *words, error=ValueError):
    for load in (heaplens.load, hl.Snapshot.load):
        with pytest.raises(error) as info:
            load(path)
        message = str(info.value)
        assert os.fspath(path) in message, message
        for word in words:
            assert word in message, message


# ---- things that are not regular files --------------------------------------


def test_dev_zero_is_refused_at_once():
    outcome, took, grew = _probe("/dev/zero")
    assert outcome.startswith("ValueError: '/dev/zero' is not a valid heaplens capture"), outcome
    assert "not a regular file" in outcome, outcome
    assert took < 1.0, took
    assert grew < 32 * 1024, f"peak RSS grew by {grew} KiB"


def test_dev_zero_through_snapshot_load():
    outcome, _took, grew = _probe("/dev/zero", call="hl.Snapshot.load({path!r})")
    assert outcome.startswith("ValueError:") and "not a regular file" in outcome, outcome
    assert grew < 32 * 1024, f"peak RSS grew by {grew} KiB"


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "capture.fifo"
    os.mkfifo(fifo)
    # No writer ever opens it: a reader that opens it blocking hangs here.
    outcome, took, _grew = _probe(fifo, timeout=20)
    assert outcome.startswith("ValueError:") and "not a regular file (a FIFO)" in outcome, outcome
    assert took < 1.0, took


def test_directory_is_refused(tmp_path):
    with pytest.raises(IsADirectoryError):
        heaplens.load(tmp_path)
    with pytest.raises(IsADirectoryError):
        hl.Snapshot.load(tmp_path)


# ---- a 3 GB sparse file with a valid header ---------------------------------


def test_sparse_3gb_file_with_valid_header_is_refused_fast(tmp_path):
    path = _sparse(tmp_path / "sparse.hlc", header(1, 1), 3 * GIB)
    outcome, took, grew = _probe(path)
    assert outcome.startswith("ValueError:"), outcome
    assert "checksum mismatch in section 0x00000000 at offset 20" in outcome, outcome
    assert took < 1.0, f"took {took:.2f} s"
    assert grew < 32 * 1024, f"peak RSS grew by {grew} KiB"


def test_sparse_3gb_file_with_a_consistent_section_table(tmp_path):
    # Header, one optional section whose length covers the hole, END: every
    # length agrees with the file's size, so only the section's CRC (over
    # 512 MiB of zeros) can refuse it, and checking it must not read it into
    # memory.
    length = 512 * MIB - 60
    head = b"ZZZZ" + struct.pack("<IQ", 0, length) + b"\0\0\0\0"
    path = _sparse(tmp_path / "table.hlc", header(1, 1) + head, 512 * MIB - 20)
    with open(path, "ab") as file:
        file.write(_end())
    assert os.path.getsize(path) == 512 * MIB
    outcome, took, grew = _probe(path, timeout=120)
    assert outcome.startswith("ValueError:"), outcome
    assert "checksum mismatch in section 'ZZZZ'" in outcome, outcome
    assert grew < 32 * 1024, f"peak RSS grew by {grew} KiB (took {took:.1f} s)"


# ---- length fields and counts that exceed the file ---------------------------


def test_every_truncation_is_refused(good_capture, tmp_path):
    path = tmp_path / "cut.hlc"
    for offset, _tag, length in _sections(good_capture):
        for cut in (offset + 1, offset + 19, offset + 20 + length // 2):
            if cut >= len(good_capture):
                continue
            path.write_bytes(good_capture[:cut])
            _assert_refused(path, "truncated")


def test_section_length_larger_than_the_file(good_capture, tmp_path):
    path = tmp_path / "long.hlc"
    for offset, _tag, _length in _sections(good_capture):
        for claimed in (len(good_capture), 1 << 40, (1 << 64) - 1):
            data = bytearray(good_capture)
            struct.pack_into("<Q", data, offset + 8, claimed)
            path.write_bytes(bytes(data))
            _assert_refused(path, "truncated", "remain")


def test_huge_counts_are_refused(good_capture, tmp_path):
    path = tmp_path / "count.hlc"
    sections = {tag: (offset, length) for offset, tag, length in _sections(good_capture)}
    for tag, count in (
        (b"STRS", struct.pack("<I", 0xFFFFFFFF)),
        (b"FRMS", struct.pack("<I", 0xFFFFFFFF)),
        (b"STKS", struct.pack("<I", 0xFFFFFFFF)),
        (b"TRCS", struct.pack("<Q", (1 << 64) - 1)),
    ):
        offset, length = sections[tag]
        payload = good_capture[offset + 20 : offset + 20 + length]
        path.write_bytes(_patched(good_capture, offset, count + payload[len(count) :]))
        _assert_refused(path, "declares")


def test_a_huge_count_in_a_short_file_costs_no_memory(tmp_path):
    # 40 bytes of STRINGS that claim 4 billion strings, and TRACES that claim
    # 2^64 traces: refused from the counts, nothing allocated for them.
    for tag, payload in (
        (b"STRS", struct.pack("<I", 0xFFFFFFFF) + b"\0" * 36),
        (b"TRCS", struct.pack("<Q", (1 << 64) - 1) + b"\0" * 32),
    ):
        data = header(1, 1) + section(b"SNAP", struct.pack("<I", 0)) + section(tag, payload)
        path = tmp_path / "short.hlc"
        path.write_bytes(data + _end())
        outcome, _took, grew = _probe(path)
        assert outcome.startswith("ValueError:") and "declares" in outcome, outcome
        assert grew < 32 * 1024, f"peak RSS grew by {grew} KiB"


def test_the_table_is_checked_before_any_payload(good_capture, tmp_path):
    # A damaged payload early and an impossible length later: the length is
    # what the reader reports, since it walks the whole table first.
    sections = _sections(good_capture)
    first_offset = sections[1][0]
    last_offset = sections[-1][0]
    data = bytearray(good_capture)
    data[first_offset + 20] ^= 0xFF  # the first payload byte: its CRC now fails
    struct.pack_into("<Q", data, last_offset + 8, 1 << 40)
    path = tmp_path / "order.hlc"
    path.write_bytes(bytes(data))
    _assert_refused(path, "truncated: section END needs 1099511627776 bytes")


def test_good_capture_still_loads(good_capture, tmp_path):
    path = tmp_path / "again.hlc"
    path.write_bytes(good_capture)
    assert len(heaplens.load(path).snapshot().traces) == len(hl.Snapshot.load(path).traces)

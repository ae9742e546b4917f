#!/usr/bin/env python3
"""Write the seed corpus of the capture fuzz target (tests/fuzz/corpus/).

This is a second, independent writer of the format in docs/capture-format.md
(it shares no code with src/core/capture.c), so the seeds double as a check
that the document says enough to write a file heaplens reads. Every seed is
a valid capture except the ones named invalid_*, which are well-formed
containers with correct checksums whose content breaks one rule, so that
the fuzzer starts next to the reader's deeper error paths.

Run from anywhere: python3 tests/fuzz/make_corpus.py
"""

import os
import struct

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
MAGIC = b"\x89HLC\r\n\x1a\n"
REQUIRED = 1


def _crc32c_table():
    table = []
    for byte in range(256):
        reg = byte
        for _ in range(8):
            reg = (reg >> 1) ^ 0x82F63B78 if reg & 1 else reg >> 1
        table.append(reg)
    return table


_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    reg = crc ^ 0xFFFFFFFF
    for byte in data:
        reg = _TABLE[(reg ^ byte) & 0xFF] ^ (reg >> 8)
    return reg ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def header(major=1, minor=0, flags=0):
    head = MAGIC + struct.pack("<HHI", major, minor, flags)
    return head + struct.pack("<I", crc32c(head))


def section(tag, payload, flags=REQUIRED):
    head = tag + struct.pack("<IQ", flags, len(payload))
    return head + struct.pack("<I", crc32c(payload, crc32c(head))) + payload


def text(s):
    raw = s if isinstance(s, bytes) else s.encode("utf-8", "surrogatepass")
    return struct.pack("<I", len(raw)) + raw


def snapshot(name, strings, frames, stacks, traces, limit=10, timestamp=0):
    """strings: list of str/bytes; frames: (file, line); stacks: (total, [frames]);
    traces: (size, stack, domain)."""
    raw = [s if isinstance(s, bytes) else s.encode("utf-8", "surrogatepass") for s in strings]
    strs = struct.pack("<I", len(raw)) + b"".join(struct.pack("<I", len(r)) for r in raw)
    strs += b"".join(raw)
    frms = struct.pack("<I", len(frames)) + b"".join(struct.pack("<Ii", f, l) for f, l in frames)
    stks = struct.pack("<I", len(stacks))
    for total, idx in stacks:
        stks += struct.pack("<II", len(idx), total) + b"".join(struct.pack("<I", i) for i in idx)
    trcs = struct.pack("<Q", len(traces)) + b"".join(struct.pack("<QII", *t) for t in traces)
    return (section(b"SNAP", text(name))
            + section(b"META", struct.pack("<IIq", limit, 0, timestamp))
            + section(b"STRS", strs)
            + section(b"FRMS", frms)
            + section(b"STKS", stks)
            + section(b"TRCS", trcs))


def info(key, value):
    return section(b"INFO", text(key) + text(value), flags=0)


END = section(b"END ", b"")

SMALL = dict(strings=["app.py", "lib.py"], frames=[(0, 12), (1, 340)],
             stacks=[(5, [1, 0])], traces=[(1 << 20, 0, 0)],
             limit=2, timestamp=1712345678901234567)


def medium():
    files = ["/usr/lib/python3.12/module_%d.py" % i for i in range(6)]
    frames = [(i % 6, 1 + i // 6) for i in range(60)]
    stacks = [(1 + s % 4 + (s % 3), [(s * 7 + k * 13) % 60 for k in range(1 + s % 4)])
              for s in range(40)]
    stacks = [(max(total, len(idx)), idx) for total, idx in stacks]
    traces = [((t * 2654435761) % 100000 + 1, t % 40, t % 3) for t in range(300)]
    return dict(strings=files, frames=frames, stacks=stacks, traces=traces, limit=4,
                timestamp=-5)


def seeds():
    yield "empty_capture.hlc", header() + END
    yield "empty_snapshot.hlc", header() + snapshot("", [], [], [], []) + END
    yield "small.hlc", header() + snapshot("", **SMALL) + END
    yield "medium.hlc", header() + snapshot("", **medium()) + END
    yield "multi.hlc", (header() + info("python_version", "3.12.1")
                        + snapshot("peak", **medium()) + snapshot("exit", **SMALL)
                        + info("argv", "python -m heaplens run app.py") + END)
    yield "unicode.hlc", header() + snapshot(
        "caf\u00e9", ["", "\u65e5\u672c/\U0001F40D.py", "bad\udc80name.py", b"nul\0inside"],
        [(1, 1), (2, -1), (3, 2147483647), (1, -2147483648)],
        [(3, [0, 1, 2]), (70000, [3])],
        [(5 << 30, 0, 0), (2**64 - 1, 1, 2**32 - 1)], limit=3, timestamp=-(2**63)) + END
    exit_snap = snapshot("exit", **SMALL)
    snap_len = len(section(b"SNAP", text("exit")))
    yield "future_minor.hlc", (header(minor=3, flags=0x00010000)
                               + section(b"HEAP", bytes(24), flags=0)
                               + exit_snap[:snap_len]
                               + section(b"XTRA", b"ignored", flags=0)
                               + exit_snap[snap_len:]
                               + END)
    yield "invalid_stack_index.hlc", header() + snapshot(
        "", ["a.py"], [(0, 1)], [(1, [5])], [(8, 0, 0)]) + END
    yield "invalid_duplicate_frames.hlc", header() + snapshot(
        "", ["a.py"], [(0, 1), (0, 1)], [(1, [0])], []) + END


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    total = 0
    for name, data in seeds():
        with open(os.path.join(OUT_DIR, name), "wb") as f:
            f.write(data)
        total += len(data)
    assert total < 50 * 1024, total
    print("wrote %d bytes to %s" % (total, OUT_DIR))


if __name__ == "__main__":
    main()

"""An allocation-heavy pure-Python workload.

Each round builds one million small objects, a realistic mix: 400,000 records
(instances of a class with three attributes), each holding a fresh tuple and
float, plus 200,000 small dicts indexing every other record. Everything a
round builds stays alive until the round ends and is freed before the next
round, so the tracer sees the allocation and the free of every block, and the
cyclic GC runs as it would in a real program.
"""

import time

N_ROUNDS = 5
N_RECORDS = 400_000


class Record:
    def __init__(self, key, value, tags):
        self.key = key
        self.value = value
        self.tags = tags


def build_round(n_records):
    """Build one round's records and index; return how many containers it kept."""
    records = []
    index = {}
    for i in range(n_records):
        record = Record(i, i * 0.5, (i, i & 7))
        records.append(record)
        if i & 1:
            index[i] = {"key": i, "record": record}
    return len(records) + len(index)


def run():
    """Run every round and return the wall time in seconds."""
    start = time.perf_counter()
    for _ in range(N_ROUNDS):
        build_round(N_RECORDS)
    return time.perf_counter() - start

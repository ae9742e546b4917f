"""A NumPy workload: arrays made, combined and freed, as a data script does.

Each round makes 200 arrays of 10,000 to 200,000 float64s (80 KB to 1.6 MB
of data each, allocated by NumPy with malloc and reported with
PyTraceMalloc_Track), combines them with ufuncs (temporaries), keeps a
reduction of each in a Python list, and frees them before the next round.
Needs NumPy; the benchmark skips it where NumPy is not installed.
"""

import time

N_ROUNDS = 20
N_ARRAYS = 200


def run():
    """Run every round and return the wall time in seconds."""
    import numpy as np

    start = time.perf_counter()
    for _ in range(N_ROUNDS):
        kept = []
        arrays = [np.ones(10_000 + (i % 20) * 10_000) for i in range(N_ARRAYS)]
        for a in arrays:
            b = a * 2.0 + 1.0
            kept.append(float(np.sqrt(b).sum()))
        del arrays
    return time.perf_counter() - start

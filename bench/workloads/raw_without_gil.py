"""RAW allocations from threads that released the GIL, beside busy Python
threads.

Four threads call PyMem_RawMalloc and PyMem_RawFree through ctypes.CDLL,
which releases the GIL around each call (as a C extension's worker does in a
`Py_BEGIN_ALLOW_THREADS` section), ROUNDS times each, from a few call sites,
while two threads run Python code. A tracer that takes the GIL in its RAW
hook to read the thread's stack (the stdlib tracemalloc up to 3.14, heaplens
before its stack servant) makes each of those calls wait for the GIL; heaplens
reads the thread's own frames and finds the stack in its cache instead.
"""

import ctypes
import threading
import time

ROUNDS = 20_000
N_RAW_THREADS = 4
N_BUSY_THREADS = 2


def _raw_library():
    libc = ctypes.CDLL(None)
    libc.PyMem_RawMalloc.restype = ctypes.c_void_p
    libc.PyMem_RawMalloc.argtypes = [ctypes.c_size_t]
    libc.PyMem_RawFree.argtypes = [ctypes.c_void_p]
    return libc


def _allocate(libc, rounds):
    malloc, free = libc.PyMem_RawMalloc, libc.PyMem_RawFree
    for i in range(rounds):
        if i & 1:
            free(malloc(4096))
        else:
            free(malloc(100))


def _busy(stop):
    while not stop.is_set():
        sum(str(i) for i in range(200))


def run():
    """Run every thread's rounds and return the wall time in seconds."""
    libc = _raw_library()
    stop = threading.Event()
    busy = [threading.Thread(target=_busy, args=(stop,)) for _ in range(N_BUSY_THREADS)]
    raw = [threading.Thread(target=_allocate, args=(libc, ROUNDS)) for _ in range(N_RAW_THREADS)]
    for thread in busy:
        thread.start()
    start = time.perf_counter()
    for thread in raw:
        thread.start()
    for thread in raw:
        thread.join()
    elapsed = time.perf_counter() - start
    stop.set()
    for thread in busy:
        thread.join()
    return elapsed

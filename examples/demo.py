"""make demo: trace the bundled leaky example with heaplens and say what grew.

Runs examples/leaky_cache.py's handler 2,000 times under the tracer, takes a
snapshot before and after, and prints where the memory that stayed was
allocated, with the full traceback of the biggest site; then asks the heap
graph which types grew and what keeps one of the new objects alive. It ends
with the same question asked in one call, heaplens.find_leaks(), which names
the holder first and writes the report as a web page too.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import heaplens  # noqa: E402
import heaplens.tracemalloc as tracemalloc  # noqa: E402
import leaky_cache  # noqa: E402


def main():
    print(f"heaplens {heaplens.__version__} on Python {sys.version.split()[0]}")
    print("Tracing examples/leaky_cache.py: 2,000 calls of handle(), 200 of temporary_work()\n")
    tracemalloc.start(10)
    mark = heaplens.Mark()
    before = tracemalloc.take_snapshot()
    started = time.perf_counter()
    for n in range(2000):
        leaky_cache.handle(n)
        if n % 10 == 0:
            leaky_cache.temporary_work(500)
    elapsed = time.perf_counter() - started
    after = tracemalloc.take_snapshot()
    current, peak = tracemalloc.get_traced_memory()
    tracer_memory = tracemalloc.get_tracemalloc_memory()
    grown = heaplens.growth_since(mark, limit=3)
    one_request = leaky_cache._cache[1234]  # any of the new objects will do
    chain = heaplens.why_alive(one_request)
    tracemalloc.stop()

    only_example = [tracemalloc.Filter(True, leaky_cache.__file__)]
    after = after.filter_traces(only_example)
    before = before.filter_traces(only_example)

    print(
        f"Traced memory now {current / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB; "
        f"the tracer's own tables use {tracer_memory / 2**20:.1f} MiB; "
        f"the loop took {elapsed:.2f} s.\n"
    )
    print("What grew, by line (new memory that is still alive):")
    for stat in after.compare_to(before, "lineno")[:5]:
        print("  ", stat)

    top = after.statistics("traceback")[0]
    print(
        f"\nThe biggest site holds {top.count} blocks, {top.size / 2**20:.1f} MiB, "
        f"allocated here (oldest call first):"
    )
    for line in top.traceback.format():
        print("  ", line)
    print("\ntemporary_work() allocated plenty but kept nothing, so it is not listed.")

    print("\nWhich types grew, from the heap graph (objects, not blocks):")
    for row in grown:
        print(f"   {row.name:<28} {row.count_delta:+7,} objects  {row.size_delta / 1024:8.1f} KiB")
    print("\nWhy is one of the new Request objects still alive?")
    for line in str(chain).splitlines():
        print("  ", line)

    print("\n" + "-" * 99)
    print("All of the above in one call: heaplens.find_leaks(leaky_cache.handle, 7)\n")
    report = heaplens.find_leaks(leaky_cache.handle, 7)
    report.show(limit=2)
    control = heaplens.find_leaks(leaky_cache.temporary_work, 500)
    print(f"\nThe control, find_leaks(leaky_cache.temporary_work, 500): {control.headline}")
    page = os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "build", "demo-leaks.html"
    )
    os.makedirs(os.path.dirname(page), exist_ok=True)
    report.save_html(page)
    print(f"The leak report as a web page: {os.path.normpath(page)}")


if __name__ == "__main__":
    main()

"""The classic leak: a function that puts work in a module-level cache and
returns before it takes it out again (from the gc/objgraph leak-hunting notes
heaplens grew from)."""

_cache = []


class Request:
    def __init__(self, n):
        self.n = n
        self.payload = bytearray(1024)  # what makes the leak grow
        self.headers = {"id": n, "path": f"/items/{n}"}


def handle(n):
    request = Request(n)
    _cache.append(request)
    # ... do something with the request, then remove it from the cache ...
    if n >= 0:  # this looks odd, but such early returns exist
        return request.headers["path"]
    _cache.remove(request)


def temporary_work(n):
    """Allocates plenty, keeps nothing: a control that must not show up."""
    lines = [f"row {i}: {i * i}" for i in range(n)]
    return len("\n".join(lines))

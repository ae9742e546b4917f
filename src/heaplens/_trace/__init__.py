"""Tracing over time: the tracemalloc-compatible snapshot model, captures and
their timeline, the recorder behind `heaplens run`, and the gc monitor.

Imports nothing: `import heaplens` loads the snapshot model from here, and
nothing else of the package may come with it.
"""

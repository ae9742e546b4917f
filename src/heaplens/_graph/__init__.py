"""The heap graph: what is alive and why. HeapGraph and its chains, census
and growth, cycles, retained sizes (dominators), safe descriptions of
objects, and Graphviz DOT output.
"""

"""__slots__ advice: which classes would save memory with __slots__, by how
much (measured), and what would break.
"""

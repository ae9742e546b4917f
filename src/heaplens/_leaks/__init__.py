"""The leak hunt: find_leaks() and leak_check() run code and analyse what it
left alive; the holders of leaked objects; the LeakReport.
"""

"""The heaplens command (run, report, diff) and its progress display."""

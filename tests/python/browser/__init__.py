"""Helpers of the report tests: a Chrome DevTools Protocol client (cdp) and
realistic report dicts (fixtures)."""

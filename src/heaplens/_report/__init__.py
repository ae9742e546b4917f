"""Reports of captures: units (bytes, counts, durations), safe text, the
report data of a run or a diff, its text, and the HTML pages (html/).
"""

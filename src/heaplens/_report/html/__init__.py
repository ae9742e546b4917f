"""The HTML pages: a run or diff report (chart, flame graphs, tables) and a
leak report. Their CSS and JS are files of this package, read when a page is made.
"""

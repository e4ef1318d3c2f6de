"""Rendering a run: live terminal progress, the summary table, JSON and JUnit XML files."""

from test_coordinator.report.files import result_document, write_json, write_junit
from test_coordinator.report.terminal import TerminalObserver, render_suite, render_summary

__all__ = [
    "TerminalObserver",
    "render_suite",
    "render_summary",
    "result_document",
    "write_json",
    "write_junit",
]

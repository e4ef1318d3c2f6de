"""Rendering a run: live terminal progress, the summary table, JSON and JUnit XML files, an HTML
page with a timeline and a Markdown summary."""

from test_coordinator.report.files import read_results, result_document, write_json, write_junit
from test_coordinator.report.html_report import render_html, write_html
from test_coordinator.report.listing import scenario_table
from test_coordinator.report.markdown import render_markdown, write_markdown
from test_coordinator.report.status_file import write_status
from test_coordinator.report.terminal import TerminalObserver, render_suite, render_summary

__all__ = [
    "TerminalObserver",
    "read_results",
    "render_html",
    "render_markdown",
    "render_suite",
    "render_summary",
    "result_document",
    "scenario_table",
    "write_html",
    "write_json",
    "write_junit",
    "write_markdown",
    "write_status",
]

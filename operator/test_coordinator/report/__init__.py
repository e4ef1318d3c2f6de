"""Rendering a run: live terminal progress, the summary table, JSON and JUnit XML files, an HTML
page with a timeline and a Markdown summary.

The names load on first use: ``report.text`` (every command's console) must not cost the
engine, Redis and aiohttp that the terminal observer's module brings in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from test_coordinator.report.files import (
        read_results,
        result_document,
        write_json,
        write_junit,
    )
    from test_coordinator.report.html_report import render_html, write_html
    from test_coordinator.report.listing import scenario_table
    from test_coordinator.report.markdown import render_markdown, write_markdown
    from test_coordinator.report.status_file import write_status
    from test_coordinator.report.terminal import TerminalObserver, render_suite, render_summary

_MODULES = {
    "files": ("read_results", "result_document", "write_json", "write_junit"),
    "html_report": ("render_html", "write_html"),
    "listing": ("scenario_table",),
    "markdown": ("render_markdown", "write_markdown"),
    "status_file": ("write_status",),
    "terminal": ("TerminalObserver", "render_suite", "render_summary"),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}

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


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)

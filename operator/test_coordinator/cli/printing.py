"""Lines on the terminal that every command prints the same way."""

from __future__ import annotations

from test_coordinator.report.text import Line, Terminal, styled, text_console

__all__ = ["error_line", "stderr"]


def stderr() -> Terminal:
    return text_console(stderr=True)


def error_line(error: object, label: str = "error:") -> Line:
    return styled((label, "red"), f" {error}")

"""Lines on the terminal that every command prints the same way."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from test_coordinator.report.text import styled, text_console

__all__ = ["error_line", "stderr"]


def stderr() -> Console:
    return text_console(stderr=True)


def error_line(error: object, label: str = "error:") -> Text:
    return styled((label, "red"), f" {error}")

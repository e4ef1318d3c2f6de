"""Text on the terminal: whatever came from input or from a service is shown as it is.

Rich reads ``[...]`` in a ``str`` as markup (``[/x]`` raises, ``[bold]`` vanishes, a pattern
``[a-z0-9]`` is eaten) and ``:name:`` as an emoji, in ``print`` and in table cells alike. So:
every console the tool prints on has markup, emoji and highlighting off (``text_console``), and
a line with colours is a ``Line`` assembled from (text, style) parts (``styled``), which no
console parses, whichever prints it. Control characters (an escape sequence in a service's
output, a carriage return) and bytes that were not UTF-8 in a file name are shown escaped, so
that a value cannot rewrite the terminal either.

Rich loads only where it shows something: on a terminal (colours, a spinner) and for tables.
A line printed where there is no colour to show (a pipe, a file, a CI log) is written as it
is, so a command that prints only lines (``validate``) does not pay for importing rich, a
tenth of its start-up.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING, Any, Protocol, TextIO

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status
    from rich.text import Text

__all__ = ["Line", "Printer", "Terminal", "shown", "styled", "text_console"]

Part = str | tuple[str, str]
"""Text, or (text, style): ``("FAIL", "red")``."""

# C0 controls but tab and newline, DEL, C1 controls, and lone surrogates (a file name's bytes
# that were not UTF-8, as Python keeps them), none of which a terminal should get raw.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

# What makes rich show colour (or a spinner) off a terminal.
_COLOUR_ANYWAY = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


class Line:
    """One line of (text, style) parts, each already ``shown``; rich renders it (``__rich__``)
    as a ``Text``, which it never parses for markup."""

    __slots__ = ("parts", "style")

    def __init__(self, parts: tuple[tuple[str, str], ...], style: str = "") -> None:
        self.parts = parts
        self.style = style

    @property
    def plain(self) -> str:
        return "".join(text for text, _ in self.parts)

    def as_text(self) -> Text:
        from rich.text import Text

        text = Text(style=self.style)
        for part, style in self.parts:
            text.append(part, style=style or None)
        return text

    def __rich__(self) -> Text:
        return self.as_text()


class Printer(Protocol):
    """What the CLI prints on: a ``Terminal``, or a rich ``Console`` (tests capture with one)."""

    @property
    def is_terminal(self) -> bool: ...

    def print(self, *objects: Any, soft_wrap: bool | None = None) -> None: ...

    def status(self, status: Text) -> Status: ...


class Terminal:
    """Standard output or standard error, for people. Lines go out as they are where rich
    would show no colour; everything else (tables, a spinner, colour) goes through a rich
    console, made on first use, that reads no markup, emoji or highlighting."""

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr
        self._rich: Console | None = None

    @property
    def stream(self) -> TextIO:
        return sys.stderr if self._stderr else sys.stdout

    @property
    def rich(self) -> Console:
        if self._rich is None:
            from rich.console import Console

            self._rich = Console(
                stderr=self._stderr,
                markup=False,
                emoji=False,
                highlight=False,
                soft_wrap=True,
                # Off a terminal (CI logs, pipes) rich would wrap at 80 columns; logs read
                # better wider.
                width=None if self.stream.isatty() else 120,
            )
        return self._rich

    @property
    def is_terminal(self) -> bool:
        return self.rich.is_terminal

    def print(self, *objects: Any, soft_wrap: bool | None = None) -> None:
        if all(isinstance(item, Line) for item in objects) and self._colourless():
            # What rich writes for these with no colour (it expands tabs, as here). Only
            # Lines: their parts are ``shown`` already, where rich would drop controls of a str.
            self.stream.write(" ".join(item.plain for item in objects).expandtabs(8) + "\n")
            self.stream.flush()
        else:
            self.rich.print(*objects, soft_wrap=soft_wrap)

    def status(self, status: Text) -> Status:
        return self.rich.status(status)

    def _colourless(self) -> bool:
        return not self.stream.isatty() and not any(os.environ.get(v) for v in _COLOUR_ANYWAY)


def text_console(*, stderr: bool = False) -> Terminal:
    """Where the CLI prints: strings as they are, no markup, no emoji codes, no highlighting."""
    return Terminal(stderr=stderr)


def styled(*parts: Part, style: str = "") -> Line:
    """One line of ``parts``, each shown as it is (``shown``), with its style, if any."""
    return Line(
        tuple(
            (shown(part), "") if isinstance(part, str) else (shown(part[0]), part[1])
            for part in parts
        ),
        style,
    )


def shown(value: str) -> str:
    """``value`` with what a terminal would act on made visible: ``\\x1b``, ``\\r``, ``\\xff``."""
    return _UNPRINTABLE.sub(_escape, value)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

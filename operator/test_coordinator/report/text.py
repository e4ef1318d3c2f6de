"""Text on the terminal: whatever came from input or from a service is shown as it is.

Rich reads ``[...]`` in a ``str`` as markup (``[/x]`` raises, ``[bold]`` vanishes, a pattern
``[a-z0-9]`` is eaten) and ``:name:`` as an emoji, in ``print`` and in table cells alike. So:
every console the tool prints on has markup, emoji and highlighting off (``text_console``), and
a line with colours is a ``rich.text.Text`` assembled from (text, style) parts (``styled``),
which no console parses, whichever prints it. Control characters (an escape sequence in a
service's output, a carriage return) and bytes that were not UTF-8 in a file name are shown
escaped, so that a value cannot rewrite the terminal either.
"""

from __future__ import annotations

import re
import sys

from rich.console import Console
from rich.text import Text

__all__ = ["shown", "styled", "text_console"]

Part = str | tuple[str, str]
"""Text, or (text, style): ``("FAIL", "red")``."""

# C0 controls but tab and newline, DEL, C1 controls, and lone surrogates (a file name's bytes
# that were not UTF-8, as Python keeps them), none of which a terminal should get raw.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def text_console(*, stderr: bool = False) -> Console:
    """A console that prints strings as they are: no markup, no emoji codes, no highlighting.

    Off a terminal (CI logs, pipes) rich would wrap at 80 columns; logs read better wider.
    """
    stream = sys.stderr if stderr else sys.stdout
    return Console(
        stderr=stderr,
        markup=False,
        emoji=False,
        highlight=False,
        soft_wrap=True,
        width=None if stream.isatty() else 120,
    )


def styled(*parts: Part, style: str = "") -> Text:
    """One line of ``parts``, each shown as it is (``shown``), with its style, if any."""
    text = Text(style=style)
    for part in parts:
        if isinstance(part, str):
            text.append(shown(part))
        else:
            text.append(shown(part[0]), style=part[1])
    return text


def shown(value: str) -> str:
    """``value`` with what a terminal would act on made visible: ``\\x1b``, ``\\r``, ``\\xff``."""
    return _UNPRINTABLE.sub(_escape, value)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

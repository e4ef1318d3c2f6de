"""The kill switch: whether faults may be applied at all, and who said so.

Every fault the engine applies asks the switch first (``_Run._apply``), and a run watches it: a
run that starts while injection is off ends at once without touching anything; one that is
running when it is turned off is aborted, and its faults reverted. The switch only gates
applying: reverts always go ahead. One switch per process is the rule (the front ends keep it
up to date from their settings); a run given none reads ``CHAOS_INJECTION_ENABLED`` itself, so
the environment variable stops the one-shot CLI too.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping

from test_coordinator.errors import TestCoordinatorError

__all__ = ["ENVIRONMENT_VARIABLE", "InjectionDisabled", "InjectionSwitch", "parse_enabled"]

ENVIRONMENT_VARIABLE = "CHAOS_INJECTION_ENABLED"
_TRUE = frozenset({"1", "true", "yes", "on", "enabled"})
_FALSE = frozenset({"0", "false", "no", "off", "disabled"})


def parse_enabled(text: str) -> bool:
    """``true``/``false`` and their usual spellings; ValueError saying what was expected."""
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {text!r}")


class InjectionDisabled(TestCoordinatorError):
    """A fault was about to be applied while chaos injection is off."""

    exit_code = 1


class InjectionSwitch:
    """On or off, with the setting that decided it (``source``), and an event for watchers."""

    def __init__(self, *, enabled: bool = True, source: str = "the default") -> None:
        self._enabled = enabled
        self.source = source
        self._changed = asyncio.Event()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> InjectionSwitch:
        text = environ.get(ENVIRONMENT_VARIABLE, "").strip()
        if not text:
            return cls()
        try:
            enabled = parse_enabled(text)
        except ValueError:
            enabled = False  # a kill switch set to something unreadable is not "go ahead"
        return cls(enabled=enabled, source=f"{ENVIRONMENT_VARIABLE}={text} in the environment")

    @property
    def enabled(self) -> bool:
        return self._enabled

    def set(self, enabled: bool, *, source: str) -> None:
        """Turn the switch; watchers wake (a run aborts when it goes off)."""
        changed = enabled != self._enabled
        self._enabled, self.source = enabled, source
        if changed:
            self._changed.set()
            self._changed = asyncio.Event()

    def refusal(self) -> str:
        return f"chaos injection is disabled ({self.source}): no fault was applied"

    def ensure_enabled(self) -> None:
        if not self._enabled:
            raise InjectionDisabled(self.refusal())

    async def wait_disabled(self) -> None:
        """Return once the switch is off (at once if it is)."""
        while self._enabled:
            await self._changed.wait()

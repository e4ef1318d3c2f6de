"""Where the history lives and how long it is kept: ``--history URL``, ``--history-retention``.

URLs, as SQLAlchemy writes them:

    sqlite:///relative/path.db      a file, relative to the working directory
    sqlite:////absolute/path.db     a file (``~`` is expanded)
    postgresql://user:pw@host:5432/db   a server (also ``postgres://``, ``postgresql+asyncpg://``)
    off                             no history

Without ``--history`` the CLI uses ``TEST_COORDINATOR_HISTORY``, else a file in the user's XDG
state directory (``$XDG_STATE_HOME/test-coordinator/history.db``, else
``~/.local/state/test-coordinator/history.db``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "ENVIRONMENT_VARIABLE",
    "OFF",
    "HistoryUrl",
    "default_history_url",
    "history_url_from",
    "parse_age",
    "parse_history_url",
]

ENVIRONMENT_VARIABLE = "TEST_COORDINATOR_HISTORY"
OFF = "off"
_EXPECTED = "expected sqlite:///PATH, postgresql://USER@HOST:PORT/DATABASE or off"
_SQLITE = re.compile(r"sqlite(?:\+aiosqlite)?:///(?P<path>[^?]*)")
_POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+asyncpg"}
_AGE_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_AGE = re.compile(r"(?:\d+[wdhms])+")
_AGE_PART = re.compile(r"(\d+)([wdhms])")


@dataclass(frozen=True)
class HistoryUrl:
    """A history database: which kind, where, and how to show it. Parsing needs no SQLAlchemy,
    so that a front end can check ``--history`` before it loads the store."""

    kind: Literal["sqlite", "postgresql"]
    text: str  # for PostgreSQL, the URL as given, password included
    path: Path | None = None  # the file, for SQLite

    @property
    def display(self) -> str:
        """The URL as people may see it: never the password."""
        if self.path is not None:
            return f"sqlite:///{self.path}"
        parts = urlsplit(self.text)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port else host
        if parts.username:
            password = ":***" if parts.password else ""
            netloc = f"{parts.username}{password}@{netloc}"
        return urlunsplit(("postgresql", netloc, parts.path, parts.query, ""))


def parse_history_url(text: str) -> HistoryUrl | None:
    """The database ``text`` names, or None for ``off``; ValueError saying what was expected."""
    text = text.strip()
    if text.lower() == OFF:
        return None
    sqlite = _SQLITE.fullmatch(text)
    if sqlite is not None:
        if not sqlite["path"] or sqlite["path"] == ":memory:":
            raise ValueError(f"a SQLite history needs a file (sqlite:///PATH), got {text!r}")
        path = Path(sqlite["path"]).expanduser().absolute()
        return HistoryUrl("sqlite", f"sqlite:///{path}", path)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 -- raises for a port that is not a number
    except ValueError:
        raise ValueError(f"{_EXPECTED}, got {text!r}") from None
    if parts.scheme in _POSTGRES_SCHEMES:
        if not parts.hostname or parts.path.strip("/") == "":
            raise ValueError(f"a PostgreSQL history needs a host and a database, got {text!r}")
        return HistoryUrl("postgresql", text)
    raise ValueError(f"{_EXPECTED}, got {text!r}")


def default_history_url(environ: Mapping[str, str] = os.environ) -> HistoryUrl:
    """The per-user file: XDG's state directory (only an absolute ``XDG_STATE_HOME`` counts)."""
    state = environ.get("XDG_STATE_HOME", "")
    base = Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"
    path = base / "test-coordinator" / "history.db"
    return HistoryUrl("sqlite", f"sqlite:///{path}", path)


def history_url_from(
    option: str | None, environ: Mapping[str, str] = os.environ
) -> HistoryUrl | None:
    """``--history`` if given, else ``TEST_COORDINATOR_HISTORY``, else the per-user file."""
    if option is not None:
        return parse_history_url(option)
    configured = environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if not configured:
        return default_history_url(environ)
    try:
        return parse_history_url(configured)
    except ValueError as error:
        raise ValueError(f"{ENVIRONMENT_VARIABLE}: {error}") from None


def parse_age(text: str) -> timedelta:
    """``90d``, ``7d``, ``12h``, ``1w``, ``1d12h``: how far back, as ``--since`` and retention
    take it (days and weeks, which scenario durations do not have)."""
    compact = text.strip()
    if not _AGE.fullmatch(compact):
        raise ValueError(f"expected an age such as 7d, 12h, 90d or 2w, got {text!r}")
    seconds = sum(int(n) * _AGE_UNITS[unit] for n, unit in _AGE_PART.findall(compact))
    if seconds == 0:
        raise ValueError(f"expected an age longer than zero, got {text!r}")
    return timedelta(seconds=seconds)

"""The run store: every finished run in a database (SQLite by default, PostgreSQL by URL), for
``history``, ``report --run``, trends and the dashboard.

    async with open_store("sqlite:///history.db") as store:
        await store.record(scenario, status, platform="local", source="risk.yaml")
        await store.runs("risk-monitor-crash", since=week_ago)   # newest first
        await store.trend("risk-monitor-crash", since=week_ago)  # pass rate, recovery, flaky
        scenario, status = await store.load_run(run_id)         # samples included
        await store.prune(timedelta(days=90))

The names load on first use: ``history.config`` (URLs, ages) costs no SQLAlchemy import, so a
front end can check its options before the store is needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from test_coordinator.history.config import (
        ENVIRONMENT_VARIABLE,
        HistoryUrl,
        default_history_url,
        history_url_from,
        parse_age,
        parse_history_url,
    )
    from test_coordinator.history.errors import HistoryError, HistoryUnavailable, RunNotFound
    from test_coordinator.history.recording import Recorded, enforce_retention, record_results
    from test_coordinator.history.records import RunRecord, ScenarioSummary
    from test_coordinator.history.store import DEFAULT_TIMEOUT, RunStore, open_store
    from test_coordinator.history.trend import Trend, VerdictChange

__all__ = [
    "DEFAULT_TIMEOUT",
    "ENVIRONMENT_VARIABLE",
    "HistoryError",
    "HistoryUnavailable",
    "HistoryUrl",
    "Recorded",
    "RunNotFound",
    "RunRecord",
    "RunStore",
    "ScenarioSummary",
    "Trend",
    "VerdictChange",
    "default_history_url",
    "enforce_retention",
    "history_url_from",
    "open_store",
    "parse_age",
    "parse_history_url",
    "record_results",
]

_MODULES = {
    "config": (
        "ENVIRONMENT_VARIABLE", "HistoryUrl", "default_history_url", "history_url_from",
        "parse_age", "parse_history_url",
    ),
    "errors": ("HistoryError", "HistoryUnavailable", "RunNotFound"),
    "records": ("RunRecord", "ScenarioSummary"),
    "recording": ("Recorded", "enforce_retention", "record_results"),
    "store": ("DEFAULT_TIMEOUT", "RunStore", "open_store"),
    "trend": ("Trend", "VerdictChange"),
}  # fmt: skip
_HOME = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)

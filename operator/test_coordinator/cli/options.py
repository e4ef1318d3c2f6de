"""Options several commands share, and how argparse reads their values."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from test_coordinator.errors import ScenarioInvalid

if TYPE_CHECKING:
    from test_coordinator.history.config import HistoryUrl

__all__ = [
    "add_history_option",
    "add_report_options",
    "add_retention_option",
    "age",
    "history_url",
    "lease",
    "option",
]


def option(parse: Callable[[str], object]) -> Callable[[str], object]:
    """``parse`` for argparse: its ValueError's message becomes the usage error."""

    def convert(text: str) -> object:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def age(text: str) -> timedelta:
    from test_coordinator.history.config import parse_age

    return parse_age(text)


def lease(text: str) -> float:
    from test_coordinator.scenario.durations import parse_duration

    seconds = parse_duration(text)
    if seconds < 1:
        raise ValueError(f"expected a lease of at least 1s, got {text!r}")
    return seconds


def _retention(text: str) -> timedelta | None:
    return None if text.strip().lower() == "off" else age(text)


def add_report_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--html", type=Path, metavar="OUT", help="write one HTML page with a timeline chart"
    )
    parser.add_argument(
        "--markdown", type=Path, metavar="OUT", help="write a short Markdown summary (for CI)"
    )


def add_history_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--history",
        type=option(_history_text),
        metavar="URL",
        help="the run history: sqlite:///PATH, postgresql://USER@HOST/DB or off (default: "
        "$TEST_COORDINATOR_HISTORY, else history.db in the XDG state directory)",
    )


def add_retention_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--history-retention",
        type=option(_retention),
        default="90d",
        metavar="AGE",
        help="delete recorded runs older than this, or off (default 90d)",
    )


def _history_text(text: str) -> str:
    from test_coordinator.history.config import parse_history_url

    parse_history_url(text)  # checked now; resolved with the environment in history_url
    return text


def history_url(args: argparse.Namespace) -> HistoryUrl | None:
    """The history the options and the environment name; None when it is off."""
    from test_coordinator.history.config import history_url_from

    try:
        return history_url_from(args.history)
    except ValueError as error:
        raise ScenarioInvalid(str(error)) from None

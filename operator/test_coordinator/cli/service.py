"""``serve``, and the kubectl-like verbs that talk to one: ``apply``, ``delete``."""

from __future__ import annotations

import argparse

from test_coordinator.cli.options import history_url
from test_coordinator.report.text import Printer

__all__ = ["apply_command", "delete_command", "serve_command"]


def serve_command(args: argparse.Namespace, console: Printer) -> int:
    from test_coordinator.service.commands import serve_command as serve

    return serve(args, history_url(args))


def apply_command(args: argparse.Namespace, console: Printer) -> int:
    from test_coordinator.service.commands import apply_command as apply

    return apply(args, console)


def delete_command(args: argparse.Namespace, console: Printer) -> int:
    from test_coordinator.service.commands import delete_command as delete

    return delete(args, console)

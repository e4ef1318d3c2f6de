"""Kubernetes from the command line: the CRD, and the operator."""

from __future__ import annotations

import argparse
import os
import sys

from test_coordinator.cli.options import history_url
from test_coordinator.report.text import Printer

__all__ = ["crd_command", "operator_command"]


def crd_command(args: argparse.Namespace, console: Printer) -> int:
    from test_coordinator.scenario.crd import render_crd

    sys.stdout.write(render_crd())
    return 0


def operator_command(args: argparse.Namespace, console: Printer) -> int:
    from test_coordinator.controller.main import run_operator  # kopf loads for this command only
    from test_coordinator.controller.settings import OperatorSettings
    from test_coordinator.history.config import ENVIRONMENT_VARIABLE

    # In a pod the per-user default file would be on a read-only root: off unless asked for.
    asked = args.history is not None or os.environ.get(ENVIRONMENT_VARIABLE)
    history = history_url(args) if asked else None
    return run_operator(OperatorSettings.from_args(args, history=history))

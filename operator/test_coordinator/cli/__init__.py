"""``test-coordinator``: a thin front end over the engine, the service and the operator.

Exit codes: 0 pass, 1 fail (or inconclusive, or aborted), 2 invalid input, 3 platform or
runtime error, 130 interrupted.

A command imports only what it uses: this module defines the arguments and names each
command's function by module, imported once the command is known. ``validate`` never loads the
engine, gRPC or aiohttp; ``history`` never loads the scenario model's checks; the operator's
kopf loads only for ``operator``. Start-up time and memory are part of every run's cost.

Every line printed is a ``Line`` built by ``styled`` on a ``text_console``: names, file names,
messages and service output are shown as they are, never read as markup; rich renders them
where there is colour, a spinner or a table to show (``report/text.py``).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from test_coordinator.cli.options import (
    add_history_option,
    add_report_options,
    add_retention_option,
    age,
    lease,
    option,
)
from test_coordinator.entry import started
from test_coordinator.errors import TestCoordinatorError

__all__ = ["main"]

DEMO_REPORT = Path("reports/risk-monitor-crash.html")
PLATFORMS = ("compose", "local")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = _parser(_command_in(arguments)).parse_args(arguments)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from test_coordinator.cli.printing import error_line, stderr
    from test_coordinator.report.text import text_console

    console = text_console()
    module, _, function = args.command.partition(":")
    command = getattr(importlib.import_module(f"{__name__}.{module}"), function)
    started()
    try:
        code: int = command(args, console)
    except TestCoordinatorError as error:
        stderr().print(error_line(error))
        return error.exit_code
    return code


def _command_in(arguments: Sequence[str]) -> str | None:
    """The command given (the first word that is not an option: global options take none)."""
    return next((word for word in arguments if not word.startswith("-")), None)


def _parser(command: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="test-coordinator", description="Chaos scenarios that prove a system recovers."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def add(name: str, target: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help)
        sub.set_defaults(command=target)
        return sub

    run = add("run", "running:run_command", "run scenarios, one after another")
    run.add_argument(
        "paths", type=Path, nargs="+", help="ChaosScenario YAML files, or directories of them"
    )
    run.add_argument("--platform", choices=PLATFORMS, default="local")
    run.add_argument(
        "--stack",
        help="local stack file (default: the scenario's chaos.tse.dev/local-stack annotation, "
        "else the bundled demo stack)",
    )
    run.add_argument(
        "--project",
        help="compose project (default: COMPOSE_PROJECT_NAME, else the project of the compose "
        "file in the working directory or above it)",
    )
    run.add_argument(
        "--write-status",
        action="store_true",
        help="write the run's status into each scenario file, keeping the rest of it",
    )
    _add_run_options(run)

    validate = add("validate", "files:validate_command", "check scenario files without running")
    validate.add_argument("paths", type=Path, nargs="+", help="files or directories")
    validate.add_argument(
        "--compose-file",
        type=Path,
        metavar="FILE",
        help="also check each network fault against the fault proxies of this compose file",
    )

    demo = add(
        "demo",
        "running:demo_command",
        "start the demo trading stack locally and crash its risk monitor",
    )
    _add_run_options(demo)
    demo.set_defaults(platform="local", stack=None, project=None, write_status=False)
    demo.set_defaults(html=DEMO_REPORT)

    report = add(
        "report",
        "reports:report_command",
        "render a result saved with --json, or a stored run, as HTML or Markdown",
    )
    report.add_argument(
        "result", type=Path, nargs="?", help="the JSON result (one run, or a suite's)"
    )
    report.add_argument("--run", metavar="RUN_ID", help="a run from the history instead")
    add_history_option(report)
    add_report_options(report)

    history = add(
        "history", "history:history_command", "recorded runs, newest first; for one, its trend"
    )
    history.add_argument("name", nargs="?", help="one scenario's runs and trend")
    add_history_option(history)
    history.add_argument(
        "--since", type=option(age), metavar="AGE", help="only runs this recent (7d, 12h)"
    )
    history.add_argument("--limit", type=int, default=20, help="runs listed (default 20)")
    history.add_argument("--json", action="store_true", help="runs and trend as JSON")

    get = add("get", "files:get_command", "list scenario files with their status, like kubectl get")
    get.add_argument(
        "paths", type=Path, nargs="*", default=[Path()], help="files or directories (default: .)"
    )

    serve = add(
        "serve", "service:serve_command", "reconcile a directory's scenarios, with an HTTP API"
    )
    apply = add("apply", "service:apply_command", "create or change a scenario on a serve")
    apply.add_argument("-f", "--filename", type=Path, required=True, metavar="FILE")
    delete = add(
        "delete", "service:delete_command", "delete a scenario on a serve: run aborted, undone"
    )
    delete.add_argument("name")

    add("crd", "kubernetes:crd_command", "print the ChaosScenario CRD, generated from the model")

    recover = add(
        "recover",
        "recovering:recover_command",
        "undo the faults of runs whose runner died (compose projects)",
    )
    recover.add_argument("--project", help="only this compose project's runs")

    operator = add("operator", "kubernetes:operator_command", "run the Kubernetes operator")

    proxy = add(
        "proxy",
        "proxying:proxy_command",
        "run fault proxies and their control API (Toxiproxy's, with leases)",
    )
    proxy.add_argument("--listen", metavar="HOST:PORT", help="where the proxy listens")
    proxy.add_argument("--upstream", metavar="HOST:PORT", help="where it forwards to")
    proxy.add_argument("--name", help="the proxy's name in the control API (default: proxy)")
    proxy.add_argument(
        "--proxy",
        action="append",
        default=[],
        metavar="NAME=LISTEN,UPSTREAM",
        help="one more proxy, e.g. grpc=127.0.0.1:7001,127.0.0.1:50051 (repeatable)",
    )
    proxy.add_argument(
        "--control",
        metavar="HOST:PORT",
        help="where the control API listens (default: 127.0.0.1:8474; PORT alone: 127.0.0.1)",
    )

    for remote in (get, apply, delete):
        remote.add_argument(
            "--server", required=remote is not get, metavar="URL", help="a serve's API"
        )
        remote.add_argument(
            "--token-file",
            type=Path,
            metavar="FILE",
            help="bearer token (default: $API_TOKEN_FILE)",
        )

    # The arguments the service and the operator define themselves, loaded only for them.
    if command == "serve":
        from test_coordinator.service.commands import add_serve_arguments

        add_serve_arguments(serve, history=_add_serve_history_options)
    elif command == "operator":
        from test_coordinator.controller.settings import add_arguments

        add_arguments(operator)
        _add_serve_history_options(operator)
    return parser


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the result as JSON")
    parser.add_argument("--junit", type=Path, metavar="OUT", help="write JUnit XML")
    add_report_options(parser)
    parser.add_argument("--log-dir", type=Path, help="where service output goes (local)")
    parser.add_argument(
        "--fault-lease",
        type=option(lease),
        metavar="DURATION",
        help="how long a network fault outlives this runner if it is killed (default 10s): "
        "the proxy removes what a runner stopped renewing",
    )
    add_history_option(parser)
    add_retention_option(parser)


def _add_serve_history_options(parser: argparse.ArgumentParser) -> None:
    add_history_option(parser)
    add_retention_option(parser)

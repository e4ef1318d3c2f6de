"""The CLI's commands for the service: ``serve``, and ``apply``, ``get --server``, ``delete``
against one. ``cli.py`` wires them in."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from test_coordinator.errors import ScenarioInvalid
from test_coordinator.report import scenario_table
from test_coordinator.report.text import Printer, styled
from test_coordinator.scenario.loading import parse_scenario, read_yaml
from test_coordinator.service.client import ApiClient, read_token
from test_coordinator.service.files import plain

__all__ = [
    "add_serve_arguments",
    "apply_command",
    "delete_command",
    "remote_get",
    "serve_command",
]

SETTING_FLAGS = (
    "http_port",
    "grpc_port",
    "redis_url",
    "log_level",
    "log_format",
    "max_concurrent_runs",
)


def add_serve_arguments(
    parser: argparse.ArgumentParser, *, history: Callable[[argparse.ArgumentParser], None]
) -> None:
    parser.add_argument("--platform", choices=["compose", "local"], default="local")
    parser.add_argument(
        "--scenarios", type=Path, required=True, metavar="DIR", help="the watched directory"
    )
    parser.add_argument(
        "--project",
        help="compose project (default: COMPOSE_PROJECT_NAME, else the compose file's here)",
    )
    parser.add_argument("--http-port", type=int, help="API, dashboard, metrics (default 8080)")
    parser.add_argument("--grpc-port", type=int, help="grpc.health.v1 (default 50051)")
    parser.add_argument("--redis-url", help="register there and read config:test-coordinator")
    parser.add_argument(
        "--max-concurrent-runs",
        type=int,
        metavar="N",
        help="runs in progress at most; the rest wait, Pending, first due first started "
        "(default 50)",
    )
    parser.add_argument(
        "--bind",
        default="127.0.0.1",
        help="listen address (default 127.0.0.1); beyond loopback, changes need a token",
    )
    parser.add_argument(
        "--api-token-file",
        type=Path,
        metavar="FILE",
        help="bearer token for PUT, DELETE and abort (default: $API_TOKEN_FILE)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="generations and journals (default: $XDG_STATE_HOME/test-coordinator)",
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="settings file (YAML, JSON or TOML)"
    )
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--log-format", choices=["json", "plain"])
    history(parser)


def serve_command(args: argparse.Namespace, history: Any) -> int:
    from test_coordinator.service.main import ServeOptions, run_service

    flags = {name: getattr(args, name) for name in SETTING_FLAGS}
    options = ServeOptions(
        platform=args.platform,
        scenarios=args.scenarios,
        project=args.project,
        bind=args.bind,
        api_token_file=args.api_token_file,
        state_dir=args.state_dir,
        config_file=args.config,
        history=history,
        history_retention=args.history_retention,
        flags=flags,
    )
    return run_service(options)


def _client(args: argparse.Namespace) -> ApiClient:
    return ApiClient(args.server, read_token(args.token_file))


def apply_command(args: argparse.Namespace, console: Printer) -> int:
    path: Path = args.filename
    document = read_yaml(path)
    name = (document.get("metadata") or {}).get("name") if isinstance(document, Mapping) else None
    if not isinstance(name, str):
        raise ScenarioInvalid(f"{path}: metadata.name: required field is missing")
    body = path.read_bytes()
    code, answer = _client(args).put(name, body, content_type="application/yaml")
    verb = "created" if code == 201 else "configured"
    console.print(styled(f"scenario {name} {verb} ({answer.get('file', '')})"))
    return 0


def remote_get(args: argparse.Namespace, console: Printer) -> int:
    answer = _client(args).list()
    scenarios = []
    for item in answer.get("items", []):
        document = {key: item[key] for key in ("apiVersion", "kind", "metadata", "spec")}
        document["status"] = item.get("status")
        try:
            scenarios.append(parse_scenario(plain(document), source=args.server))
        except ScenarioInvalid as error:  # the service's newer model, say: name it at least
            console.print(styled(f"{item.get('metadata', {}).get('name')}: {error}"))
    for problem in answer.get("problems", []):
        console.print(styled(f"problem: {problem}", style="yellow"))
    if scenarios:
        table = scenario_table(scenarios, now=datetime.now(UTC))
        console.print(styled(table))
    else:
        console.print(styled(f"no scenarios on {args.server}"))
    return 0


def delete_command(args: argparse.Namespace, console: Printer) -> int:
    answer = _client(args).delete(args.name)
    aborted = answer.get("aborted") or []
    extra = f" (aborted run {', '.join(aborted)}; its faults reverted)" if aborted else ""
    console.print(styled(f"scenario {args.name} deleted{extra}"))
    return 0

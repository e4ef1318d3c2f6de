"""How the operator runs: what it watches, where it serves health and metrics, how long it tries."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from test_coordinator.history.config import HistoryUrl
from test_coordinator.scenario.durations import parse_duration

__all__ = ["OperatorSettings", "add_arguments"]


@dataclass(frozen=True)
class OperatorSettings:
    namespaces: tuple[str, ...] = ()
    """Namespaces whose ChaosScenarios the operator runs; empty: every namespace."""
    operator_namespace: str | None = None
    """Where the operator itself runs: never a target (from the downward API in a pod)."""
    bind: str = "0.0.0.0"  # probes and Prometheus reach the pod from outside
    health_port: int = 8080
    """HTTP: ``/healthz`` (liveness), ``/readyz`` (readiness) and ``/metrics``."""
    grpc_health_port: int = 8081
    """gRPC: ``grpc.health.v1.Health`` (SERVING once the operator watches its resources)."""
    give_up_after: float = 60.0
    """How long to retry undoing a fault whose target has vanished before saying so and moving
    on (a deleted scenario's finalizer is always released)."""
    status_interval: float = 0.2
    """Progress writes to a resource's status are coalesced to at most one per interval."""
    log_format: str = "json"
    config_map: str = "test-coordinator-config"
    """The ConfigMap in the operator's namespace whose settings are watched live (the kill
    switch ``chaos_injection_enabled`` among them)."""
    config_file: Path | None = None
    redis_url: str | None = None
    history: HistoryUrl | None = None
    history_retention: timedelta | None = None
    max_concurrent_runs: int | None = None
    """Runs in progress at most (None: from the environment, the config file, the ConfigMap or
    the Redis hash, else 50); the rest wait, Pending, in the order they became due."""

    @classmethod
    def from_args(
        cls, args: argparse.Namespace, *, history: HistoryUrl | None = None
    ) -> OperatorSettings:
        return cls(
            namespaces=tuple(args.namespace or ()),
            operator_namespace=args.operator_namespace,
            bind=args.bind,
            health_port=args.health_port,
            grpc_health_port=args.grpc_health_port,
            give_up_after=parse_duration(args.give_up_after),
            log_format=args.log_format,
            config_map=args.config_map,
            config_file=args.config,
            redis_url=args.redis_url,
            history=history,
            history_retention=getattr(args, "history_retention", None),
            max_concurrent_runs=args.max_concurrent_runs,
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = OperatorSettings()
    parser.add_argument(
        "--namespace",
        action="append",
        metavar="NS",
        help="watch only this namespace (repeatable; default: every namespace)",
    )
    parser.add_argument(
        "--operator-namespace",
        default=os.environ.get("POD_NAMESPACE"),
        help="the operator's own namespace, never touched (default: $POD_NAMESPACE)",
    )
    parser.add_argument("--bind", default=defaults.bind, help="address for health and metrics")
    # The ecosystem's variables, as for serve (checked only when the operator is started).
    parser.add_argument(
        "--health-port", type=int, default=os.environ.get("HTTP_PORT", str(defaults.health_port))
    )
    parser.add_argument(
        "--grpc-health-port",
        type=int,
        default=os.environ.get("GRPC_PORT", str(defaults.grpc_health_port)),
    )
    parser.add_argument(
        "--max-concurrent-runs",
        type=int,
        metavar="N",
        help="runs in progress at most; the rest wait, Pending, first due first started "
        "(default: $MAX_CONCURRENT_RUNS, the settings' max_concurrent_runs, else 50)",
    )
    parser.add_argument(
        "--give-up-after",
        default="60s",
        help="how long to retry undoing a fault on a vanished target (default: 60s)",
    )
    parser.add_argument(
        "--log-format",
        choices=["json", "plain"],
        default=os.environ.get("LOG_FORMAT", defaults.log_format),
    )
    parser.add_argument(
        "--config-map",
        default=defaults.config_map,
        help="ConfigMap of live settings in the operator's namespace (default: %(default)s)",
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="settings file (YAML, JSON or TOML)"
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL"),
        help="read the live settings hash config:test-coordinator there (default: $REDIS_URL)",
    )

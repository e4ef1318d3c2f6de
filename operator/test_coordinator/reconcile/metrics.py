"""Prometheus metrics of a front end (the operator, `serve`), in a registry of its own, served
on ``/metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from test_coordinator.scenario.status import ScenarioStatus

__all__ = ["Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.runs = Counter(
            "test_coordinator_runs",
            "Scenario runs finished, by phase and verdict",
            ["phase", "verdict"],
            registry=self.registry,
        )
        self.recovery = Histogram(
            "test_coordinator_recovery_seconds",
            "Measured recovery time of finished runs (the worst after-check)",
            buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300),
            registry=self.registry,
        )
        self.active_faults = Gauge(
            "test_coordinator_active_faults",
            "Timed faults applied and not yet reverted",
            registry=self.registry,
        )
        self.active_runs = Gauge(
            "test_coordinator_active_runs",
            "Runs in progress, those waiting for a slot included",
            registry=self.registry,
        )
        self.queued_runs = Gauge(
            "test_coordinator_queued_runs",
            "Runs waiting for a slot (max_concurrent_runs)",
            registry=self.registry,
        )
        self.api_retries = Counter(
            "test_coordinator_api_retries",
            "Requests to the platform's API retried, by method and why",
            ["method", "reason"],
            registry=self.registry,
        )

    def run_finished(self, status: ScenarioStatus) -> None:
        verdict = status.verdict.value if status.verdict else "None"
        self.runs.labels(phase=status.phase.value, verdict=verdict).inc()
        if status.recovery_seconds is not None:
            self.recovery.observe(status.recovery_seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

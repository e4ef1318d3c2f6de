"""``test-coordinator operator``: kopf, the health endpoints, and the supervisors, in one loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from typing import Any

import kopf

from test_coordinator.controller.config_map import watch_config_map
from test_coordinator.controller.handlers import Controller, build_registry
from test_coordinator.controller.health import start_health
from test_coordinator.controller.settings import OperatorSettings
from test_coordinator.ecosystem.live import LiveSettings
from test_coordinator.history import HistoryUnavailable, RunStore, enforce_retention, open_store
from test_coordinator.platforms.kubernetes import ClusterCache, RetryPolicy, connect
from test_coordinator.reconcile.metrics import Metrics
from test_coordinator.reconcile.reconciler import Environment
from test_coordinator.reconcile.slots import RunSlots
from test_coordinator.scenario.model import ChaosScenario
from test_coordinator.scenario.status import ScenarioStatus
from test_coordinator.web import LiveBoard, add_dashboard

__all__ = ["operate", "run_operator"]


def run_operator(settings: OperatorSettings) -> int:
    """Run until SIGINT or SIGTERM; every fault in effect is undone on the way out."""
    log_format = kopf.LogFormat.JSON if settings.log_format == "json" else kopf.LogFormat.FULL
    logging.getLogger().handlers.clear()  # kopf's handler formats every record, ours too
    kopf.configure(log_format=log_format)
    # One line per event of every resource says nothing our own logs and Events do not.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # a line per API request otherwise
    asyncio.run(operate(settings))
    return 0


async def operate(settings: OperatorSettings, *, stop: asyncio.Event | None = None) -> None:
    metrics = Metrics()

    def retried(method: str, reason: str) -> None:
        metrics.api_retries.labels(method=method, reason=reason).inc()

    client = connect(on_retry=retried)
    # The caches' watches each hold a connection for as long as they last: a pool of their own,
    # without a bound, so that they never take the connections the runs' calls need. Their
    # client gives up sooner than the runs' (a cache lists again itself), so that a cache knows
    # within seconds that its watch is broken, and stops being trusted if it stays so.
    watching = RetryPolicy(budget=3.0, minimum=3.0)
    cache = ClusterCache(connect(on_retry=retried, connections=None, policy=watching))
    flags = {"redis_url": settings.redis_url, "max_concurrent_runs": settings.max_concurrent_runs}
    live = LiveSettings(flags, config_file=settings.config_file)
    slots = RunSlots(lambda: live.current.max_concurrent_runs)
    live.on_change(lambda _: slots.refresh())
    board = LiveBoard()
    store = open_store(settings.history) if settings.history is not None else None
    background: list[asyncio.Task[None]] = []

    def finished(scenario: ChaosScenario, status: ScenarioStatus, source: str) -> None:
        if store is not None:
            recording = _record(store, scenario, status=status, source=source)
            background.append(asyncio.create_task(recording))

    env = Environment(
        metrics,
        front_end="operator",
        switch=live.switch,
        give_up_after=settings.give_up_after,
        status_interval=settings.status_interval,
        time_limit=lambda: live.current.scenario_timeout_seconds,
        observers=lambda scenario: [board.observer(scenario)],
        finished=finished,
        slots=slots,
    )
    controller = Controller(
        env, client, operator_namespace=settings.operator_namespace, cache=cache
    )
    if settings.operator_namespace:
        watch = watch_config_map(
            client, live, namespace=settings.operator_namespace, name=settings.config_map
        )
        background.append(asyncio.create_task(watch, name="config map"))
    if live.current.redis_url:
        background.append(asyncio.create_task(live.watch_redis(live.current.redis_url)))
    if store is not None and settings.history_retention is not None:
        retention = enforce_retention(store, retention=settings.history_retention)
        background.append(asyncio.create_task(retention))
    registry = build_registry(controller)

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # The same sources as the API client of the platform: a service account, else kubeconfig.
        info: kopf.ConnectionInfo | None = kopf.login_with_service_account(
            **kwargs
        ) or kopf.login_with_kubeconfig(**kwargs)
        return info

    ready = asyncio.Event()
    dashboard = None if store is None else lambda app: add_dashboard(app, store, live=board)
    health = await start_health(settings, metrics, ready, extend=dashboard)

    async def announce_ready() -> None:
        await ready.wait()
        # What is loaded by now (the libraries, kopf's registry) lives as long as the process:
        # kept out of the collector's full passes, which otherwise walk it all again whenever
        # a burst (a run's 1,000 deletes) allocates enough to trigger one.
        gc.freeze()
        await health.serving(True)

    announcing = asyncio.create_task(announce_ready())
    try:
        await kopf.operator(
            registry=registry,
            clusterwide=not settings.namespaces,
            namespaces=settings.namespaces,
            standalone=True,
            ready_flag=ready,
            stop_flag=stop,
        )
    finally:
        announcing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await announcing
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await health.stop()
        if store is not None:
            await store.close()
        await cache.close()
        await cache.client.close()
        await client.close()


async def _record(
    store: RunStore, scenario: ChaosScenario, status: ScenarioStatus, source: str
) -> None:
    try:
        await store.record(scenario, status, platform="kubernetes", source=source)
    except HistoryUnavailable as error:
        logging.getLogger(__name__).warning(
            "history not written for %s: %s", scenario.metadata.name, error
        )

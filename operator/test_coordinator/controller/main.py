"""``test-coordinator operator``: kopf, the health endpoints, and the supervisors, in one loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import kopf

from test_coordinator.controller.handlers import Controller, build_registry
from test_coordinator.controller.health import start_health
from test_coordinator.controller.settings import OperatorSettings
from test_coordinator.platforms.kubernetes import connect
from test_coordinator.reconcile.metrics import Metrics
from test_coordinator.reconcile.reconciler import Environment

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
    client = connect()
    metrics = Metrics()
    env = Environment(
        metrics,
        front_end="operator",
        give_up_after=settings.give_up_after,
        status_interval=settings.status_interval,
    )
    controller = Controller(env, client, operator_namespace=settings.operator_namespace)
    registry = build_registry(controller)

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # The same sources as the API client of the platform: a service account, else kubeconfig.
        info: kopf.ConnectionInfo | None = kopf.login_with_service_account(
            **kwargs
        ) or kopf.login_with_kubeconfig(**kwargs)
        return info

    ready = asyncio.Event()
    health = await start_health(settings, metrics, ready)

    async def announce_ready() -> None:
        await ready.wait()
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
        await health.stop()
        await client.close()

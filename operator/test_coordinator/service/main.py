"""``test-coordinator serve``: the scenario files of a directory reconciled like resources, an
HTTP API and the dashboard on one port, gRPC health on another, registered in Redis.

Start: settings → undo what a dead predecessor's journals still hold → the first scan (each
file's reconciler recovers what its status says was interrupted) → SERVING, registered.
SIGTERM or SIGINT: NOT_SERVING and "draining" → no new runs → every run aborted, its faults
reverted → deregistered → exit 0, within 10 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import os
import signal
import socket
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from test_coordinator.ecosystem.grpc_health import GrpcHealth
from test_coordinator.ecosystem.live import LiveSettings
from test_coordinator.ecosystem.logs import configure_logging
from test_coordinator.ecosystem.registration import Registration
from test_coordinator.engine.journal_file import leftovers, repair
from test_coordinator.errors import ScenarioInvalid
from test_coordinator.history.config import HistoryUrl
from test_coordinator.reconcile.metrics import Metrics
from test_coordinator.reconcile.reconciler import Environment
from test_coordinator.reconcile.slots import RunSlots
from test_coordinator.scenario.model import ChaosScenario
from test_coordinator.scenario.status import ScenarioStatus
from test_coordinator.service.api import Access, ServiceState, add_api
from test_coordinator.service.catalog import Catalog
from test_coordinator.service.files import ScenarioDirectory
from test_coordinator.service.platforms import PlatformChoice
from test_coordinator.service.state import Generations
from test_coordinator.web import LiveBoard, add_dashboard

__all__ = ["ServeOptions", "run_service", "serve"]

log = logging.getLogger("test_coordinator.service")

SHUTDOWN_BUDGET = 8.0  # of the 10 s a SIGTERM gives: the rest is for the servers and Redis
DEFAULT_BIND = "127.0.0.1"


@dataclass(frozen=True)
class ServeOptions:
    platform: str
    scenarios: Path
    project: str | None = None
    bind: str = DEFAULT_BIND
    api_token_file: Path | None = None
    state_dir: Path | None = None
    config_file: Path | None = None
    history: HistoryUrl | None = None
    history_retention: timedelta | None = None
    flags: dict[str, Any] = field(default_factory=dict)  # settings given as flags


def run_service(options: ServeOptions) -> int:
    """Run until SIGTERM or SIGINT; 0 after a clean shutdown."""
    live = LiveSettings(options.flags, config_file=options.config_file)
    configure_logging(live.current.log_level, live.current.log_format)
    live.on_change(lambda settings: logging.getLogger().setLevel(settings.log_level))
    asyncio.run(serve(options, live))
    return 0


def state_directory(options: ServeOptions) -> Path:
    if options.state_dir is not None:
        return options.state_dir
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "test-coordinator"


def _token(options: ServeOptions) -> str | None:
    path = options.api_token_file or (
        Path(os.environ["API_TOKEN_FILE"]) if os.environ.get("API_TOKEN_FILE") else None
    )
    if path is None:
        return None
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ScenarioInvalid(f"--api-token-file {path}: cannot read: {error.strerror}") from None
    if len(token) < 16:
        raise ScenarioInvalid(f"--api-token-file {path}: a token needs at least 16 characters")
    return token


def _loopback(bind: str) -> bool:
    if bind == "localhost":
        return True
    try:
        return ipaddress.ip_address(bind).is_loopback
    except ValueError:
        return False


def _platforms(options: ServeOptions) -> PlatformChoice:
    if options.platform == "compose":
        from test_coordinator.platforms.compose import project_name  # reads compose files

        return PlatformChoice("compose", project=options.project or project_name(Path()))
    return PlatformChoice("local")


async def serve(
    options: ServeOptions, live: LiveSettings, *, stop: asyncio.Event | None = None
) -> None:
    settings = live.current
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    token = _token(options)
    read_only = token is None and not _loopback(options.bind)
    directory = ScenarioDirectory(options.scenarios)
    state_dir = state_directory(options)
    fingerprint = hashlib.sha256(str(directory.path).encode()).hexdigest()[:16]
    generations = Generations(state_dir / "serve" / f"{fingerprint}.json")
    journals = state_dir / "journal"
    platforms = _platforms(options)
    key = platforms.journal_key()
    left = list(leftovers(journals, key=key)) if key is not None else []

    metrics = Metrics()
    board = LiveBoard()
    store = None
    if options.history is not None:
        from test_coordinator.history import open_store  # SQLAlchemy, only when used

        store = open_store(options.history)
    background: list[asyncio.Task[None]] = []

    def spawn(work: Coroutine[Any, Any, None], name: str) -> None:
        background.append(asyncio.create_task(work, name=name))

    def finished(scenario: ChaosScenario, status: ScenarioStatus, source: str) -> None:
        if store is not None:
            recording = _record(
                store, scenario, status=status, platform=platforms.name, source=source
            )
            spawn(recording, "record run")

    slots = RunSlots(lambda: live.current.max_concurrent_runs)
    live.on_change(lambda _: slots.refresh())
    env = Environment(
        metrics,
        front_end="service",
        slots=slots,
        switch=live.switch,
        time_limit=lambda: live.current.scenario_timeout_seconds,
        observers=lambda scenario: [board.observer(scenario)],
        finished=finished,
    )
    catalog = Catalog(
        directory,
        env,
        generations=generations,
        platforms=platforms,
        journals=journals,
        leftovers=left,
    )
    state = ServiceState(
        settings.service_name,
        settings.service_version,
        platforms.name,
        injection=lambda: live.layers.injection(),
    )
    app = web.Application(client_max_size=1024 * 1024)
    add_api(app, catalog, access=Access(token, read_only), state=state, metrics=metrics)
    if store is not None:
        add_dashboard(app, store, live=board)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, options.bind, settings.http_port)
    await site.start()
    health = GrpcHealth(name=settings.service_name)
    grpc_port = await health.start(options.bind, settings.grpc_port)
    http_port = _bound_port(site, settings.http_port)
    registration = None
    try:
        await catalog.sync()  # recovery of each scenario starts with its reconciler
        await _repair_orphans(catalog, platforms)
        for name in [n for n in generations.entries if n not in catalog.scenarios]:
            generations.forget(name)  # deleted while the service was down: new if it returns
        spawn(catalog.run(), "scan")
        if settings.redis_url:
            registration = Registration(
                settings.redis_url,
                name=settings.service_name,
                version=settings.service_version,
                host=socket.gethostname(),
                http_port=http_port,
                grpc_port=grpc_port,
            )
            spawn(registration.run(), "registration")
            spawn(live.watch_redis(settings.redis_url, on_back=registration.refresh), "config")
        if store is not None and options.history_retention is not None:
            from test_coordinator.history import enforce_retention

            spawn(enforce_retention(store, retention=options.history_retention), "retention")
        state.serving = True
        await health.serving(True)
        _announce(
            options,
            directory=directory,
            platforms=platforms,
            http_port=http_port,
            grpc_port=grpc_port,
            token=token,
            read_only=read_only,
            live=live,
        )
        await stop.wait()
    finally:
        log.info("stopping: no new runs; aborting the runs in progress")
        state.serving = False
        await health.serving(False)
        if registration is not None:
            registration.set_status("draining")
        for task in background:
            if task.get_name() == "scan":
                task.cancel()
        try:
            async with asyncio.timeout(SHUTDOWN_BUDGET):
                await catalog.shutdown("the service is shutting down")
        except TimeoutError:
            log.error("runs still reverting after %.0fs: exiting anyway", SHUTDOWN_BUDGET)
        if registration is not None:
            await registration.deregister()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await health.stop()
        await runner.cleanup()
        if store is not None:
            await store.close()
        directory.close()
        log.info("stopped")


def _bound_port(site: web.TCPSite, asked: int) -> int:
    server = site._server  # aiohttp keeps the asyncio server here; the port 0 asked for is not
    sockets = getattr(server, "sockets", None) or []
    return int(sockets[0].getsockname()[1]) if sockets else asked


async def _repair_orphans(catalog: Catalog, platforms: PlatformChoice) -> None:
    """A dead runner's journals whose scenario file is gone: undo what they hold anyway."""
    orphans, catalog.leftovers = catalog.leftovers, []
    for leftover in orphans:
        platform = platforms.for_undo()
        if platform is None:
            continue
        try:
            await platform.start()
            for line in await repair(platform, leftover):
                log.warning("scenario %s (its file is gone): %s", leftover.scenario, line)
        except Exception as error:
            log.error("could not undo what run %s left: %s", leftover.run_id, error)
        finally:
            with contextlib.suppress(Exception):
                await platform.close()


async def _record(
    store: Any, scenario: ChaosScenario, *, status: ScenarioStatus, platform: str, source: str
) -> None:
    from test_coordinator.history import HistoryUnavailable

    try:
        await store.record(scenario, status, platform=platform, source=source)
    except HistoryUnavailable as error:
        log.warning("history not written for %s: %s", scenario.metadata.name, error)


def _announce(
    options: ServeOptions,
    *,
    directory: ScenarioDirectory,
    platforms: PlatformChoice,
    http_port: int,
    grpc_port: int,
    token: str | None,
    read_only: bool,
    live: LiveSettings,
) -> None:
    where = f"{platforms.name}" + (f" project {platforms.project}" if platforms.project else "")
    log.info(
        "serving %s on %s: HTTP %s:%d, gRPC health %s:%d",
        directory.path,
        where,
        options.bind,
        http_port,
        options.bind,
        grpc_port,
    )
    if read_only:
        log.warning(
            "read-only: listening on %s without an API token (--api-token-file); "
            "PUT, DELETE and abort are refused",
            options.bind,
        )
    elif token is None:
        log.info("no API token: changes are accepted from loopback without one")
    enabled, source = live.layers.injection()
    if not enabled:
        log.warning("chaos injection is disabled (%s): runs end without a fault", source)

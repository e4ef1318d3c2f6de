"""What the audit tests share: probes that need no platform, and the demo services as processes."""

from __future__ import annotations

from typing import Any

from test_coordinator.scenario.model import Probe

from tests.integration.services import Launcher, Service, stop_process, wait_until


class NoTargets:
    """The probes in these tests give addresses; a target lookup would be a mistake in the test."""

    async def endpoints(self, target: str | None, port: int | str) -> list[str]:
        raise LookupError(f"no target {target} in this test")


def probe(kind: str, **spec: Any) -> Probe:
    return Probe.model_validate({kind: spec})


__all__ = ["Launcher", "NoTargets", "Service", "probe", "stop_process", "wait_until"]

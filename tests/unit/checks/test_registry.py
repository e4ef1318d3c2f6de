"""Every probe kind the scenario model accepts has an observer behind it."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest
from test_coordinator.checks import OBSERVERS
from test_coordinator.checks.base import short, split_host_port
from test_coordinator.scenario.model import PROBE_KINDS, Probe

# The smallest valid spec of each kind, so the kind name comes from the model itself.
_MINIMAL: dict[str, dict[str, object]] = {
    "grpc_health": {"address": "127.0.0.1:1"},
    "http": {"url": "http://127.0.0.1:1/"},
    "tcp": {"address": "127.0.0.1:1"},
    "redis_registry": {"service": "svc", "redis": {"address": "127.0.0.1:1"}},
    "command": {"argv": ["true"]},
    "audit_trail": {"redis": {"address": "127.0.0.1:1"}, "match": {"event_type": "x"}},
    "no_loss": {"redis": {"address": "127.0.0.1:1"}, "stream": "audit:orders"},
    "workload_ready": {"kind": "Deployment", "name": "risk-monitor"},
}


@pytest.mark.parametrize("kind", PROBE_KINDS)
def test_every_probe_kind_has_an_observer(kind: str) -> None:
    probe = Probe.model_validate({kind: _MINIMAL[kind]})

    assert probe.kind in OBSERVERS


def test_no_observer_for_a_kind_the_model_lacks() -> None:
    kinds = {Probe.model_validate({kind: _MINIMAL[kind]}).kind for kind in PROBE_KINDS}

    assert set(OBSERVERS) == kinds


def test_short_keeps_one_line_within_the_limit() -> None:
    observed = short("exit 1:\n" + "x" * 300)

    assert "\n" not in observed
    assert len(observed) == 120
    assert observed.endswith("…")


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [("127.0.0.1:80", ("127.0.0.1", 80)), ("[::1]:8080", ("::1", 8080)), ("svc:9", ("svc", 9))],
)
def test_split_host_port(endpoint: str, expected: tuple[str, int]) -> None:
    assert split_host_port(endpoint) == expected


def test_split_host_port_rejects_a_bare_host() -> None:
    with pytest.raises(LookupError):
        split_host_port("localhost")


@pytest.mark.parametrize("kind", sorted(OBSERVERS))
def test_every_observer_named_is_a_coroutine_function_there(kind: str) -> None:
    module, name = OBSERVERS[kind].split(":")
    observer = getattr(importlib.import_module(f"test_coordinator.checks.{module}"), name)
    assert inspect.iscoroutinefunction(observer)


def test_the_registry_loads_no_observer_until_one_is_used() -> None:
    """Importing the checks must not import gRPC, Redis or aiohttp: a CLI command pays for
    those only when a check of that kind runs."""
    code = (
        "import sys, test_coordinator.checks; "
        "print(sorted(m for m in ('grpc', 'redis', 'aiohttp') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"

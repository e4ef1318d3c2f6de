"""An emulated cluster (``tests/integration/kube.py``) with two Deployments, and the platform
on its namespace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_coordinator.platforms.kubernetes import ApiClient, KubernetesPlatform, connect

from tests.integration.kube import OPERATOR_NAMESPACE, Cluster, cluster

NS = "trading"


@pytest.fixture
async def kube(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with cluster(tmp_path) as running:
        await running.namespace(NS)
        await running.namespace("quiet", enabled=False)
        await running.namespace(OPERATOR_NAMESPACE)
        await running.deployment(NS, "risk", replicas=2, ports={"grpc": 50051})
        await running.deployment(NS, "gateway", ports={"http": 8080})
        await running.ready(NS, "risk", 2)
        await running.ready(NS, "gateway", 1)
        yield running


@pytest.fixture
async def client(kube: Cluster, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ApiClient]:
    """The operator's own client (its retries, its transport), on the emulated cluster."""
    monkeypatch.setenv("KUBECONFIG", str(kube.kubeconfig))
    api = connect()
    yield api
    await api.close()


@pytest.fixture
async def platform(client: ApiClient) -> KubernetesPlatform:
    platform = KubernetesPlatform(client, NS, operator_namespace=OPERATOR_NAMESPACE)
    await platform.start()
    return platform

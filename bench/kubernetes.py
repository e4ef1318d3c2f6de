"""The operator under load, against the emulated API server of ``tests/integration/kube.py``
(the real ``test-coordinator operator`` process; the cluster's controllers simulated).

- apply → first pod delete: latency from a ChaosScenario's creation to its pod's deletion, one
  scenario at a time, over 100 scenarios (p50, p99).
- 200 concurrent scenarios in one operator: wall time until all are terminal, how they ended,
  the operator's peak RSS.
- one scenario killing 1,000 pods: wall time from apply to the verdict, and from the first pod
  delete to the last.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tests.conftest import free_port
from tests.integration.kube import Cluster, Operator, cluster, start_operator, until

NS = "bench"
TERMINAL = ("Succeeded", "Failed", "Aborted", "Invalid", "Error")


def kill_spec(app: str, *, mode: str = "one", after: bool = True) -> dict[str, Any]:
    step: dict[str, Any] = {"name": "kill", "fault": {"kill": {"target": "t"}}}
    if after:
        step["after"] = [{"name": "back", "workloadReady": {"name": app}, "within": "60s"}]
    return {"targets": {"t": {"selector": {"app": app}, "mode": mode}}, "steps": [step]}


@contextlib.asynccontextmanager
async def operated(workdir: Path) -> AsyncIterator[tuple[Cluster, Operator]]:
    async with cluster(workdir) as kube:
        await kube.namespace(NS)
        operator = await start_operator(
            kube, workdir / "operator.log", ports=(free_port(), free_port())
        )
        try:
            yield kube, operator
        finally:
            await operator.stop()


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def phase(kube: Cluster, name: str) -> str | None:
    value: str | None = kube.status(NS, name).get("phase")
    return value


async def apply_to_first_delete(workdir: Path, count: int = 100) -> None:
    async with operated(workdir) as (kube, _):
        for i in range(count):
            await kube.deployment(NS, f"svc-{i}")
        await until(lambda: len(kube.api.list("pods", NS)) >= count, within=120, what="pods")
        latencies = []
        for i in range(count):
            seen = len(kube.api.deletions)
            began = time.monotonic()
            await kube.scenario(NS, f"s-{i}", kill_spec(f"svc-{i}", after=False))
            deleted = await until(
                lambda seen=seen, i=i: next(
                    (
                        at
                        for at, plural, name in kube.api.deletions[seen:]
                        if plural == "pods" and name.startswith(f"svc-{i}-")
                    ),
                    None,
                ),
                within=30,
                what=f"the pod of scenario {i} deleted",
                every=0.002,
            )
            latencies.append(deleted - began)
        ms = sorted(latency * 1000 for latency in latencies)
        p99 = ms[min(len(ms) - 1, round(0.99 * len(ms)) - 1)]
        print(
            f"apply → first pod delete ({count} scenarios, one at a time): "
            f"p50 {statistics.median(ms):.0f} ms, p99 {p99:.0f} ms, max {ms[-1]:.0f} ms"
        )


async def concurrent_scenarios(workdir: Path, count: int = 200) -> None:
    async with operated(workdir) as (kube, operator):
        for i in range(count):
            await kube.deployment(NS, f"svc-{i}", ready_delay=0.5)
        await until(lambda: len(kube.api.list("pods", NS)) >= count, within=180, what="pods")
        began = time.monotonic()
        await asyncio.gather(
            *(kube.scenario(NS, f"s-{i}", kill_spec(f"svc-{i}")) for i in range(count))
        )
        await until(
            lambda: all(phase(kube, f"s-{i}") in TERMINAL for i in range(count)),
            within=300,
            what=f"{count} scenarios terminal",
            every=0.2,
        )
        wall = time.monotonic() - began
        phases = Counter(phase(kube, f"s-{i}") for i in range(count))
        rss = peak_rss_mib(operator.proc.pid)
        print(
            f"{count} concurrent scenarios (kill, pod Ready after 0.5 s): all terminal in "
            f"{wall:.1f} s ({dict(phases)}); operator peak RSS {rss:.0f} MiB"
        )


async def thousand_pods(workdir: Path, pods: int = 1000) -> None:
    async with operated(workdir) as (kube, _):
        await kube.deployment(NS, "fleet", replicas=pods)
        await until(lambda: len(kube.api.list("pods", NS)) >= pods, within=300, what=f"{pods} pods")
        seen = len(kube.api.deletions)
        began = time.monotonic()
        await kube.scenario(NS, "fleet", kill_spec("fleet", mode="all", after=False))
        status = await until(
            lambda: phase(kube, "fleet") in TERMINAL and kube.status(NS, "fleet"),
            within=300,
            what="the fleet scenario terminal",
            every=0.1,
        )
        wall = time.monotonic() - began
        deletes = [at for at, plural, _ in kube.api.deletions[seen:] if plural == "pods"]
        spread = max(deletes) - min(deletes) if deletes else float("nan")
        print(
            f"one scenario killing {pods} pods: {status['phase']} in {wall:.1f} s from apply; "
            f"{len(deletes)} deletes within {spread:.2f} s; "
            f"{len(status['faults'])} faults on record"
        )


async def main() -> None:
    print("== Kubernetes operator (emulated API server, simulated controllers and kubelet)")
    with tempfile.TemporaryDirectory(prefix="bench-kubernetes-") as workdir:
        root = Path(workdir)
        for name, bench in (
            ("latency", apply_to_first_delete),
            ("concurrent", concurrent_scenarios),
            ("fleet", thousand_pods),
        ):
            (root / name).mkdir()
            await bench(root / name)

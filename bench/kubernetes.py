"""The operator at scale, against the emulated API server of ``tests/integration/kube.py`` (the
real ``test-coordinator operator`` process; the cluster's controllers and kubelet simulated),
each figure printed next to its goal (issue 9):

- 500 kill scenarios applied at once (one per 1-replica Deployment, a ``workloadReady``
  after-check), the API server answering 200 ms late and failing 5% of the operator's requests
  with 429 (Retry-After: 1), 500 or 503: all Succeeded/Pass within 5 minutes, none Error, none
  Fail; the API requests per scenario (≤ 15).
- 1,000 at once on a fast API server: all Pass, the operator's peak RSS ≤ 250 MB, the API
  requests per scenario.
- apply → first pod delete, one scenario at a time, on a quiet operator (p50 ≤ 50 ms), and with
  200 runs in flight (p99 ≤ 250 ms); then the finalizers of 100 scenarios released at once,
  still under that load (1.7 s before this work).
- one scenario killing 1,000 pods: apply → verdict ≤ 2 s.

``python -m bench.kubernetes [NAME…]`` runs some of them (names: trouble, thousand, latency,
loaded, fleet).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.conftest import free_port
from tests.integration.kube import Cluster, Operator, Trouble, cluster, start_operator, until

NS = "bench"
TERMINAL = ("Succeeded", "Failed", "Aborted", "Invalid", "Error")
SCENARIOS = f"/apis/chaos.tse.dev/v1alpha1/namespaces/{NS}/chaosscenarios"


def kill_spec(app: str, *, mode: str = "one", after: bool = True, within: str = "60s") -> Any:
    step: dict[str, Any] = {"name": "kill", "fault": {"kill": {"target": "t"}}}
    if after:
        step["after"] = [{"name": "back", "workloadReady": {"name": app}, "within": within}]
    return {
        "targets": {"t": {"selector": {"app": app}, "mode": mode}},
        "steps": [step],
        "timeout": "5m",
    }


def goal(label: str, figure: str, wanted: str, met: bool) -> None:
    print(f"  {label}: {figure}   [goal {wanted}: {'met' if met else 'NOT MET'}]", flush=True)


def note(text: str) -> None:
    print(f"    {text}", flush=True)


@contextlib.asynccontextmanager
async def operated(workdir: Path, *extra: str) -> AsyncIterator[tuple[Cluster, Operator]]:
    async with cluster(workdir) as kube:
        await kube.namespace(NS)
        operator = await start_operator(
            kube, workdir / "operator.log", ports=(free_port(), free_port()), extra=extra
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
    """The scenario's phase, read in place: a copy of a status with 1,000 faults, every 50 ms,
    would take the emulator's time from the operator's requests."""
    found = kube.api.stored("chaosscenarios", NS, name)
    value: str | None = ((found or {}).get("status") or {}).get("phase")
    return value


def operator_requests(kube: Cluster) -> int:
    """The operator's requests: its API client's and kopf's."""
    return sum(n for (client, _, _), n in kube.api.requests.items() if client != "cluster")


async def in_batches(calls: list[Callable[[], Awaitable[Any]]], size: int = 100) -> None:
    for start in range(0, len(calls), size):
        await asyncio.gather(*(call() for call in calls[start : start + size]))


async def deployments(
    kube: Cluster, prefix: str, count: int, *, ready_delay: float = 0.5, recreate: bool = True
) -> None:
    await in_batches(
        [
            lambda i=i: kube.deployment(
                NS, f"{prefix}-{i}", ready_delay=ready_delay, recreate=recreate
            )
            for i in range(count)
        ]
    )
    await until(
        lambda: (
            sum(1 for p in kube.api.raw("pods") if p["metadata"]["name"].startswith(prefix))
            >= count
        ),
        within=300,
        what=f"{count} pods of {prefix}",
        every=0.2,
    )


async def finished(kube: Cluster, names: list[str], *, within: float) -> bool:
    """Wait until every scenario of ``names`` is terminal; False when ``within`` ran out."""
    try:
        await until(
            lambda: all(phase(kube, name) in TERMINAL for name in names),
            within=within,
            what=f"{len(names)} scenarios terminal",
            every=0.5,
        )
    except AssertionError:
        return False
    return True


async def many_at_once(workdir: Path, count: int, trouble: Trouble | None, label: str) -> None:
    """``count`` kill scenarios applied at once; how they end, how long it takes, what the
    operator asked of the API server for them, and its peak memory."""
    async with operated(workdir) as (kube, operator):
        await deployments(kube, "svc", count)
        if trouble is not None:
            kube.api.trouble = trouble
        counted = operator_requests(kube)
        names = [f"s-{i}" for i in range(count)]
        began = time.monotonic()
        await in_batches(
            [lambda i=i: kube.scenario(NS, f"s-{i}", kill_spec(f"svc-{i}")) for i in range(count)]
        )
        all_done = await finished(kube, names, within=330)
        wall = time.monotonic() - began
        per_scenario = (operator_requests(kube) - counted) / count
        statuses = [kube.status(NS, name) for name in names]
        outcomes = Counter((s.get("phase"), s.get("verdict")) for s in statuses)
        rss = peak_rss_mib(operator.proc.pid)
    passed = outcomes[("Succeeded", "Pass")]
    errors = sum(n for (p, _), n in outcomes.items() if p == "Error")
    fails = sum(n for (_, v), n in outcomes.items() if v == "Fail")
    others = {f"{p}/{v}": n for (p, v), n in outcomes.items() if (p, v) != ("Succeeded", "Pass")}
    figure = (
        f"{passed}/{count} Succeeded/Pass in {wall:.1f} s, {errors} Error, {fails} Fail"
        + (f" ({others})" if others else "")
        + ("" if all_done else " (not all finished within 5.5 min)")
    )
    if trouble is not None:
        goal(
            label,
            figure,
            "all Pass within 5 min, 0 Error, 0 Fail",
            passed == count and wall <= 300,
        )
        failed = sum(kube.api.troubled.values())
        note(
            f"the API server failed {failed} requests ({dict(kube.api.troubled)}); peak RSS "
            f"{rss:.0f} MiB"
        )
    else:
        goal(label, figure, "all Pass", passed == count)
        goal(f"{label}: operator peak RSS", f"{rss:.0f} MiB", "≤ 250 MB", rss * 1.048576 <= 250)
    goal(f"{label}: API requests per scenario", f"{per_scenario:.1f}", "≤ 15", per_scenario <= 15)
    if errors or fails:
        for status in statuses:
            if status.get("phase") == "Error" or status.get("verdict") == "Fail":
                note(f"e.g. {status.get('phase')}: {status.get('message')}")
                break


async def first_delete(kube: Cluster, name: str, app: str) -> float:
    """Seconds from applying a scenario that kills a pod of ``app`` to that pod's deletion."""
    seen = len(kube.api.deletions)
    began = time.monotonic()
    await kube.scenario(NS, name, kill_spec(app, after=False))
    deleted: float = await until(
        lambda: next(
            (
                at
                for at, plural, pod in kube.api.deletions[seen:]
                if plural == "pods" and pod.startswith(f"{app}-")
            ),
            None,
        ),
        within=30,
        what=f"the pod of {name} deleted",
        every=0.002,
    )
    return deleted - began


def percentiles(seconds: list[float]) -> tuple[float, float, float]:
    ms = sorted(value * 1000 for value in seconds)
    p99 = ms[min(len(ms) - 1, round(0.99 * len(ms)) - 1)]
    return statistics.median(ms), p99, ms[-1]


async def apply_to_first_delete(workdir: Path, count: int = 100) -> None:
    async with operated(workdir) as (kube, _):
        await deployments(kube, "svc", count, ready_delay=0.0)
        latencies = [await first_delete(kube, f"s-{i}", f"svc-{i}") for i in range(count)]
    p50, p99, most = percentiles(latencies)
    goal(
        f"apply → first pod delete, quiet operator ({count}, one at a time)",
        f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {most:.0f} ms",
        "p50 ≤ 50 ms",
        p50 <= 50,
    )


def in_flight_with_its_fault(kube: Cluster, name: str) -> bool:
    faults = kube.status(NS, name).get("faults") or []
    return (
        phase(kube, name) == "Running"
        and bool(faults)
        and all(fault.get("completedAt") for fault in faults)
    )


async def loaded(workdir: Path, in_flight: int = 200, count: int = 100) -> None:
    """With ``in_flight`` runs polling their after-checks: apply → first fault, one scenario at
    a time; then the finalizers of those scenarios released at once."""
    async with operated(workdir, "--max-concurrent-runs", str(in_flight + count)) as (kube, _):
        await deployments(kube, "busy", in_flight, recreate=False)  # never back: runs poll on
        await deployments(kube, "svc", count, ready_delay=0.0)
        await in_batches(
            [
                lambda i=i: kube.scenario(NS, f"busy-{i}", kill_spec(f"busy-{i}", within="4m"))
                for i in range(in_flight)
            ]
        )
        # In flight: Running, each with its fault landed. A fault is on record before it is
        # applied (journal first), so "has a fault" alone came up to a second early, with
        # some 170 deletes, status writes and Events of the 200 starts still to go.
        await until(
            lambda: all(in_flight_with_its_fault(kube, f"busy-{i}") for i in range(in_flight)),
            within=120,
            what=f"{in_flight} runs in flight, their faults landed",
            every=0.2,
        )
        latencies = [await first_delete(kube, f"s-{i}", f"svc-{i}") for i in range(count)]
        names = [f"s-{i}" for i in range(count)]
        await finished(kube, names, within=60)
        still = sum(1 for i in range(in_flight) if phase(kube, f"busy-{i}") == "Running")
        began = time.monotonic()
        await asyncio.gather(*(kube.delete(f"{SCENARIOS}/{name}") for name in names))
        await until(
            lambda: all(kube.api.get("chaosscenarios", NS, name) is None for name in names),
            within=60,
            what=f"{count} finalizers released",
            every=0.01,
        )
        released = time.monotonic() - began
    p50, p99, most = percentiles(latencies)
    goal(
        f"apply → first pod delete with {in_flight} runs in flight ({count}, one at a time)",
        f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {most:.0f} ms",
        "p99 ≤ 250 ms",
        p99 <= 250,
    )
    goal(
        f"finalizers of {count} scenarios released at once, {still} runs still in flight",
        f"{released:.2f} s",
        "≤ 2 s (1.7 s before, on a quiet operator)",
        released <= 2.0,
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
            every=0.05,
        )
        wall = time.monotonic() - began
        deletes = [at for at, plural, _ in kube.api.deletions[seen:] if plural == "pods"]
    spread = max(deletes) - min(deletes) if deletes else float("nan")
    goal(
        f"one scenario killing {pods} pods",
        f"{status['phase']} in {wall:.2f} s from apply ({len(deletes)} deletes within "
        f"{spread:.2f} s, {len(status['faults'])} faults on record)",
        "≤ 2 s",
        wall <= 2.0,
    )


BENCHES: dict[str, Callable[[Path], Awaitable[None]]] = {
    "trouble": lambda path: many_at_once(
        path,
        500,
        Trouble(latency=0.2, error_rate=0.05, errors=(429, 500, 503), retry_after=1),
        "500 at once, API server 200 ms late failing 5% (429/500/503)",
    ),
    "thousand": lambda path: many_at_once(path, 1000, None, "1,000 at once, fast API server"),
    "latency": apply_to_first_delete,
    "loaded": loaded,
    "fleet": thousand_pods,
}


async def main(names: list[str] | None = None) -> None:
    print("== Kubernetes operator (emulated API server, simulated controllers and kubelet)")
    with tempfile.TemporaryDirectory(prefix="bench-kubernetes-") as workdir:
        root = Path(workdir)
        for name in names or list(BENCHES):
            (root / name).mkdir()
            await BENCHES[name](root / name)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:] or None))

"""How one scenario has been doing over a window of runs: pass rate, recovery percentiles, the
last change of verdict, and whether it is flaky.

Only Pass and Fail are judgements of the system: an Inconclusive run (aborted, or its audit
trail unreadable) and a run without a verdict (invalid) count as runs but neither pass nor fail.
Flaky: the verdict flipped at least twice between consecutive judged runs of one spec — Pass,
Fail, Pass without anyone touching the scenario. One flip is a regression or a fix; a flip
across a change of the scenario is the change's doing.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from test_coordinator.scenario.status import Verdict

__all__ = ["FLAKY_FLIPS", "Trend", "TrendPoint", "VerdictChange", "compute_trend", "percentile"]

FLAKY_FLIPS = 2
_JUDGED = (Verdict.PASS, Verdict.FAIL)


@dataclass(frozen=True)
class TrendPoint:
    """What a trend needs of one run."""

    run_id: str
    started_at: datetime
    verdict: Verdict | None
    recovery_seconds: float | None
    spec_hash: str


@dataclass(frozen=True)
class VerdictChange:
    run_id: str  # the first run with the new verdict
    at: datetime
    before: Verdict
    after: Verdict


@dataclass(frozen=True)
class Trend:
    scenario: str
    since: datetime | None  # None: every run kept
    runs: int
    passed: int
    failed: int
    pass_rate: float | None  # passed / (passed + failed); None when nothing was judged
    recovery_p50: float | None
    recovery_p95: float | None
    recovery_max: float | None
    last_change: VerdictChange | None
    flips: int  # verdict changes between consecutive judged runs of the same spec
    flaky: bool  # one spec's verdict changed at least FLAKY_FLIPS times
    spec_changes: int  # times the scenario as run changed within the window


def compute_trend(scenario: str, points: Sequence[TrendPoint], *, since: datetime | None) -> Trend:
    ordered = sorted(points, key=lambda point: point.started_at)
    judged = [point for point in ordered if point.verdict in _JUDGED]
    passed = sum(1 for point in judged if point.verdict is Verdict.PASS)
    recoveries = sorted(p.recovery_seconds for p in ordered if p.recovery_seconds is not None)
    last_change = None
    flips_by_spec: Counter[str] = Counter()
    for previous, current in pairwise(judged):
        if previous.verdict is current.verdict:
            continue
        assert previous.verdict is not None and current.verdict is not None
        last_change = VerdictChange(
            current.run_id, current.started_at, previous.verdict, current.verdict
        )
        if previous.spec_hash == current.spec_hash:
            flips_by_spec[current.spec_hash] += 1
    spec_changes = sum(
        1 for previous, current in pairwise(ordered) if previous.spec_hash != current.spec_hash
    )
    return Trend(
        scenario=scenario,
        since=since,
        runs=len(ordered),
        passed=passed,
        failed=len(judged) - passed,
        pass_rate=passed / len(judged) if judged else None,
        recovery_p50=percentile(recoveries, 50),
        recovery_p95=percentile(recoveries, 95),
        recovery_max=recoveries[-1] if recoveries else None,
        last_change=last_change,
        flips=flips_by_spec.total(),
        flaky=max(flips_by_spec.values(), default=0) >= FLAKY_FLIPS,
        spec_changes=spec_changes,
    )


def percentile(ordered: Sequence[float], rank: float) -> float | None:
    """The nearest-rank percentile of sorted values: always one of them, never interpolated."""
    if not ordered:
        return None
    index = max(0, math.ceil(rank / 100 * len(ordered)) - 1)
    return ordered[min(index, len(ordered) - 1)]

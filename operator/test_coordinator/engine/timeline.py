"""Every observation of a run, over time, for the report's timeline chart.

The samples travel with the status (``ScenarioStatus.samples``) but are never part of the
resource's ``.status``; each check keeps at most ``MAX_SAMPLES``, always including those where
its result changed, so a chart still shows exactly when a failure began and ended.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from test_coordinator.checks import Observation
from test_coordinator.scenario.status import CheckSamples, When

__all__ = ["MAX_SAMPLES", "SampleLog"]

MAX_SAMPLES = 2000
"""Per check: a 10-minute run observed every 100 ms makes 6000."""

_Key = tuple[str, When, str | None]


class SampleLog:
    def __init__(self, started_at: datetime) -> None:
        self.origin = started_at.timestamp()
        self._series: defaultdict[_Key, list[tuple[float, Observation]]] = defaultdict(list)

    def add(self, name: str, when: When, step: str | None, began: float, seen: Observation) -> None:
        """One observation of a check, which began at ``began`` (unix seconds)."""
        self._series[(name, when, step)].append((began - self.origin, seen))

    def samples(self) -> list[CheckSamples]:
        return [_compact(key, series) for key, series in self._series.items()]


def _compact(key: _Key, series: list[tuple[float, Observation]]) -> CheckSamples:
    series = sorted(series, key=lambda sample: sample[0])
    kept = _keep(series)
    notes: dict[int, str] = {}
    previous: bool | None = None
    for index, (_, observation) in enumerate(kept):
        if observation.passed is not previous:
            notes[index] = observation.observed
        previous = observation.passed
    name, when, step = key
    return CheckSamples(
        name=name,
        when=when,
        step=step,
        offsets=[round(offset, 3) for offset, _ in kept],
        passed="".join("1" if observation.passed else "0" for _, observation in kept),
        notes=notes,
        dropped=len(series) - len(kept),
    )


def _keep(series: list[tuple[float, Observation]]) -> list[tuple[float, Observation]]:
    """All of ``series`` if short enough; else its ends, each side of every change of result,
    and evenly spaced others up to ``MAX_SAMPLES``."""
    count = len(series)
    if count <= MAX_SAMPLES:
        return series
    changes = {0, count - 1}
    for index in range(1, count):
        if series[index][1].passed is not series[index - 1][1].passed:
            changes |= {index - 1, index}
    chosen = sorted(changes)
    if len(chosen) > MAX_SAMPLES:  # flapping: even the changes must be thinned
        chosen = [chosen[i * len(chosen) // MAX_SAMPLES] for i in range(MAX_SAMPLES)]
    others = [index for index in range(count) if index not in changes]
    budget = MAX_SAMPLES - len(chosen)
    chosen += [others[i * len(others) // budget] for i in range(budget)] if budget > 0 else []
    return [series[index] for index in sorted(chosen)]

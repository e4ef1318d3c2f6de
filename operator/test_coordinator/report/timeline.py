"""A run laid out on one time axis: fault bands and each check's observations, in seconds from
the run's start. The HTML report draws it; nothing here knows about drawing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from test_coordinator.scenario.status import CheckSamples, ScenarioStatus, When

__all__ = ["Band", "Mark", "Row", "Timeline", "layout", "ticks"]

_ORDER = [When.STEADY_STATE, When.DURING, When.AFTER, When.FINAL_STEADY_STATE, When.AUDIT]
_NICE_STEPS = (0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)


@dataclass(frozen=True)
class Band:
    """A fault: active from ``start`` to ``end`` (equal for an instant one, a kill), then
    recovering until ``recovered`` (None: not recovered, or nothing measured it)."""

    label: str
    start: float
    end: float
    recovered: float | None


@dataclass(frozen=True)
class Mark:
    at: float
    passed: bool
    note: str  # what was seen, where known


@dataclass(frozen=True)
class Row:
    label: str
    when: When
    marks: list[Mark]


@dataclass(frozen=True)
class Timeline:
    duration: float
    bands: list[Band]
    rows: list[Row]


def layout(status: ScenarioStatus) -> Timeline:
    origin = status.started_at
    rows = _rows(status, origin)
    bands = _bands(status, origin)
    ends = [mark.at for row in rows for mark in row.marks]
    ends += [band.recovered or band.end for band in bands]
    if origin is not None and status.finished_at is not None:
        ends.append(_offset(status.finished_at, origin))
    return Timeline(duration=max([0.001, *ends]), bands=bands, rows=rows)


def ticks(duration: float, most: int = 10) -> list[float]:
    """Round times from 0 to ``duration``, at most ``most`` + 1 of them."""
    step = next((s for s in _NICE_STEPS if duration / s <= most), _NICE_STEPS[-1])
    return [round(i * step, 3) for i in range(int(duration / step) + 1)]


def _offset(moment: datetime, origin: datetime) -> float:
    return (moment - origin).total_seconds()


def _bands(status: ScenarioStatus, origin: datetime | None) -> list[Band]:
    if origin is None:
        return []
    bands = []
    for fault in status.faults:
        start = _offset(fault.applied_at, origin)
        end = _offset(fault.reverted_at, origin) if fault.reverted_at else start
        after = [c for c in status.checks if c.when is When.AFTER and c.step == fault.step]
        recoveries = [c.recovery_seconds for c in after if c.recovery_seconds is not None]
        recovered = None
        if recoveries and all(check.passed for check in after):
            recovered = end + max(recoveries)
        bands.append(Band(f"{fault.action} {fault.workload}", start, end, recovered))
    return bands


def _rows(status: ScenarioStatus, origin: datetime | None) -> list[Row]:
    by_key = {(s.name, s.when, s.step): s for s in status.samples}
    rows = []
    for check in sorted(status.checks, key=lambda c: _ORDER.index(c.when)):
        label = f"{check.when.value}: {check.name}"
        samples = by_key.get((check.name, check.when, check.step))
        if samples is not None:
            rows.append(Row(label, check.when, _marks(samples)))
        elif check.at is not None and origin is not None:  # a result saved without samples
            mark = Mark(_offset(check.at, origin), check.passed, check.observed)
            rows.append(Row(label, check.when, [mark]))
    return rows


def _marks(samples: CheckSamples) -> list[Mark]:
    marks: list[Mark] = []
    note = ""
    for index, (offset, passed) in enumerate(zip(samples.offsets, samples.passed, strict=False)):
        note = samples.notes.get(index, note)
        marks.append(Mark(offset, passed == "1", note))
    return marks

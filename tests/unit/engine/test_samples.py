"""Observations over time, kept compact: every change of result survives the cap."""

from __future__ import annotations

from datetime import UTC, datetime

from test_coordinator.checks import Observation
from test_coordinator.engine.timeline import MAX_SAMPLES, SampleLog
from test_coordinator.scenario.status import When

START = datetime(2025, 11, 26, 7, 0, 0, tzinfo=UTC)


def seen(passed: bool, text: str = "") -> Observation:
    return Observation(passed=passed, observed=text or ("ok" if passed else "refused"))


def test_samples_are_per_check_in_time_order_with_notes_where_the_result_changed() -> None:
    log = SampleLog(START)
    origin = START.timestamp()
    for offset, passed in [(0.3, False), (0.1, True), (0.2, True), (0.4, True)]:
        log.add("api", When.DURING, None, origin + offset, seen(passed, f"at {offset}"))
    log.add("api", When.AFTER, "crash", origin + 0.5, seen(True))

    during, after = log.samples()

    assert (during.name, during.when, during.step) == ("api", When.DURING, None)
    assert during.offsets == [0.1, 0.2, 0.3, 0.4]
    assert during.passed == "1101"
    assert during.notes == {0: "at 0.1", 2: "at 0.3", 3: "at 0.4"}
    assert (after.when, after.step, after.passed) == (When.AFTER, "crash", "1")


def test_a_long_series_is_capped_but_keeps_each_edge_of_every_outage() -> None:
    log = SampleLog(START)
    origin = START.timestamp()
    count = 3 * MAX_SAMPLES
    down = range(4000, 4010)  # a short outage, somewhere in the middle
    for index in range(count):
        log.add("api", When.DURING, None, origin + index * 0.1, seen(index not in down))

    [samples] = log.samples()

    assert len(samples.offsets) == len(samples.passed) == MAX_SAMPLES
    assert samples.dropped == count - MAX_SAMPLES
    assert samples.passed.count("0") >= 2  # its first and its last observation
    first = samples.passed.index("0")
    last = samples.passed.rindex("0")
    assert samples.offsets[first] == 400.0 and samples.offsets[last] == 400.9
    assert samples.offsets[first - 1] == 399.9 and samples.offsets[last + 1] == 401.0
    assert samples.offsets[0] == 0.0 and samples.offsets[-1] == round((count - 1) * 0.1, 3)

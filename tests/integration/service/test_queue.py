"""``serve --max-concurrent-runs``: the reconcile core's bound, as the file front end shows it (a
run beyond it waits, Pending, saying so in its file, and starts once a slot is free)."""

from __future__ import annotations

from datetime import datetime

from tests.integration.service.conftest import StartService, pause_spec, quick_spec, until
from tests.integration.service.test_files import finished


def test_a_run_beyond_the_bound_waits_its_turn(start_service: StartService) -> None:
    service = start_service("--max-concurrent-runs", "1")
    first = service.write("first", pause_spec("2s"))
    until(lambda: service.status(first).get("phase") == "Running", within=30, what="first running")

    second = service.write("second", quick_spec())
    waiting = until(
        lambda: service.status(second).get("phase") == "Pending" and service.status(second),
        within=15,
        what="the second run waiting in line",
    )

    assert waiting["message"] == "queued: 0 ahead"
    [reconciling] = [c for c in waiting["conditions"] if c["type"] == "Reconciling"]
    assert (reconciling["status"], reconciling["reason"]) == ("True", "Queued")
    one, two = finished(service, first), finished(service, second)
    assert (one["phase"], two["phase"]) == ("Succeeded", "Succeeded"), (one, two)
    ended = datetime.fromisoformat(one["finishedAt"])
    assert datetime.fromisoformat(two["startedAt"]) >= ended  # not before the first let go
    assert "run " in service.output() and "of second started" in service.output()
    assert "queued" in service.output()

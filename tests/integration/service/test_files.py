"""The watched directory as people and tools change it: saved, touched, edited by an editor that
renames, moved, checked out by git, deleted; each run exactly once, none lost."""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.integration.service.conftest import (
    StartService,
    pause_spec,
    quick_spec,
    until,
)
from tests.integration.stacks import process_state, started_pids


def dashboard(service: object) -> str:
    url = service.url + "/"  # type: ignore[attr-defined]
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def finished(service: object, path: Path, *, runs: int = 1, within: float = 30) -> dict:
    def done() -> dict | None:
        status = service.status(path)  # type: ignore[attr-defined]
        history = status.get("history", [])
        ended = [h for h in history if h.get("phase") not in ("Running", None)]
        return status if len(ended) >= runs and status.get("phase") != "Running" else None

    return until(done, within=within, what=f"{runs} finished run(s) of {path.name}")


def test_a_saved_file_runs_once_and_only_a_spec_change_reruns(start_service: StartService) -> None:
    service = start_service()
    path = service.write("crash", quick_spec())

    status = finished(service, path)
    assert (status["phase"], status["verdict"]) == ("Succeeded", "Pass"), status["message"]
    assert status["observedGeneration"] == 1
    assert path.read_text().startswith("# kept\n")  # the file's own lines are kept
    first = status["runId"]

    # Touched, a comment edited, metadata changed, the status rewritten: the spec is the same.
    path.touch()
    path.write_text("# edited comment\n" + path.read_text().removeprefix("# kept\n"))
    text = path.read_text().replace("name: crash", "name: crash\n  labels: {team: risk}", 1)
    path.write_text(text)
    service.request("GET", "/api/v1/health")
    until(lambda: "team" in str(service.request("GET", "/api/v1/scenarios/crash")[1]), within=5,
          what="the metadata change seen")  # fmt: skip
    assert service.status(path)["runId"] == first
    assert len(service.status(path)["history"]) == 1

    path.write_text(path.read_text().replace("timeout: 30s", "timeout: 40s"))
    status = finished(service, path, runs=2)
    assert status["observedGeneration"] == 2
    assert status["runId"] != first
    assert [h["verdict"] for h in status["history"]] == ["Pass", "Pass"]
    _, listed = service.request("GET", "/api/v1/scenarios/crash")
    assert listed["generation"] == 2

    # Both runs recorded in the history, and the dashboard on the same port shows them.
    page = until(
        lambda: (lambda text: "crash" in text and "of 2<" in text and text)(dashboard(service)),
        within=10,
        what="the dashboard listing the scenario's two runs",
    )
    assert "100%" in page
    with urllib.request.urlopen(service.url + "/metrics", timeout=10) as response:  # type: ignore[attr-defined]
        metrics = response.read().decode()
    assert 'test_coordinator_runs_total{phase="Succeeded",verdict="Pass"} 2.0' in metrics


def test_an_editors_save_and_a_rename_keep_the_run(start_service: StartService) -> None:
    service = start_service()
    path = service.write("freeze", pause_spec("30s"))
    running = until(
        lambda: service.status(path).get("faults") and service.status(path),
        within=20,
        what="the pause applied",
    )
    run_id = running["runId"]
    [pid] = started_pids(service.pid_dir)
    assert process_state(pid) == "T"

    # vim's save without backupcopy: the file renamed away, a new one written, the old removed.
    backup = path.with_name(path.name + "~")
    os.rename(path, backup)
    path.write_text(backup.read_text().replace("# kept", "# saved by an editor"))
    backup.unlink()
    # git mv: another file name, the same scenario.
    moved = path.with_name("renamed.yaml")
    os.rename(path, moved)
    _, listed = until(
        lambda: (lambda r: r[1].get("file") == "renamed.yaml" and r)(
            service.request("GET", "/api/v1/scenarios/freeze")
        ),
        within=10,
        what="the rename seen",
    )
    assert listed["status"]["runId"] == run_id and listed["status"]["phase"] == "Running"
    assert process_state(pid) == "T"  # still frozen: neither a delete nor a rerun

    code, answer = service.request("POST", "/api/v1/scenarios/freeze/abort")
    assert (code, answer["aborted"]) == (200, [run_id])
    status = finished(service, moved)
    assert status["phase"] == "Aborted" and "requested through the API" in status["message"]
    assert status["faults"][0]["revertedAt"]
    assert [h["runId"] for h in status["history"]] == [run_id]


def test_deleting_the_file_aborts_its_run_and_undoes_the_fault(
    start_service: StartService,
) -> None:
    service = start_service()
    path = service.write("freeze", pause_spec("30s"))
    until(lambda: service.status(path).get("faults"), within=20, what="the pause applied")
    [pid] = started_pids(service.pid_dir)

    path.unlink()

    until(lambda: "FaultReverted" in service.output(), within=10, what="the pause undone")
    assert "freeze Deleted: the scenario file was deleted" in service.output()
    until(lambda: process_state(pid) is None, within=10, what="the run's stack stopped")
    code, _ = service.request("GET", "/api/v1/scenarios/freeze")
    assert code == 404


def test_the_abort_annotation_aborts_and_is_removed_from_the_file(
    start_service: StartService,
) -> None:
    service = start_service()
    path = service.write("freeze", pause_spec("30s"))
    until(lambda: service.status(path).get("faults"), within=20, what="the pause applied")

    text = path.read_text()
    assert "annotations: {" in text
    path.write_text(
        text.replace("annotations: {", "annotations: {chaos.tse.dev/abort: 'true', ", 1)
    )

    status = finished(service, path)
    assert "chaos.tse.dev/abort=true" in status["message"]
    until(
        lambda: "chaos.tse.dev/abort:" not in path.read_text().split("status:")[0],
        within=5,
        what="the annotation removed",
    )
    assert path.read_text().startswith("# kept\n")
    assert status["observedGeneration"] == 1  # the annotation is not the spec: no rerun


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_checkouts_run_each_spec_once(start_service: StartService) -> None:
    service = start_service()
    repo = service.scenarios

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=repo, check=True, capture_output=True,
        )  # fmt: skip

    git("init", "-q", "-b", "main")
    (repo / ".gitignore").write_text("")
    path = service.write("crash", quick_spec())
    git("add", "crash.yaml")
    git("commit", "-qm", "one")
    status = finished(service, path)
    git("checkout", "-q", "--", "crash.yaml")  # the written-back status undone, as git would
    git("checkout", "-qb", "other")
    path.write_text(path.read_text().replace("timeout: 30s", "timeout: 45s"))
    git("commit", "-qam", "two")
    status = finished(service, path, runs=2)
    assert status["observedGeneration"] == 2

    git("checkout", "-q", "-f", "main")  # back to the first spec: a change, so a run
    status = finished(service, path, runs=3)

    assert status["observedGeneration"] == 3
    assert len({h["runId"] for h in status["history"]}) == 3
    git("checkout", "-q", "-f", "main")  # the same spec again: nothing
    _, listed = service.request("GET", "/api/v1/scenarios/crash")
    assert listed["generation"] == 3


def test_a_schedule_reruns_and_history_keeps_its_limit(start_service: StartService) -> None:
    service = start_service()
    # Six fields, seconds last: a tick every 2 s. Forbid (the default) skips a tick mid-run.
    path = service.write("nightly", quick_spec(schedule="* * * * * */2", historyLimit=2))

    status = until(
        lambda: (lambda s: len({h["runId"] for h in s.get("history", [])}) >= 2 and s)(
            service.status(path)
        ),
        within=20,
        what="two scheduled runs",
    )
    first_two = [h["runId"] for h in status["history"]]
    later = until(
        lambda: (lambda s: s["history"][0]["runId"] not in first_two[:1] and s)(
            service.status(path)
        ),
        within=20,
        what="a third run pushing the first out",
    )

    assert len(later["history"]) == 2  # historyLimit
    assert later["observedGeneration"] == 1  # the schedule ran it, not a spec change

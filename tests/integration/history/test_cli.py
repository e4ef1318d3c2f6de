"""The history as a user meets it: `demo` and `run` record, `history` lists, `report --run`
renders; real processes on real files, and a history that is down costs the run nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.documents import scenario_document
from tests.integration.stacks import tiny

CLI = [sys.executable, "-m", "test_coordinator.cli"]


def cli(*args: str | Path, cwd: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env={**os.environ, **environ},
    )


@pytest.fixture
def crash(tmp_path: Path, pid_dir: Path) -> Path:
    """A scenario that crashes a tiny service, which comes back in 1.5 s."""
    (tmp_path / "stack.yaml").write_text(json.dumps({"services": {"api": tiny("api", pid_dir)}}))
    back = {"name": "api back", "tcp": {"target": "api", "port": "tcp"}, "within": "10s"}
    spec = {
        "targets": {"api": {"selector": {"app": "api"}}},
        "steps": [{"name": "crash api", "fault": {"kill": {"target": "api"}}, "after": [back]}],
    }
    path = tmp_path / "crash.yaml"
    document = scenario_document(
        "crash", spec, annotations={"chaos.tse.dev/local-stack": "stack.yaml"}
    )
    path.write_text(json.dumps(document))
    return path


def test_two_demo_runs_are_listed_with_their_recovery(tmp_path: Path) -> None:
    state = tmp_path / "state"
    for _ in range(2):
        demo = cli("demo", cwd=tmp_path, XDG_STATE_HOME=str(state))
        assert demo.returncode == 0, demo.stdout + demo.stderr
    database = state / "test-coordinator" / "history.db"
    assert f"history: sqlite:///{database} (test-coordinator history)" in demo.stdout

    listed = cli("history", cwd=tmp_path, XDG_STATE_HOME=str(state))
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == [
        "RUN", "SCENARIO", "STARTED", "AGE", "PLATFORM", "VERDICT", "RECOVERY", "DURATION",
    ]  # fmt: skip
    assert len(rows) == 2
    for row in rows:
        assert row.split()[1] == "risk-monitor-crash" and " local " in row and " Pass " in row

    as_json = cli(
        "history", "risk-monitor-crash", "--json", cwd=tmp_path, XDG_STATE_HOME=str(state)
    )
    document = json.loads(as_json.stdout)
    recoveries = [run["recoverySeconds"] for run in document["runs"]]
    assert len(recoveries) == 2 and all(r > 0 for r in recoveries)
    assert [f"{r:.2f}s" in listed.stdout for r in recoveries] == [True, True]
    trend = document["trend"]
    assert (trend["runs"], trend["passRate"], trend["flaky"]) == (2, 1.0, False)
    assert trend["recoveryMax"] == max(recoveries)
    starts = [run["startedAt"] for run in document["runs"]]
    assert starts == sorted(starts, reverse=True)


def test_run_records_and_report_renders_the_stored_run(tmp_path: Path, crash: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    run = cli("run", crash, "--history", url, "--json", "r.json", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    run_id = json.loads((tmp_path / "r.json").read_text())["status"]["runId"]

    shown = cli("history", "crash", "--history", url, cwd=tmp_path)
    assert "crash: 1 run (all kept)" in shown.stdout
    assert "pass rate     100% (1 of 1 judged passed)" in shown.stdout
    assert run_id in shown.stdout

    report = cli("report", "--run", run_id[:6], "--history", url, "--html", "r.html", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "r.html").read_text()
    assert "<svg" in page and "crash: Pass" in page and run_id in page
    assert "api back" in page and "kill api" in page  # its check's row and its fault's band

    missing = cli("report", "--run", "0000ffff", "--history", url, "--html", "x.html", cwd=tmp_path)
    assert missing.returncode == 2
    assert f"no run '0000ffff' in {url}" in missing.stderr


def test_the_environment_variable_and_off(tmp_path: Path, crash: Path) -> None:
    database = tmp_path / "from-env.db"
    env = {"TEST_COORDINATOR_HISTORY": f"sqlite:///{database}", "XDG_STATE_HOME": str(tmp_path)}
    assert cli("run", crash, cwd=tmp_path, **env).returncode == 0
    assert cli("run", crash, "--history", "off", cwd=tmp_path, **env).returncode == 0
    listed = cli("history", "--json", cwd=tmp_path, **env)
    assert len(json.loads(listed.stdout)["runs"]) == 1
    assert not (tmp_path / "test-coordinator").exists()  # the default file was never made

    off = cli("history", cwd=tmp_path, TEST_COORDINATOR_HISTORY="off")
    assert off.returncode == 2 and "the history is off" in off.stderr


def test_a_history_that_is_down_changes_nothing_but_a_line(tmp_path: Path, crash: Path) -> None:
    url = f"postgresql://tc:secret@127.0.0.1:{free_port()}/history"
    run = cli("run", crash, "--history", url, "--json", "r.json", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "r.json").exists()
    [line] = [line for line in run.stderr.splitlines() if "history" in line]
    assert line.startswith("history not written: postgresql://tc:***@127.0.0.1:")
    assert "Connection refused" in line and "secret" not in run.stderr


def test_bad_history_options_are_refused_before_anything_runs(
    tmp_path: Path, crash: Path, pid_dir: Path
) -> None:
    for args, expected in (
        (["--history", "mysql://h/db"], "argument --history: expected sqlite:///PATH"),
        (["--history-retention", "ninety"], "argument --history-retention: expected an age"),
    ):
        result = cli("run", crash, *args, cwd=tmp_path)
        assert result.returncode == 2 and expected in result.stderr
    result = cli("run", crash, cwd=tmp_path, TEST_COORDINATOR_HISTORY="nowhere")
    assert result.returncode == 2
    assert "TEST_COORDINATOR_HISTORY: expected sqlite:///PATH" in result.stderr
    assert list(pid_dir.iterdir()) == []  # no service was started


def test_history_of_an_empty_or_missing_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    result = cli("history", "--history", url, cwd=tmp_path)
    assert result.returncode == 0 and f"no runs recorded in {url}" in result.stdout
    assert not (tmp_path / "none.db").exists()
    as_json = json.loads(cli("history", "x", "--history", url, "--json", cwd=tmp_path).stdout)
    assert as_json == {"history": url, "runs": [], "trend": None}

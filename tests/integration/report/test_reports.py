"""The reports of a real run, as a user gets them: JUnit for CI, an HTML page that a real browser
renders (headless Chromium, a screenshot kept as a test artifact), a Markdown summary, and the
``report`` command rendering a saved result again."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml

from tests.integration.stacks import tiny

CLI = [sys.executable, "-m", "test_coordinator.cli"]
CHROMIUM = shutil.which("chromium")
ARTIFACTS = Path(__file__).resolve().parents[3] / "reports" / "test-artifacts"

SCENARIO = {
    "apiVersion": "chaos.tse.dev/v1alpha1",
    "kind": "ChaosScenario",
    "metadata": {"name": "freeze-api", "annotations": {"chaos.tse.dev/local-stack": "stack.yaml"}},
    "spec": {
        "description": "Freeze the api for 1s; one check looks where nothing listens.",
        "targets": {"api": {"selector": {"app": "api"}}},
        "steadyState": [{"name": "api up", "tcp": {"target": "api", "port": "tcp"}}],
        "during": [
            {
                "name": "api answers",
                "http": {"target": "api", "port": "tcp", "maxLatency": "150ms"},
                "interval": "100ms",
                "timeout": "300ms",
                "minSuccessRate": 0.1,
            }
        ],
        "steps": [
            {
                "name": "freeze api",
                "fault": {"pause": {"target": "api"}},
                "duration": "1s",
                "after": [
                    {
                        "name": "api answers again",
                        "http": {"target": "api", "port": "tcp"},
                        "within": "3s",
                    },
                    {"name": "db <answers>", "tcp": {"address": "127.0.0.1:1"}, "within": "300ms"},
                ],
            }
        ],
    },
}


@dataclass(frozen=True)
class Run:
    directory: Path
    result: subprocess.CompletedProcess[str]

    def __getitem__(self, name: str) -> Path:
        return self.directory / name


def run_cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, timeout=120, check=False, cwd=cwd
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One real run with one failing check, and every report of it."""
    directory = tmp_path_factory.mktemp("reports")
    (directory / "pids").mkdir()
    stack = {"services": {"api": tiny("api", directory / "pids")}}
    (directory / "stack.yaml").write_text(json.dumps(stack))
    (directory / "freeze-api.yaml").write_text(json.dumps(SCENARIO))
    outputs = ["--json", "r.json", "--junit", "r.xml", "--html", "r.html", "--markdown", "r.md"]
    result = run_cli("run", "freeze-api.yaml", *outputs, cwd=directory)
    assert result.returncode == 1, result.stdout + result.stderr
    return Run(directory, result)


def test_junit_has_one_failure_for_the_one_failed_check(run: Run) -> None:
    xml = JUnitXml.fromfile(str(run["r.xml"]))
    [suite] = list(xml)
    cases = list(suite)
    failures = [
        (case, outcome)
        for case in cases
        for outcome in case.result
        if isinstance(outcome, Failure | Error)
    ]

    assert suite.name == "freeze-api"
    assert suite.tests == len(cases) == 5
    assert suite.failures == 1 and suite.errors == 0
    [(case, failure)] = failures
    assert isinstance(failure, Failure)
    assert case.name == "db <answers>"
    assert failure.message == "not passing within 300ms; last: connection refused"


def test_the_html_and_markdown_paths_are_printed(run: Run) -> None:
    assert f"HTML report: {run['r.html']}" in run.result.stdout
    assert f"Markdown summary: {run['r.md']}" in run.result.stdout


def test_the_markdown_summary_names_the_failed_check(run: Run) -> None:
    markdown = run["r.md"].read_text()

    assert "| freeze-api | **Fail** |" in markdown
    failed_row = (
        "| db &lt;answers> | after (freeze api) | **FAIL** | "
        "not passing within 300ms; last: connection refused |"
    )
    assert markdown.index(failed_row) < markdown.index("<details>")


def test_report_renders_the_saved_result_as_the_run_did(run: Run) -> None:
    result = run_cli(
        "report", "r.json", "--html", "again.html", "--markdown", "again.md", cwd=run.directory
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert run["again.html"].read_text() == run["r.html"].read_text()
    assert run["again.md"].read_text() == run["r.md"].read_text()
    assert f"HTML report: {run['again.html']}" in result.stdout


@pytest.mark.parametrize(
    ("content", "options", "expected"),
    [
        ("{not json", ["--html", "x.html"], "bad.json: not JSON"),
        ('{"kind": "ChaosScenario"}', ["--html", "x.html"], "bad.json:"),
        ("{}", [], "report: nothing to write: give --html OUT, --markdown OUT or both"),
    ],
)
def test_report_refuses_what_is_not_a_result(
    tmp_path: Path, content: str, options: list[str], expected: str
) -> None:
    (tmp_path / "bad.json").write_text(content)

    result = run_cli("report", "bad.json", *options, cwd=tmp_path)

    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.html").exists()


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
    ]
    return subprocess.run(
        [CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=90, check=False
    )


def page_problems(stderr: str) -> list[str]:
    """What Chromium says went wrong with the page itself (not its own D-Bus or GPU noise)."""
    signs = ("CONSOLE", "Uncaught", "net::ERR_", "Failed to load")
    return [line for line in stderr.splitlines() if any(sign in line for sign in signs)]


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="chromium is not installed (CI installs it, and there its absence fails)",
)
def test_the_html_renders_in_headless_chromium(run: Run, tmp_path: Path) -> None:
    page = run["r.html"].as_uri()
    status = json.loads(run["r.json"].read_text())
    [during] = [
        s for s in json.loads(run["r.json"].read_text())["samples"] if s["when"] == "during"
    ]

    dom = chromium(tmp_path / "dom-profile", "--dump-dom", page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "report-timeline.png"
    screenshot.unlink(missing_ok=True)
    shot = chromium(
        tmp_path / "shot-profile", "--window-size=1100,1400", f"--screenshot={screenshot}", page
    )
    print(f"screenshot of the HTML report: {screenshot}")

    assert dom.returncode == 0, dom.stderr[-2000:]
    assert page_problems(dom.stderr) == []
    # The browser built the chart: one fault band, a row per check, a mark per observation.
    assert dom.stdout.count('class="fault"') == len(status["status"]["faults"]) == 1
    assert dom.stdout.count('class="label"') == len(status["status"]["checks"])
    assert dom.stdout.count('<rect class="fail"') >= during["passed"].count("0") >= 5
    assert "db &lt;answers&gt;" in dom.stdout
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert page_problems(shot.stderr) == []
    image = screenshot.read_bytes()
    assert image.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(image[16:20], "big"), int.from_bytes(image[20:24], "big")
    assert (width, height) == (1100, 1400)
    assert len(image) > 20_000  # a page of text and chart, not a blank one

"""Writing into the watched directory: the abort annotation taken out line by line, a status
never written over a file that changed meanwhile or into another scenario's file, nothing
written through a symlink or outside the directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_coordinator.errors import TestCoordinatorError
from test_coordinator.report import status_file
from test_coordinator.scenario.status import Phase, ScenarioStatus
from test_coordinator.service.files import (
    ScenarioDirectory,
    Signature,
    read_scenario_file,
    remove_abort_annotation,
    scan,
)

BLOCK = """\
# top comment
apiVersion: chaos.tse.dev/v1alpha1
kind: ChaosScenario
metadata:
  name: crash
  annotations:
    chaos.tse.dev/abort: "true"   # asked by someone
  labels:
    team: risk
spec:
  targets: {api: {selector: {app: api}}}
  steps:
    - {name: crash, fault: {kill: {target: api}}}
"""


def test_the_abort_annotation_goes_and_every_other_line_stays(tmp_path: Path) -> None:
    path = tmp_path / "crash.yaml"
    path.write_text(BLOCK)
    directory = ScenarioDirectory(tmp_path)

    remove_abort_annotation(directory, path)

    expected = BLOCK.replace(
        '  annotations:\n    chaos.tse.dev/abort: "true"   # asked by someone\n', ""
    )
    assert path.read_text() == expected
    read = read_scenario_file(path, Signature.of(os.lstat(path)))
    assert read.abort_requested is False and read.name == "crash"
    directory.close()


def test_a_status_goes_only_into_the_scenario_it_is_about(tmp_path: Path) -> None:
    path = tmp_path / "crash.yaml"
    path.write_text(BLOCK)
    status = ScenarioStatus(phase=Phase.RUNNING, message="step crash")

    written = status_file.write_status_block(path, status, expect=lambda doc: False)

    assert written is False and path.read_text() == BLOCK
    assert status_file.write_status_block(path, status, expect=lambda doc: True) is True
    assert path.read_text().startswith(BLOCK) and "message: step crash" in path.read_text()


def test_a_file_replaced_during_the_write_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "crash.yaml"
    path.write_text(BLOCK)
    replace = status_file._replace_atomically
    edits = iter(["# an editor saved this\n" + BLOCK])

    def editor_saves_first(target: Path, text: str, *, unchanged_since: os.stat_result) -> bool:
        edit = next(edits, None)
        if edit is not None:  # the user's save lands between our read and our rename
            (tmp_path / "swap").write_text(edit)
            os.replace(tmp_path / "swap", target)
        return replace(target, text, unchanged_since=unchanged_since)

    monkeypatch.setattr(status_file, "_replace_atomically", editor_saves_first)
    status_file.write_status_block(path, ScenarioStatus(phase=Phase.SUCCEEDED))

    text = path.read_text()
    assert text.startswith("# an editor saved this\n")  # the edit kept, not overwritten
    assert "phase: Succeeded" in text


def test_writes_stay_in_the_directory_and_never_follow_a_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("precious\n")
    watched = tmp_path / "watched"
    watched.mkdir()
    (watched / "link.yaml").symlink_to(outside)
    (watched / ".hidden.yaml").write_text(BLOCK)
    (watched / "notes.txt").write_text("x")
    directory = ScenarioDirectory(watched)

    with pytest.raises(TestCoordinatorError, match="not a regular file"):
        directory.write("link.yaml", "replaced\n")
    for bad in ("../escape.yaml", "a/b.yaml", ".."):
        with pytest.raises(TestCoordinatorError, match="not a file name"):
            directory.write(bad, "x")
    directory.write("new.yaml", BLOCK)

    assert outside.read_text() == "precious\n"
    assert not (tmp_path / "escape.yaml").exists()
    assert sorted(p.name for p in scan(watched)) == ["new.yaml"]  # no link, hidden or .txt
    assert [p.name for p in watched.iterdir() if p.name.endswith(".tmp")] == []
    directory.close()

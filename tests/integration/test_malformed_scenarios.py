"""Over a thousand malformed scenarios, derived from the bundled ones: each refused with exit 2,
naming the file and the field (or the file and line), quickly, never with a traceback."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_coordinator.cli import main

from tests.integration.malformed import STACKS, Case, malformed_cases

SEED = 20251126
SCRIPT = Path(sys.executable).with_name("test-coordinator")


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Case, Path]]:
    directory = tmp_path_factory.mktemp("malformed")
    for stack in STACKS:  # the stack files the scenarios name, beside them
        (directory / stack.name).write_bytes(stack.read_bytes())
    written = []
    for case in malformed_cases(SEED):
        path = directory / case.file_name
        path.parent.mkdir(exist_ok=True)  # "[/x]NAME" is NAME in a directory "["
        path.write_bytes(case.content)
        written.append((case, path))
    return written


def test_over_a_thousand_cases_of_every_kind(cases: list[tuple[Case, Path]]) -> None:
    kinds = {case.kind for case, _ in cases}

    assert len(cases) >= 1000
    assert kinds == {
        "wrong type", "unknown key", "dropped key", "bad duration", "out of range",
        "truncated", "encoding", "nesting", "aliases", "tags and keys", "documents",
    }  # fmt: skip


def test_each_is_refused_naming_file_and_field_without_a_traceback(
    cases: list[tuple[Case, Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    failures: list[str] = []
    slowest = 0.0
    for case, path in cases:
        began = time.perf_counter()
        try:
            code: int | str = main(["validate", str(path)])
        except Exception as error:  # a crash: counted with the others, not the end of the test
            code = f"{type(error).__name__}: {str(error)[:200]}"
        took = time.perf_counter() - began
        slowest = max(slowest, took)
        captured = capsys.readouterr()
        output = captured.out + captured.err
        problem = None
        if code != 2:
            problem = f"exit {code}" if isinstance(code, int) else f"raised {code}"
        elif "Traceback" in output:
            problem = "a traceback"
        elif not case.pattern(path).search(output):
            problem = f"no match for {case.expected!r}"
        elif took >= 2.0:  # a generous guard against pathological input, not a target
            problem = f"took {took:.1f}s"
        if problem:
            failures.append(f"{case.kind} {path.name}: {problem}\n    {output.strip()[:400]}")
    assert not failures, f"{len(failures)} of {len(cases)} cases:\n" + "\n".join(failures[:20])
    print(f"{len(cases)} malformed scenarios refused; slowest {slowest * 1000:.0f}ms")


def test_the_command_refuses_them_too_without_a_traceback(
    cases: list[tuple[Case, Path]],
) -> None:
    sample = random.Random(SEED).sample(cases, 150)
    result = subprocess.run(
        [str(SCRIPT), "validate", *(str(path) for _, path in sample)],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stderr == "", result.stderr
    lines = result.stdout.splitlines()
    invalid = [line for line in lines if line.startswith("invalid ")]
    assert len(invalid) == len(sample), result.stdout[-2000:]
    for case, path in sample:
        assert case.pattern(path).search(result.stdout), (case.kind, path.name)
